"""Projects-side acts for ``POST /_sandbox/act``: what a person does in the Projects UI.

Params are in storage form (ids as strings, ``date`` as ISO ``YYYY-MM-DD``, durations as ``minutes``) and go
through the same rules as the API routes (``changes``, ``timesheet``), so an act cannot create data the API
would refuse. Bad params raise ValueError (ProjectsError is one).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sandbox.acts import act
from sandbox.projects import changes, timesheet
from sandbox.projects.fields import hours
from sandbox.world import World


def _required(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    if value is None or str(value).strip() == "":
        raise ValueError(f"act parameter {name!r} is required")
    return str(value)


def _date(params: dict[str, Any], name: str) -> dt.date | None:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(raw))
    except ValueError:
        raise ValueError(f"act parameter {name!r} must be an ISO date YYYY-MM-DD, got {raw!r}") from None


def _minutes(params: dict[str, Any]) -> int | None:
    if params.get("minutes") not in (None, ""):
        try:
            return int(params["minutes"])
        except (TypeError, ValueError):
            raise ValueError(f"act parameter 'minutes' must be an integer, got {params['minutes']!r}") from None
    if params.get("hours") not in (None, ""):
        return hours("hours", str(params["hours"]))
    return None


@act("log_time")
def log_time(world: World, params: dict[str, Any]) -> dict[str, Any]:
    project = changes.project_by_id(world, _required(params, "project_id"))
    task_id, bug_id = params.get("task_id"), params.get("bug_id")
    component = params.get("component") or ("task" if task_id else "bug" if bug_id else "general")
    minutes = _minutes(params)
    if minutes is None:
        raise ValueError("act parameter 'minutes' (or 'hours' hh:mm) is required")
    log = timesheet.add_log(
        world,
        project,
        component,
        str(params.get("owner_id") or project.owner_id),
        _date(params, "date") or world.today(),
        minutes,
        params.get("bill_status", "Billable"),
        task_id=str(task_id) if task_id else None,
        bug_id=str(bug_id) if bug_id else None,
        name=str(params.get("name", "")),
        notes=str(params.get("notes", "")),
    )
    return {"log_id": log.id, "project_id": project.id, "component": log.component}


def _decide(world: World, params: dict[str, Any], status: str) -> dict[str, Any]:
    log = timesheet.log_by_id(world, _required(params, "log_id"))
    portal = world.portals[world.projects[log.project_id].portal_id]
    timesheet.set_approval(world, log, status, str(params.get("approver_id") or portal.owner_zuid))
    return {"log_id": log.id, "approval_status": log.approval_status}


@act("approve_log")
def approve_log(world: World, params: dict[str, Any]) -> dict[str, Any]:
    return _decide(world, params, "Approved")


@act("reject_log")
def reject_log(world: World, params: dict[str, Any]) -> dict[str, Any]:
    return _decide(world, params, "Rejected")


@act("edit_log")
def edit_log(world: World, params: dict[str, Any]) -> dict[str, Any]:
    log = timesheet.log_by_id(world, _required(params, "log_id"))
    timesheet.edit_log(
        world,
        log,
        log_date=_date(params, "date"),
        minutes=_minutes(params),
        bill_status=params.get("bill_status"),
        notes=params.get("notes"),
        name=params.get("name"),
    )
    return {"log_id": log.id}


@act("delete_log")
def delete_log(world: World, params: dict[str, Any]) -> dict[str, Any]:
    log = timesheet.log_by_id(world, _required(params, "log_id"))
    timesheet.delete_log(world, log)
    return {"log_id": log.id, "deleted": True}


@act("complete_task")
def complete_task(world: World, params: dict[str, Any]) -> dict[str, Any]:
    task = changes.task_by_id(world, _required(params, "task_id"))
    changes.update_task(world, task, completed=bool(params.get("completed", True)))
    return {"task_id": task.id, "completed": task.completed}


@act("rename_task")
def rename_task(world: World, params: dict[str, Any]) -> dict[str, Any]:
    task = changes.task_by_id(world, _required(params, "task_id"))
    changes.update_task(world, task, name=_required(params, "name"))
    return {"task_id": task.id, "name": task.name}


@act("create_task")
def create_task(world: World, params: dict[str, Any]) -> dict[str, Any]:
    project = changes.project_by_id(world, _required(params, "project_id"))
    task = changes.create_task(
        world,
        project,
        _required(params, "name"),
        str(params.get("created_by") or project.owner_id),
        tasklist_id=params.get("tasklist_id"),
        owner_ids=[str(z) for z in params.get("owner_ids", [])],
        billingtype=params.get("billingtype", "Billable"),
    )
    return {"task_id": task.id, "project_id": project.id, "tasklist_id": task.tasklist_id}


@act("delete_task")
def delete_task(world: World, params: dict[str, Any]) -> dict[str, Any]:
    task = changes.task_by_id(world, _required(params, "task_id"))
    changes.delete_task(world, task)
    return {"task_id": task.id, "deleted": True}


@act("delete_project")
def delete_project(world: World, params: dict[str, Any]) -> dict[str, Any]:
    project = changes.project_by_id(world, _required(params, "project_id"))
    changes.delete_project(world, project)
    return {"project_id": project.id, "deleted": True}


@act("rename_client")
def rename_client(world: World, params: dict[str, Any]) -> dict[str, Any]:
    client = changes.client_by_id(world, _required(params, "client_id"))
    changes.rename_client(world, client, _required(params, "name"))
    return {"client_id": client.id, "name": client.name}


@act("change_client_currency")
def change_client_currency(world: World, params: dict[str, Any]) -> dict[str, Any]:
    client = changes.client_by_id(world, _required(params, "client_id"))
    changes.change_client_currency(world, client, _required(params, "currency_code"))
    return {"client_id": client.id, "currency_code": client.currency_code}


@act("set_primary_client")
def set_primary_client(world: World, params: dict[str, Any]) -> dict[str, Any]:
    """Fix "no primary client": the given client, else the project's first associated client."""
    project = changes.project_by_id(world, _required(params, "project_id"))
    client_id = params.get("client_id") or next(iter(project.client_ids), None)
    if client_id is None:
        raise ValueError(f"project {project.id} has no client company; pass 'client_id'")
    changes.set_primary_client(world, project, str(client_id))
    return {"project_id": project.id, "primary_client_id": project.primary_client_id}


@act("add_project")
def add_project(world: World, params: dict[str, Any]) -> dict[str, Any]:
    portal_id = str(params.get("portal_id") or next(iter(world.portals), ""))
    portal = world.portals.get(portal_id)
    if portal is None:
        raise ValueError(f"unknown portal {portal_id!r}")
    owner_id = str(params.get("owner_id") or portal.owner_zuid)
    client_id = params.get("client_id")
    project = changes.create_project(
        world,
        portal.id,
        _required(params, "name"),
        owner_id,
        description=str(params.get("description", "")),
        client_ids=[str(client_id)] if client_id else [],
        primary_client_id=str(client_id) if client_id else None,
        start_date=_date(params, "start_date"),
        end_date=_date(params, "end_date"),
    )
    return {"project_id": project.id, "portal_id": portal.id}
