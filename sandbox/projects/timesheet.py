"""Time-log rules shared by the API routes and the acts: adding, editing, deleting, approving, and the
day/week/month window the classic list endpoint reads.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Literal

from sandbox.projects.envelope import forbidden, invalid_param, missing_param, not_found
from sandbox.world import Project, TimeLog, World

Component = Literal["task", "bug", "general"]
COMPONENTS = ("task", "bug", "general")
BILL_STATUSES = ("Billable", "Non Billable")
APPROVAL_STATUSES = ("Approved", "Pending", "Rejected")
VIEW_TYPES = ("day", "week", "month")

# Portal setting shown in GET /portals/ (settings.timelog_period.log_future_time.allowed = false).
LOG_FUTURE_TIME_ALLOWED = False
# Zoho refuses more than a day's worth in one entry (inferred: 24:00 is the UI's ceiling).
MAX_MINUTES_PER_LOG = 24 * 60
# Which weekday starts a ``view_type=week`` window: Sunday, the first of the portal's working_days (inferred).
WEEK_STARTS_ON = 6  # datetime.weekday(): Monday=0 … Sunday=6


def log_window(view_type: str, anchor: dt.date) -> tuple[dt.date, dt.date]:
    """First and last day (inclusive) of the day/week/month view around ``anchor``."""
    if view_type == "day":
        return anchor, anchor
    if view_type == "week":
        start = anchor - dt.timedelta(days=(anchor.weekday() - WEEK_STARTS_ON) % 7)
        return start, start + dt.timedelta(days=6)
    last = calendar.monthrange(anchor.year, anchor.month)[1]
    return anchor.replace(day=1), anchor.replace(day=last)


def log_by_id(world: World, log_id: str) -> TimeLog:
    log = world.timelogs.get(str(log_id))
    if log is None:
        raise not_found(f"Time log {log_id}")
    return log


def add_log(
    world: World,
    project: Project,
    component: Component,
    owner_id: str,
    log_date: dt.date,
    minutes: int,
    bill_status: str,
    *,
    task_id: str | None = None,
    bug_id: str | None = None,
    name: str = "",
    notes: str = "",
) -> TimeLog:
    if component not in COMPONENTS:
        raise invalid_param("component_type", component, " | ".join(COMPONENTS))
    with world.lock:
        _check_subject(world, project, component, task_id, bug_id, name)
        _check_owner(world, project, owner_id)
        _check_entry(world, log_date, minutes, bill_status)
        now = world.now_ms()
        log = TimeLog(
            id=world.projects_id(),
            project_id=project.id,
            component=component,
            owner_id=owner_id,
            log_date=log_date,
            minutes=minutes,
            bill_status=bill_status,
            approval_status="Pending",
            task_id=task_id if component == "task" else None,
            bug_id=bug_id if component == "bug" else None,
            name=name.strip() if component == "general" else "",
            notes=notes,
            created_ms=now,
            modified_ms=now,
        )
        world.timelogs[log.id] = log
        return log


def edit_log(
    world: World,
    log: TimeLog,
    *,
    log_date: dt.date | None = None,
    minutes: int | None = None,
    bill_status: str | None = None,
    notes: str | None = None,
    name: str | None = None,
) -> TimeLog:
    with world.lock:
        _check_entry(
            world,
            log_date if log_date is not None else log.log_date,
            minutes if minutes is not None else log.minutes,
            bill_status if bill_status is not None else log.bill_status,
        )
        if name is not None and log.component == "general":
            if not name.strip():
                raise missing_param("name")
            log.name = name.strip()
        if log_date is not None:
            log.log_date = log_date
        if minutes is not None:
            log.minutes = minutes
        if bill_status is not None:
            log.bill_status = bill_status
        if notes is not None:
            log.notes = notes
        log.modified_ms = world.now_ms()
        return log


def delete_log(world: World, log: TimeLog) -> None:
    with world.lock:
        world.timelogs.pop(log.id, None)


def set_approval(world: World, log: TimeLog, status: str, approver_id: str) -> TimeLog:
    if status not in APPROVAL_STATUSES:
        raise invalid_param("approval_status", status, " | ".join(APPROVAL_STATUSES))
    with world.lock:
        log.approval_status = status
        log.approver_id = None if status == "Pending" else approver_id
        log.modified_ms = world.now_ms()
        return log


# --------------------------------------------------------------------------------------------- checks
def _check_subject(
    world: World, project: Project, component: str, task_id: str | None, bug_id: str | None, name: str
) -> None:
    if component == "task":
        task = world.tasks.get(str(task_id or ""))
        if task is None or task.project_id != project.id:
            raise not_found("Task")
    elif component == "bug":
        bug = world.bugs.get(str(bug_id or ""))
        if bug is None or bug.project_id != project.id:
            raise not_found("Bug")
    elif not name.strip():
        raise missing_param("name")  # a general log is identified by its name


def _check_owner(world: World, project: Project, owner_id: str) -> None:
    user = world.portal_users.get((project.portal_id, owner_id))
    if user is None or not user.active:
        raise invalid_param("owner", owner_id, "an active user of the portal")
    if owner_id not in project.user_ids:
        raise forbidden(f"User {owner_id} is not a member of project {project.name!r}.")


def _check_entry(world: World, log_date: dt.date, minutes: int, bill_status: str) -> None:
    if bill_status not in BILL_STATUSES:
        raise invalid_param("bill_status", bill_status, " | ".join(BILL_STATUSES))
    if not 0 < minutes <= MAX_MINUTES_PER_LOG:
        raise invalid_param("hours", minutes, f"between 00:01 and {MAX_MINUTES_PER_LOG // 60}:00")
    if not LOG_FUTURE_TIME_ALLOWED and log_date > world.today():
        raise invalid_param("date", log_date.strftime("%m-%d-%Y"), "today or a past date")
