"""Writing time logs: add, update, delete and approve task, bug and general logs (form-encoded POST)."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from sandbox.projects import fields, timesheet
from sandbox.projects.envelope import json, not_found, params_of, route
from sandbox.projects.render import DATE_FORMAT
from sandbox.projects.scope import Caller, caller_in_portal
from sandbox.projects.timelogs import GROUP_KEYS
from sandbox.world import Project, TimeLog

# Body parameter of ``.../logs/{log_id}/approval`` and its values: not in the reference (inferred).
APPROVAL_PARAM = "approval_status"
DELETED_MESSAGE = "Timesheet log Deleted Successfully."


def _subject(request: Request, caller: Caller) -> tuple[Project, str, dict[str, str]]:
    """The project, component and subject ids that the URL addresses."""
    project = caller.project(request.path_params["project"])
    if "task" in request.path_params:
        return project, "task", {"task_id": caller.task(project, request.path_params["task"]).id}
    if "bug" in request.path_params:
        return project, "bug", {"bug_id": caller.bug(project, request.path_params["bug"]).id}
    return project, "general", {}


def _addressed_log(request: Request, caller: Caller) -> TimeLog:
    project, component, subject = _subject(request, caller)
    log = caller.timelog(project, request.path_params["log"])
    if log.component != component or (log.task_id or log.bug_id) != next(iter(subject.values()), None):
        raise not_found("Time log")
    return log


def _owner(params: Mapping[str, str], caller: Caller) -> str:
    owner = params.get("owner") or caller.zuid
    if owner != caller.zuid:
        caller.require_manager("log time for other users")
    return owner


def _logged(caller: Caller, log: TimeLog, status: int = 200) -> Response:
    return json({"timelogs": {GROUP_KEYS[log.component]: [caller.view.timelog(log)]}}, status=status)


def _emit(request: Request, caller: Caller, event: str, log: TimeLog) -> None:
    payload = {
        "portal_id": caller.portal_id,
        "project_id": log.project_id,
        "log_id": log.id,
        "component_type": log.component,
        # the log's date as Zoho's webhook placeholders give it: the product reads that month for this event
        "log_date": log.log_date.strftime(DATE_FORMAT),
    }
    request.app.state.emit(event, payload)


async def add_log(request: Request) -> Response:
    caller = caller_in_portal(request)
    params = await params_of(request)
    with caller.world.lock:
        project, component, subject = _subject(request, caller)
    log = timesheet.add_log(
        caller.world,
        project,
        component,
        _owner(params, caller),
        fields.mdy("date", fields.required(params, "date")),
        fields.hours("hours", fields.required(params, "hours")),
        fields.required(params, "bill_status"),
        name=fields.required(params, "name") if component == "general" else "",
        notes=params.get("notes", ""),
        **subject,
    )
    _emit(request, caller, "timelog.created", log)
    with caller.world.lock:
        return _logged(caller, log, status=201)


async def update_log(request: Request) -> Response:
    caller = caller_in_portal(request)
    params = await params_of(request)
    with caller.world.lock:
        log = _addressed_log(request, caller)
    if log.owner_id != caller.zuid:
        caller.require_manager("edit other users' time logs")
    timesheet.edit_log(
        caller.world,
        log,
        log_date=fields.optional_mdy(params, "date"),
        minutes=fields.hours("hours", params["hours"]) if params.get("hours") else None,
        bill_status=params.get("bill_status"),
        notes=params.get("notes"),
        name=params.get("name"),
    )
    _emit(request, caller, "timelog.updated", log)
    with caller.world.lock:
        return _logged(caller, log)


async def delete_log(request: Request) -> Response:
    caller = caller_in_portal(request)
    with caller.world.lock:
        log = _addressed_log(request, caller)
    if log.owner_id != caller.zuid:
        caller.require_manager("delete other users' time logs")
    timesheet.delete_log(caller.world, log)
    _emit(request, caller, "timelog.deleted", log)
    return json({"response": DELETED_MESSAGE})


async def approve_log(request: Request) -> Response:
    caller = caller_in_portal(request)
    params = await params_of(request)
    with caller.world.lock:
        log = _addressed_log(request, caller)
    caller.require_manager("approve time logs")
    status = fields.choice(APPROVAL_PARAM, fields.required(params, APPROVAL_PARAM), timesheet.APPROVAL_STATUSES)
    timesheet.set_approval(caller.world, log, status, caller.zuid)
    _emit(request, caller, f"timelog.{status.lower()}", log)
    with caller.world.lock:
        return _logged(caller, log)


def _log_routes(prefix: str) -> list:
    return [
        *route(f"{prefix}/logs/", add_log, ["POST"]),
        *route(f"{prefix}/logs/{{log}}/", update_log, ["POST"]),
        *route(f"{prefix}/logs/{{log}}/", delete_log, ["DELETE"]),
        *route(f"{prefix}/logs/{{log}}/approval", approve_log, ["POST"]),
    ]


_PROJECT = "/portal/{portal}/projects/{project}"
routes = [
    *_log_routes(f"{_PROJECT}/tasks/{{task}}"),
    *_log_routes(f"{_PROJECT}/bugs/{{bug}}"),
    *_log_routes(_PROJECT),
]
