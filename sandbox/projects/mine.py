"""The caller's own lists across a portal: ``GET /portal/{p}/mytasks/``, ``/mybugs/`` and ``/logs/`` (my time logs).

Each reads every project of the portal the caller can see and keeps the caller's records; paging is ``index``/
``range`` as everywhere, and an empty page is a 204 with an empty body. The reference gives only the paths
(§9 "tasks of the caller across projects", §11 "My time logs"; mybugs is named by Zoho's Projects pages), so
what they filter on and add is chosen below, in one place.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sandbox.projects import fields
from sandbox.projects.bugs import STATUS_TYPES
from sandbox.projects.envelope import json, no_content, page_of, route
from sandbox.projects.render import ids
from sandbox.projects.scope import Caller, caller_in_portal
from sandbox.projects.tasks import TASK_STATUSES
from sandbox.projects.timelogs import grouped, log_filter
from sandbox.world import Bug, Project, Task

# ---- (inferred) everything below: the reference lists these endpoints without their parameters or shapes.
# "My" task = a task the caller owns; "my" bug = a bug assigned to the caller; "my" log = a log the caller owns.
# mytasks takes the project task list's documented filters (status, time, priority; owner is fixed);
# ``time`` is read against the task's due date (end_date) and the sandbox clock's day.
MY_TASK_TIMES = ("all", "overdue", "today", "tomorrow")
MY_TASK_PRIORITIES = ("all", "none", "low", "medium", "high")
# mybugs takes the project bug list's ``statustype``.
# My time logs take the project log list's required parameters but ``users_list`` (the caller is the user).
# Portal-level records name their project, as the time-log records already do.
PROJECT_KEY = "project"
# Order: oldest first by creation, ties by id, so paging never skips or repeats a record.


async def my_tasks(request: Request) -> Response:
    caller = caller_in_portal(request)
    wanted = _my_task_filter(request, caller)
    with caller.world.lock:
        found = [
            (project, task)
            for project in _visible_projects(caller)
            for task in caller.world.tasks.where("project_id", project.id)
            if caller.zuid in task.owner_ids and wanted(task)
        ]
        found.sort(key=lambda pair: (pair[1].created_ms, int(pair[1].id)))
        page = page_of(request, found)
        if not page:
            return no_content()
        return json({"tasks": [_with_project(caller.view.task(t), p) for p, t in page]})


def _my_task_filter(request: Request, caller: Caller) -> Callable[[Task], bool]:
    query = request.query_params
    status = fields.choice("status", query.get("status") or "all", TASK_STATUSES)
    time = fields.choice("time", query.get("time") or "all", MY_TASK_TIMES)
    priority = fields.choice("priority", query.get("priority") or "all", MY_TASK_PRIORITIES)
    today = caller.world.today()
    due_on = {"today": today, "tomorrow": today + dt.timedelta(days=1)}

    def in_time(task: Task) -> bool:
        if time == "all":
            return True
        if task.end_date is None:
            return False
        if time == "overdue":
            return not task.completed and task.end_date < today
        return task.end_date == due_on[time]

    def wanted(task: Task) -> bool:
        return (
            (status == "all" or task.completed == (status == "completed"))
            and (priority == "all" or task.priority.lower() == priority)
            and in_time(task)
        )

    return wanted


async def my_bugs(request: Request) -> Response:
    caller = caller_in_portal(request)
    status = fields.choice("statustype", request.query_params.get("statustype") or "all", STATUS_TYPES)

    def wanted(bug: Bug) -> bool:
        return bug.assignee_id == caller.zuid and (status == "all" or bug.closed == (status == "closed"))

    with caller.world.lock:
        found = [
            (project, bug)
            for project in _visible_projects(caller)
            for bug in caller.world.bugs.where("project_id", project.id)
            if wanted(bug)
        ]
        found.sort(key=lambda pair: (pair[1].created_ms, int(pair[1].id)))
        page = page_of(request, found)
        if not page:
            return no_content()
        return json({"bugs": [_with_project(caller.view.bug(b), p) for p, b in page]})


async def my_logs(request: Request) -> Response:
    caller = caller_in_portal(request)
    component, wanted = log_filter(request, None, owner=caller.zuid)
    with caller.world.lock:
        logs = [
            log
            for project in _visible_projects(caller)
            for log in caller.world.timelogs.where("project_id", project.id)
            if wanted(log)
        ]
        return grouped(request, caller, component, logs)


def _visible_projects(caller: Caller) -> list[Project]:
    return [p for p in caller.world.projects.values() if p.portal_id == caller.portal_id and caller.sees(p)]


def _with_project(record: dict[str, Any], project: Project) -> dict[str, Any]:
    return {**record, PROJECT_KEY: {**ids(project.id), "name": project.name}}


routes = [
    *route("/portal/{portal}/mytasks/", my_tasks, ["GET"]),
    *route("/portal/{portal}/mybugs/", my_bugs, ["GET"]),
    *route("/portal/{portal}/logs/", my_logs, ["GET"]),
]
