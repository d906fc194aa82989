"""Task lists, milestones and tasks of a project (list, one, create, update)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response

from sandbox.projects import changes, fields
from sandbox.projects.envelope import invalid_param, json, no_content, page_of, params_of, route
from sandbox.projects.scope import Caller, caller_in_portal
from sandbox.world import Task

TASK_STATUSES = ("all", "completed", "notcompleted")
FLAGS = ("internal", "external")
MILESTONE_STATUSES = ("completed", "notcompleted")
# The docs list ``flag`` as a tasklists parameter; that it is mandatory is inferred.
TASKLIST_FLAG_REQUIRED = True
# Modified-since filter on the task list, in epoch millis (not in the official param list: inferred).
TASKS_MODIFIED_SINCE_PARAM = "last_modified_time"
# Classic task update marks completion through the percentage (inferred; V3 uses a status object).
TASK_COMPLETION_PARAM = "percent_complete"
TASK_OWNERS_PARAM = "person_responsible"
# (inferred) the body of a task delete, shaped like the documented time-log delete's
TASK_DELETED_MESSAGE = "Task Deleted Successfully."


async def list_tasklists(request: Request) -> Response:
    caller = caller_in_portal(request)
    query = request.query_params
    flag = query.get("flag", "")
    if flag or TASKLIST_FLAG_REQUIRED:
        fields.choice("flag", fields.required(query, "flag"), FLAGS)
    with caller.world.lock:
        project = caller.project(request.path_params["project"])
        found = [t for t in caller.world.tasklists.where("project_id", project.id) if not flag or t.flag == flag]
        page = page_of(request, found)
        if not page:
            return no_content()
        return json({"tasklists": [caller.view.tasklist(t) for t in page]})


async def list_milestones(request: Request) -> Response:
    caller = caller_in_portal(request)
    query = request.query_params
    status = fields.choice("status", query["status"], MILESTONE_STATUSES) if query.get("status") else None
    flag = fields.choice("flag", query["flag"], FLAGS) if query.get("flag") else None
    with caller.world.lock:
        project = caller.project(request.path_params["project"])
        found = [
            m
            for m in caller.world.milestones.where("project_id", project.id)
            if status in (None, m.status) and flag in (None, m.flag)
        ]
        page = page_of(request, found)
        if not page:
            return no_content()
        return json({"milestones": [caller.view.milestone(m) for m in page]})


async def list_tasks(request: Request) -> Response:
    caller = caller_in_portal(request)
    wanted = _task_filter(request)
    with caller.world.lock:
        project = caller.project(request.path_params["project"])
        found = [t for t in caller.world.tasks.where("project_id", project.id) if wanted(t)]
        page = page_of(request, found)
        if not page:
            return no_content()
        return json({"tasks": [caller.view.task(t) for t in page]})


def _task_filter(request: Request) -> Callable[[Task], bool]:
    query = request.query_params
    status = fields.choice("status", query.get("status") or "all", TASK_STATUSES)
    owner = query.get("owner") or "all"
    tasklist_id = request.path_params.get("tasklist") or query.get("tasklist_id")
    raw_since = query.get(TASKS_MODIFIED_SINCE_PARAM)
    since = fields.long_value(TASKS_MODIFIED_SINCE_PARAM, raw_since) if raw_since else None

    def wanted(task: Task) -> bool:
        return (
            (status == "all" or task.completed == (status == "completed"))
            and (owner == "all" or owner in task.owner_ids)
            and (not tasklist_id or task.tasklist_id == tasklist_id)
            and (since is None or task.last_updated_ms > since)
        )

    return wanted


async def get_task(request: Request) -> Response:
    caller = caller_in_portal(request)
    with caller.world.lock:
        project = caller.project(request.path_params["project"])
        task = caller.task(project, request.path_params["task"])
        return json({"tasks": [caller.view.task(task)]})


async def create_task(request: Request) -> Response:
    caller = caller_in_portal(request)
    params = await params_of(request)
    with caller.world.lock:
        project = caller.project(request.path_params["project"])
    task = changes.create_task(
        caller.world,
        project,
        fields.required(params, "name"),
        caller.zuid,
        tasklist_id=params.get("tasklist_id") or None,
        owner_ids=_owners(params) or [],
        billingtype=params.get("billingtype", "Billable"),
        start_date=fields.optional_mdy(params, "start_date"),
        end_date=fields.optional_mdy(params, "end_date"),
        priority=params.get("priority", "None"),
        description=params.get("description", ""),
    )
    _emit(request, caller, "task.created", task)
    with caller.world.lock:
        return json({"tasks": [caller.view.task(task)]}, status=201)


async def update_task(request: Request) -> Response:
    caller = caller_in_portal(request)
    params = await params_of(request)
    with caller.world.lock:
        project = caller.project(request.path_params["project"])
        task = caller.task(project, request.path_params["task"])
    percent = params.get(TASK_COMPLETION_PARAM)
    if percent is not None and not percent.isdigit():
        raise invalid_param(TASK_COMPLETION_PARAM, percent, "a percentage 0-100")
    changes.update_task(
        caller.world,
        task,
        name=params.get("name"),
        completed=None if percent is None else int(percent) >= 100,
        owner_ids=_owners(params),
        billingtype=params.get("billingtype"),
        start_date=fields.optional_mdy(params, "start_date"),
        end_date=fields.optional_mdy(params, "end_date"),
        priority=params.get("priority"),
        description=params.get("description"),
    )
    _emit(request, caller, "task.updated", task)
    with caller.world.lock:
        return json({"tasks": [caller.view.task(task)]})


async def delete_task(request: Request) -> Response:
    caller = caller_in_portal(request)
    with caller.world.lock:
        project = caller.project(request.path_params["project"])
        task = caller.task(project, request.path_params["task"])
    caller.require_manager("delete tasks")
    changes.delete_task(caller.world, task)
    _emit(request, caller, "task.deleted", task)
    return json({"response": TASK_DELETED_MESSAGE})


def _owners(params: Mapping[str, str]) -> list[str] | None:
    raw = params.get(TASK_OWNERS_PARAM)
    return None if raw is None else fields.id_list(TASK_OWNERS_PARAM, raw)


def _emit(request: Request, caller: Caller, event: str, task: Task) -> None:
    payload = {"portal_id": caller.portal_id, "project_id": task.project_id, "task_id": task.id}
    request.app.state.emit(event, payload)


_PROJECT = "/portal/{portal}/projects/{project}"
routes = [
    *route(f"{_PROJECT}/tasklists/", list_tasklists, ["GET"]),
    *route(f"{_PROJECT}/tasklists/{{tasklist}}/tasks/", list_tasks, ["GET"]),
    *route(f"{_PROJECT}/milestones/", list_milestones, ["GET"]),
    *route(f"{_PROJECT}/tasks/", list_tasks, ["GET"]),
    *route(f"{_PROJECT}/tasks/", create_task, ["POST"]),
    *route(f"{_PROJECT}/tasks/{{task}}/", get_task, ["GET"]),
    *route(f"{_PROJECT}/tasks/{{task}}/", update_task, ["POST"]),
    *route(f"{_PROJECT}/tasks/{{task}}/", delete_task, ["DELETE"]),
]
