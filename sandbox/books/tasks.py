"""``/projects/{project_id}/tasks``: a project's tasks (time entries are logged against one)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.responses import Response

from sandbox.books import records, rules
from sandbox.books.dispatch import BooksCall, endpoint
from sandbox.books.envelope import bad_request, does_not_exist, invalid_value, required, success
from sandbox.books.formats import parse_bool, parse_number
from sandbox.books.hours import Tally, tally_by
from sandbox.books.listing import ListSpec, page_of
from sandbox.world import BooksProject, BooksTask, TimeEntry, World

LIST = ListSpec(
    report_name="Tasks",
    sort_keys={"task_name": lambda t: t.task_name, "created_time": lambda t: t.created_time},
    default_sort="created_time",
    default_order="D",
)


def render(world: World, task: BooksTask) -> dict[str, Any]:
    return {
        "project_id": task.project_id,
        "project_name": records.project_name(world, task.project_id),
        "task_id": task.task_id,
        "task_name": task.task_name,
        "description": task.description,
        "rate": task.rate,
        "budget_hours": task.budget_hours,
        "status": task.status,
        "is_billable": task.is_billable,
    }


def render_row(world: World, project: BooksProject, task: BooksTask, tally: Tally) -> dict[str, Any]:
    hours = tally.fields()
    return {
        "project_id": project.project_id,
        "task_id": task.task_id,
        **records.currency_fields(world, project.organization_id, project.currency_id),
        "customer_id": project.customer_id,
        "task_name": task.task_name,
        "project_name": project.project_name,
        "customer_name": records.contact_name(world, project.customer_id),
        "description": task.description,
        "rate": task.rate,
        "billed_hours": hours["billed_hours"],
        "log_time": hours["total_hours"],
        "un_billed_hours": hours["un_billed_hours"],
    }


def render_in_project(world: World, project_id: str, entries: Iterable[TimeEntry]) -> list[dict[str, Any]]:
    """The ``tasks`` array inside a project record."""
    tallies = tally_by(world, entries, lambda e: e.task_id)
    tasks = sorted(world.books_tasks.where("project_id", project_id), key=lambda t: t.task_id)
    return [
        {
            "task_id": t.task_id,
            "task_name": t.task_name,
            "description": t.description,
            "rate": t.rate,
            "budget_hours": t.budget_hours,
            **{k: v for k, v in tallies.get(t.task_id, Tally()).fields().items() if k != "billable_hours"},
            "status": t.status,
            "is_billable": t.is_billable,
            "task_custom_fields": "",
        }
        for t in tasks
    ]


def _apply(task: BooksTask, body: dict[str, Any]) -> None:
    if "task_name" in body:
        name = str(body["task_name"] or "").strip()
        if not name or len(name) > 100:
            raise invalid_value("task_name")
        task.task_name = name
    if "description" in body:
        task.description = str(body["description"] or "")
    if body.get("rate") not in (None, ""):
        task.rate = parse_number(body["rate"], "rate")
    if body.get("budget_hours") not in (None, ""):
        task.budget_hours = str(body["budget_hours"])
    if "is_billable" in body:
        task.is_billable = parse_bool(body["is_billable"], "is_billable")


def create_task(world: World, project: BooksProject, body: dict[str, Any]) -> BooksTask:
    if not str(body.get("task_name") or "").strip():
        raise required("task_name")
    task = BooksTask(world.books_id(), project.organization_id, project.project_id, "", created_time=world.now_ms())
    _apply(task, body)
    world.books_tasks[task.task_id] = task
    return task


def _project(call: BooksCall) -> BooksProject:
    return records.find(call.world.books_projects, call.path["project_id"], call.org_id, "Project")


def _task(call: BooksCall, project: BooksProject) -> BooksTask:
    task = call.world.books_tasks.get(call.path["task_id"])
    if task is None or task.project_id != project.project_id:
        raise does_not_exist("Task")
    return task


def list_tasks(call: BooksCall) -> Response:
    project = _project(call)
    world = call.world
    tasks = world.books_tasks.where("project_id", project.project_id)
    page, context = page_of(call.query, tasks, LIST, lambda t: t.task_id)
    entries = world.time_entries.where("project_id", project.project_id)
    tallies = tally_by(world, entries, lambda e: e.task_id)
    rows = [render_row(world, project, t, tallies.get(t.task_id, Tally())) for t in page]
    return success(tasks=rows, page_context=context)


def get_task(call: BooksCall) -> Response:
    return success(task=render(call.world, _task(call, _project(call))))


def post_task(call: BooksCall) -> Response:
    project = _project(call)
    task = create_task(call.world, project, call.body)
    call.emit("task.created", {"organization_id": call.org_id, "task": render(call.world, task)})
    # the message is the official document's own (sic)
    return success("The project information has been updated.", status=201, task=render(call.world, task))


def put_task(call: BooksCall) -> Response:
    task = _task(call, _project(call))
    _apply(task, call.body)
    call.emit("task.updated", {"organization_id": call.org_id, "task": render(call.world, task)})
    return success("The task information has been updated.", task=render(call.world, task))


def delete_task(call: BooksCall) -> Response:
    task = _task(call, _project(call))
    if call.world.time_entries.count_where("task_id", task.task_id):
        raise bad_request(rules.CODE_NOT_ALLOWED_IN_STATE, "The task cannot be deleted as time has been logged on it.")
    del call.world.books_tasks[task.task_id]
    call.emit("task.deleted", {"organization_id": call.org_id, "task_id": task.task_id})
    return success("The task has been deleted successfully.")


routes = [
    endpoint("/projects/{project_id}/tasks", get=list_tasks, post=post_task),
    endpoint("/projects/{project_id}/tasks/{task_id}", get=get_task, put=put_task, delete=delete_task),
]
