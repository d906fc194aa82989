"""Changes to projects, tasks and client companies, shared by the API routes and the ``/_sandbox/act`` acts.

Each change takes storage-form values, validates them as Zoho would, mutates under ``world.lock`` and bumps
the record's own modified timestamp (the one the product filters on). Bad input raises ProjectsError,
which is a ValueError, so acts get the admin route's 400 for free.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from sandbox.projects.envelope import invalid_param, not_found
from sandbox.world import ClientCompany, Portal, Project, Task, Tasklist, World

BILLING_TYPES = ("Billable", "Non Billable")
PROJECT_STATUSES = ("active", "archived")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


# --------------------------------------------------------------------------------------------- lookups
def project_by_id(world: World, project_id: str) -> Project:
    project = world.projects.get(str(project_id))
    if project is None:
        raise not_found(f"Project {project_id}")
    return project


def task_by_id(world: World, task_id: str) -> Task:
    task = world.tasks.get(str(task_id))
    if task is None:
        raise not_found(f"Task {task_id}")
    return task


def client_by_id(world: World, client_id: str) -> ClientCompany:
    client = world.clients.get(str(client_id))
    if client is None:
        raise not_found(f"Client company {client_id}")
    return client


# --------------------------------------------------------------------------------------------- projects
def project_key(portal: Portal, number: int) -> str:
    """Zoho prefixes project keys with the portal's letters (e.g. "ZY1"); tasks then use "ZY1-T3"."""
    return f"{portal.name[:2].upper()}{number}"


def create_project(
    world: World,
    portal_id: str,
    name: str,
    owner_id: str,
    *,
    description: str = "",
    client_ids: Iterable[str] = (),
    primary_client_id: str | None = None,
    start_date: dt.date | None = None,
    end_date: dt.date | None = None,
    currency_code: str = "USD",
) -> Project:
    _require_name("name", name)
    with world.lock:
        if portal_id not in world.portals:
            raise not_found(f"Portal {portal_id}")
        clients = [_portal_client(world, portal_id, c) for c in client_ids]
        if primary_client_id is not None and primary_client_id not in clients:
            clients.append(_portal_client(world, portal_id, primary_client_id))
        now = world.now_ms()
        number = sum(1 for p in world.projects.values() if p.portal_id == portal_id) + 1
        portal = world.portals[portal_id]
        project = Project(
            id=world.projects_id(),
            portal_id=portal_id,
            name=name.strip(),
            key=project_key(portal, number),
            owner_id=owner_id,
            description=description,
            currency_code=currency_code,
            client_ids=clients,
            primary_client_id=primary_client_id,
            user_ids=[owner_id],
            start_date=start_date,
            end_date=end_date,
            created_ms=now,
            updated_ms=now,
        )
        world.projects[project.id] = project
        _add_tasklist(world, project, "General", now)
        return project


def update_project(
    world: World,
    project: Project,
    *,
    name: str | None = None,
    description: str | None = None,
    status: str | None = None,
    start_date: dt.date | None = None,
    end_date: dt.date | None = None,
) -> Project:
    with world.lock:
        if name is not None:
            _require_name("name", name)
            project.name = name.strip()
        if description is not None:
            project.description = description
        if status is not None:
            if status not in PROJECT_STATUSES:
                raise invalid_param("status", status, " | ".join(PROJECT_STATUSES))
            project.status = status
        if start_date is not None:
            project.start_date = start_date
        if end_date is not None:
            project.end_date = end_date
        project.updated_ms = world.now_ms()
        return project


def delete_project(world: World, project: Project) -> None:
    """The project and everything under it: milestones, task lists, tasks, bugs and time logs."""
    with world.lock:
        for table in (world.timelogs, world.tasks, world.bugs, world.tasklists, world.milestones):
            for record in table.where("project_id", project.id):
                del table[record.id]
        del world.projects[project.id]


def set_primary_client(world: World, project: Project, client_id: str) -> Project:
    with world.lock:
        client = client_by_id(world, client_id)
        if client.portal_id != project.portal_id:
            raise invalid_param("client_id", client_id, "a client company of the project's portal")
        if client.id not in project.client_ids:
            project.client_ids.append(client.id)
        project.primary_client_id = client.id
        project.updated_ms = world.now_ms()
        return project


# --------------------------------------------------------------------------------------------- tasks
def create_task(
    world: World,
    project: Project,
    name: str,
    created_by: str,
    *,
    tasklist_id: str | None = None,
    owner_ids: Iterable[str] = (),
    billingtype: str = "Billable",
    start_date: dt.date | None = None,
    end_date: dt.date | None = None,
    priority: str = "None",
    description: str = "",
) -> Task:
    _require_name("name", name)
    if billingtype not in BILLING_TYPES:
        raise invalid_param("billingtype", billingtype, " | ".join(BILLING_TYPES))
    with world.lock:
        owners = _project_users(world, project, owner_ids)
        now = world.now_ms()
        tasklist = _tasklist_for(world, project, tasklist_id, now)
        number = world.tasks.count_where("project_id", project.id) + 1
        task = Task(
            id=world.projects_id(),
            project_id=project.id,
            tasklist_id=tasklist.id,
            name=name.strip(),
            key=f"{project.key}-T{number}",
            owner_ids=owners,
            billingtype=billingtype,
            priority=priority,
            description=description,
            start_date=start_date,
            end_date=end_date,
            created_by=created_by,
            created_ms=now,
            last_updated_ms=now,
        )
        world.tasks[task.id] = task
        return task


def update_task(
    world: World,
    task: Task,
    *,
    name: str | None = None,
    completed: bool | None = None,
    owner_ids: Iterable[str] | None = None,
    billingtype: str | None = None,
    start_date: dt.date | None = None,
    end_date: dt.date | None = None,
    priority: str | None = None,
    description: str | None = None,
) -> Task:
    with world.lock:
        if name is not None:
            _require_name("name", name)
            task.name = name.strip()
        if completed is not None:
            task.completed = completed
        if owner_ids is not None:
            task.owner_ids = _project_users(world, world.projects[task.project_id], owner_ids)
        if billingtype is not None:
            if billingtype not in BILLING_TYPES:
                raise invalid_param("billingtype", billingtype, " | ".join(BILLING_TYPES))
            task.billingtype = billingtype
        if start_date is not None:
            task.start_date = start_date
        if end_date is not None:
            task.end_date = end_date
        if priority is not None:
            task.priority = priority
        if description is not None:
            task.description = description
        task.last_updated_ms = world.now_ms()
        return task


def delete_task(world: World, task: Task) -> None:
    """The task and its time logs."""
    with world.lock:
        for log in world.timelogs.where("task_id", task.id):
            del world.timelogs[log.id]
        del world.tasks[task.id]


# --------------------------------------------------------------------------------------------- clients
def create_client(
    world: World, portal_id: str, name: str, *, email: str = "", currency_code: str = "USD"
) -> ClientCompany:
    _require_name("name", name)
    _require_currency(currency_code)
    with world.lock:
        now = world.now_ms()
        client = ClientCompany(
            id=world.projects_id(),
            portal_id=portal_id,
            name=name.strip(),
            email=email,
            currency_code=currency_code,
            created_ms=now,
            modified_ms=now,
        )
        world.clients[client.id] = client
        return client


def rename_client(world: World, client: ClientCompany, name: str) -> ClientCompany:
    _require_name("name", name)
    with world.lock:
        client.name = name.strip()
        client.modified_ms = world.now_ms()
        return client


def change_client_currency(world: World, client: ClientCompany, currency_code: str) -> ClientCompany:
    _require_currency(currency_code)
    with world.lock:
        client.currency_code = currency_code
        client.modified_ms = world.now_ms()
        return client


# --------------------------------------------------------------------------------------------- internals
def _portal_client(world: World, portal_id: str, client_id: str) -> str:
    client = client_by_id(world, client_id)
    if client.portal_id != portal_id:
        raise invalid_param("client_id", client_id, "a client company of the portal")
    return client.id


def _require_name(field: str, value: str) -> None:
    if not value or not value.strip():
        raise invalid_param(field, value, "a non-empty name")


def _require_currency(code: str) -> None:
    if not _CURRENCY.match(code or ""):
        raise invalid_param("currency_code", code, "an ISO 4217 code such as USD")


def _project_users(world: World, project: Project, zuids: Iterable[str]) -> list[str]:
    owners = [str(z) for z in zuids]
    for zuid in owners:
        if zuid not in project.user_ids:
            raise invalid_param("person_responsible", zuid, "users of the project")
    return owners


def _tasklist_for(world: World, project: Project, tasklist_id: str | None, now: int) -> Tasklist:
    if tasklist_id:
        tasklist = world.tasklists.get(str(tasklist_id))
        if tasklist is None or tasklist.project_id != project.id:
            raise invalid_param("tasklist_id", tasklist_id, "a task list of the project")
        return tasklist
    existing = world.tasklists.where("project_id", project.id)
    return existing[0] if existing else _add_tasklist(world, project, "General", now)


def _add_tasklist(world: World, project: Project, name: str, now: int) -> Tasklist:
    tasklist = Tasklist(id=world.projects_id(), project_id=project.id, name=name, created_ms=now)
    world.tasklists[tasklist.id] = tasklist
    return tasklist
