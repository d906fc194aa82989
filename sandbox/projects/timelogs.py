"""Reading time logs: ``GET .../logs/`` with its five required parameters, grouped by date.

One call returns one component type (``tasklogs`` | ``buglogs`` | ``generallogs``); a window with no logs is
a 204 with an empty body. Paging (``index``/``range``) counts log records, before grouping.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import groupby

from starlette.requests import Request
from starlette.responses import Response

from sandbox.projects import fields
from sandbox.projects.envelope import json, no_content, page_of, route
from sandbox.projects.render import hours_display
from sandbox.projects.scope import Caller, caller_in_portal
from sandbox.projects.timesheet import BILL_STATUSES, COMPONENTS, VIEW_TYPES, log_window
from sandbox.world import TimeLog

GROUP_KEYS = {"task": "tasklogs", "bug": "buglogs", "general": "generallogs"}
BILL_FILTERS = ("All", *BILL_STATUSES)


def log_filter(
    request: Request, component: str | None, *, owner: str | None = None
) -> tuple[str, Callable[[TimeLog], bool]]:
    """Validate the required parameters; returns the component and a predicate on logs.

    With ``owner`` (the caller's own logs) ``users_list`` is not read: the owner is fixed.
    """
    query = request.query_params
    users: set[str] | None
    if owner is not None:
        users = {owner}
    else:
        users_raw = fields.required(query, "users_list")
        users = None if users_raw == "all" else set(fields.id_list("users_list", users_raw))
    view_type = fields.choice("view_type", fields.required(query, "view_type"), VIEW_TYPES)
    anchor = fields.mdy("date", fields.required(query, "date"))
    bill = fields.choice("bill_status", fields.required(query, "bill_status"), BILL_FILTERS)
    if component is None:
        component = fields.choice("component_type", fields.required(query, "component_type"), COMPONENTS)
    first, last = log_window(view_type, anchor)

    def wanted(log: TimeLog) -> bool:
        return (
            log.component == component
            and first <= log.log_date <= last
            and (users is None or log.owner_id in users)
            and (bill == "All" or log.bill_status == bill)
        )

    return component, wanted


def grouped(request: Request, caller: Caller, component: str, logs: list[TimeLog]) -> Response:
    logs.sort(key=lambda log: (log.log_date, log.created_ms, int(log.id)))
    page = page_of(request, logs)
    if not page:
        return no_content()
    key = GROUP_KEYS[component]
    days = []
    for day, group in groupby(page, key=lambda log: log.log_date):
        entries = list(group)
        days.append(
            {
                "date": day.strftime("%m-%d-%Y"),
                "display_format": day.strftime("%m-%d-%Y"),
                "date_long": caller.view.day_long(day),
                "total_hours": hours_display(sum(log.minutes for log in entries)),
                key: [caller.view.timelog(log) for log in entries],
            }
        )
    total = hours_display(sum(log.minutes for log in logs))
    return json({"timelogs": {"grandtotal": total, "role": caller.role, "date": days}})


async def project_logs(request: Request) -> Response:
    caller = caller_in_portal(request)
    component, wanted = log_filter(request, None)
    with caller.world.lock:
        project = caller.project(request.path_params["project"])
        logs = [log for log in caller.world.timelogs.where("project_id", project.id) if wanted(log)]
        return grouped(request, caller, component, logs)


async def task_logs(request: Request) -> Response:
    caller = caller_in_portal(request)
    _, wanted = log_filter(request, "task")
    with caller.world.lock:
        project = caller.project(request.path_params["project"])
        task = caller.task(project, request.path_params["task"])
        logs = [log for log in caller.world.timelogs.where("task_id", task.id) if wanted(log)]
        return grouped(request, caller, "task", logs)


async def bug_logs(request: Request) -> Response:
    caller = caller_in_portal(request)
    _, wanted = log_filter(request, "bug")
    with caller.world.lock:
        project = caller.project(request.path_params["project"])
        bug = caller.bug(project, request.path_params["bug"])
        logs = [log for log in caller.world.timelogs.where("bug_id", bug.id) if wanted(log)]
        return grouped(request, caller, "bug", logs)


_PROJECT = "/portal/{portal}/projects/{project}"
routes = [
    *route(f"{_PROJECT}/logs/", project_logs, ["GET"]),
    *route(f"{_PROJECT}/tasks/{{task}}/logs/", task_logs, ["GET"]),
    *route(f"{_PROJECT}/bugs/{{bug}}/logs/", bug_logs, ["GET"]),
]
