"""World records in the classic Projects JSON shape (reference §6-12).

Ids go out twice (``id`` as a JSON number, ``id_string``), dates as the portal's ``MM-DD-YYYY`` plus ``*_long``
epoch millis at the portal's midnight. One ``PortalView`` renders everything a request inside a portal needs,
caching the per-request aggregates (task counts, client project counts) so list pages stay linear.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.projects.timesheet import LOG_FUTURE_TIME_ALLOWED
from sandbox.world import (
    Bug,
    ClientCompany,
    Milestone,
    Portal,
    PortalUser,
    Project,
    Task,
    Tasklist,
    TimeLog,
    World,
)

# The project-clients response's primary-client flag: the classic shape was never seen (reference §12,
# "inferred"), V3 marks it this way. Keep the name here only.
PRIMARY_CLIENT_FLAG = "is_primary"

DATE_FORMAT = "%m-%d-%Y"
DATETIME_FORMAT = "%m-%d-%Y %I:%M:%S %p"


def ids(record_id: str) -> dict[str, Any]:
    # 18-digit ids exceed 2**53: clients must use id_string, as Zoho's own docs warn.
    return {"id": int(record_id), "id_string": record_id}


def hours_display(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


class PortalView:
    def __init__(self, world: World, portal: Portal, base_url: str, caller_zuid: str) -> None:
        self.world = world
        self.portal = portal
        self.base = base_url.rstrip("/")
        self.caller_zuid = caller_zuid
        self.tz = ZoneInfo(portal.time_zone)

    # ----------------------------------------------------------------------------------- dates
    def day_long(self, day: dt.date) -> int:
        midnight = dt.datetime.combine(day, dt.time(), tzinfo=self.tz)
        return int(midnight.timestamp() * 1000)

    def dated(self, name: str, day: dt.date | None) -> dict[str, Any]:
        if day is None:
            return {}
        return {name: day.strftime(DATE_FORMAT), f"{name}_long": self.day_long(day)}

    def stamped(self, name: str, ms: int, *, with_format: bool = False) -> dict[str, Any]:
        moment = dt.datetime.fromtimestamp(ms / 1000, tz=self.tz)
        out: dict[str, Any] = {name: moment.strftime(DATE_FORMAT), f"{name}_long": ms}
        if with_format:
            out[f"{name}_format"] = moment.strftime(DATETIME_FORMAT)
        return out

    def url(self, path: str) -> dict[str, str]:
        return {"url": f"{self.base}/portal/{self.portal.id}/{path}"}

    # ----------------------------------------------------------------------------------- people
    @property
    def role(self) -> str:
        return self.portal.roles.get(self.caller_zuid, "")

    def user_record(self, zuid: str) -> PortalUser | None:
        return self.world.portal_users.get((self.portal.id, zuid))

    def name_of(self, zuid: str | None) -> str:
        user = self.user_record(zuid) if zuid else None
        if user is not None:
            return user.name
        person = self.world.people.get(zuid or "")
        return person.name if person else ""

    def user(self, user: PortalUser) -> dict[str, Any]:
        return {
            "id": user.id,
            "zpuid": user.zpuid,
            "name": user.name,
            "email": user.email,
            "role": user.role,
            "active": user.active,
        }

    # ----------------------------------------------------------------------------------- projects
    def project(self, project: Project) -> dict[str, Any]:
        path = f"projects/{project.id}/"

        def count(records: Sequence[Any], closed: Callable[[Any], bool]) -> dict[str, int]:
            done = sum(1 for r in records if closed(r))
            return {"open": len(records) - done, "closed": done}

        return {
            **ids(project.id),
            "name": project.name,
            "description": project.description,
            "key": project.key,
            "status": project.status,
            "owner_id": project.owner_id,
            "owner_name": self.name_of(project.owner_id),
            "role": self.role,
            **self.stamped("created_date", project.created_ms, with_format=True),
            **self.stamped("updated_date", project.updated_ms),
            **self.dated("start_date", project.start_date),
            **self.dated("end_date", project.end_date),
            "is_strict": "no",
            "project_percent": "0",
            "is_public": "no",
            "budget_value": "0",
            "currency_code": project.currency_code,
            "project_rate": f"{project.rate:.2f}" if project.rate else "",
            "IS_BUG_ENABLED": True,
            "taskbug_prefix": project.key,
            "task_count": count(self.world.tasks.where("project_id", project.id), lambda t: t.completed),
            "milestone_count": count(
                self.world.milestones.where("project_id", project.id), lambda m: m.status == "completed"
            ),
            "bug_count": count(self.world.bugs.where("project_id", project.id), lambda b: b.closed),
            "group_name": "Ungrouped Projects",
            "custom_fields": [],
            "link": {
                "self": self.url(path),
                "task": self.url(path + "tasks/"),
                "tasklist": self.url(path + "tasklists/"),
                "milestone": self.url(path + "milestones/"),
                "bug": self.url(path + "bugs/"),
                "timesheet": self.url(path + "logs/"),
                "user": self.url(path + "users/"),
            },
        }

    # ----------------------------------------------------------------------------------- clients
    @cached_property
    def _client_project_counts(self) -> Counter[str]:
        return Counter(cid for p in self.world.projects.values() for cid in p.client_ids)

    def client(self, client: ClientCompany, project: Project | None = None) -> dict[str, Any]:
        out = {
            **ids(client.id),
            "name": client.name,
            "email": client.email,
            "currency_code": client.currency_code,
            "projects_count": self._client_project_counts[client.id],
            **self.stamped("created_time", client.created_ms),
            **self.stamped("last_modified_time", client.modified_ms),
        }
        if project is not None:
            out[PRIMARY_CLIENT_FLAG] = project.primary_client_id == client.id
        return out

    # ----------------------------------------------------------------------------------- plans
    def milestone(self, milestone: Milestone) -> dict[str, Any]:
        path = f"projects/{milestone.project_id}/milestones/{milestone.id}/"
        return {
            **ids(milestone.id),
            "name": milestone.name,
            "owner_id": milestone.owner_id,
            "owner_name": self.name_of(milestone.owner_id),
            "flag": milestone.flag,
            "status": milestone.status,
            **self.dated("start_date", milestone.start_date),
            **self.dated("end_date", milestone.end_date),
            "link": {"self": self.url(path), "status": self.url(path + "status/")},
        }

    def tasklist(self, tasklist: Tasklist) -> dict[str, Any]:
        path = f"projects/{tasklist.project_id}/tasklists/{tasklist.id}/"
        out = {
            **ids(tasklist.id),
            "name": tasklist.name,
            "completed": tasklist.completed,
            "flag": tasklist.flag,
            **self.stamped("created_time", tasklist.created_ms),
            "rolled": False,
            "sequence": 1,
            "view_type": "all",
            "link": {"self": self.url(path), "task": self.url(path + "tasks/")},
        }
        milestone = self.world.milestones.get(tasklist.milestone_id or "")
        if milestone is not None:
            out["milestone"] = self.milestone(milestone)
        return out

    def task(self, task: Task) -> dict[str, Any]:
        path = f"projects/{task.project_id}/tasks/{task.id}/"
        tasklist = self.world.tasklists.get(task.tasklist_id)
        owners = [self._owner(zuid) for zuid in task.owner_ids] or [{"name": "Unassigned"}]  # (inferred)
        out = {
            **ids(task.id),
            "key": task.key,
            "name": task.name,
            "completed": task.completed,
            "created_by": task.created_by,
            "created_person": self.name_of(task.created_by),
            "priority": task.priority,
            "percent_complete": 100 if task.completed else 0,
            **self.dated("start_date", task.start_date),
            **self.dated("end_date", task.end_date),
            **self.stamped("created_time", task.created_ms),
            **self.stamped("last_updated_time", task.last_updated_ms),
            "status": {
                "name": "Closed" if task.completed else "Open",
                "type": "closed" if task.completed else "open",
            },
            "billingtype": task.billingtype,
            "description": task.description,
            "details": {"owners": owners},
            "tasklist": {"id": task.tasklist_id, "name": tasklist.name if tasklist else ""},
            "subtasks": False,
            "depth": 0,
            "custom_fields": [],
            "link": {"self": self.url(path), "timesheet": self.url(path + "logs/")},
        }
        if tasklist is not None and tasklist.milestone_id:
            out["milestone_id"] = tasklist.milestone_id
        return out

    def _owner(self, zuid: str) -> dict[str, Any]:
        user = self.user_record(zuid)
        if user is None:
            return {"id": zuid, "name": self.name_of(zuid)}
        return {"id": user.id, "name": user.name, "email": user.email, "zpuid": user.zpuid}

    def bug(self, bug: Bug) -> dict[str, Any]:
        path = f"projects/{bug.project_id}/bugs/{bug.id}/"
        out = {
            **ids(bug.id),
            "key": bug.key,
            "title": bug.title,
            "description": bug.description,
            "reporter_id": bug.reporter_id,
            "reported_person": self.name_of(bug.reporter_id),
            "assignee_name": self.name_of(bug.assignee_id) if bug.assignee_id else "Unassigned",
            **self.stamped("created_time", bug.created_ms, with_format=True),
            **self.stamped("last_updated_time", bug.last_updated_ms),
            "closed": bug.closed,
            "flag": "Internal",
            "status": {"type": "Closed" if bug.closed else "Open"},
            "severity": {"type": bug.severity},
            "project": {"id": bug.project_id},
            "customfields": [],
            "link": {"self": self.url(path), "timesheet": self.url(path + "logs/")},
        }
        if bug.assignee_id:
            out["assignee_id"] = bug.assignee_id
        milestone = self.world.milestones.get(bug.milestone_id or "")
        if milestone is not None:
            out["milestone"] = {"id": milestone.id, "name": milestone.name}
        return out

    # ----------------------------------------------------------------------------------- time logs
    def timelog(self, log: TimeLog) -> dict[str, Any]:
        project = self.world.projects[log.project_id]
        out: dict[str, Any] = {
            **ids(log.id),
            "log_date": log.log_date.strftime(DATE_FORMAT),
            "log_date_long": self.day_long(log.log_date),
            "log_date_format": log.log_date.strftime(DATE_FORMAT),
            "hours": log.minutes // 60,
            "minutes": log.minutes % 60,
            "hours_display": hours_display(log.minutes),
            "total_minutes": log.minutes,
            "bill_status": log.bill_status,
            "approval_status": log.approval_status,
            "approver_name": self.name_of(log.approver_id) if log.approver_id else None,
            "notes": log.notes,
            "owner_id": log.owner_id,
            "owner_name": self.name_of(log.owner_id),
            "created_time_long": log.created_ms,
            "created_time_format": self._moment(log.created_ms),
            "last_modified_time_long": log.modified_ms,
            "start_time": "",
            "end_time": "",
            "project": {**ids(project.id), "name": project.name},
            "custom_fields": [],
        }
        out.update(self._log_subject(log))
        return out

    def _log_subject(self, log: TimeLog) -> dict[str, Any]:
        base = f"projects/{log.project_id}/"
        if log.component == "task":
            task = self.world.tasks[log.task_id or ""]
            tasklist = self.world.tasklists.get(task.tasklist_id)
            return {
                "task": {**ids(task.id), "name": task.name, "is_sub_task": False},
                "task_list": {
                    "id": int(task.tasklist_id),
                    "id_string": task.tasklist_id,
                    "name": tasklist.name if tasklist else "",
                },
                "link": {"self": self.url(f"{base}tasks/{task.id}/logs/{log.id}/")},
            }
        if log.component == "bug":
            bug = self.world.bugs[log.bug_id or ""]
            return {
                "bug": {**ids(bug.id), "title": bug.title},
                "link": {"self": self.url(f"{base}bugs/{bug.id}/logs/{log.id}/")},
            }
        return {"name": log.name, "link": {"self": self.url(f"{base}logs/{log.id}/")}}

    def _moment(self, ms: int) -> str:
        return dt.datetime.fromtimestamp(ms / 1000, tz=self.tz).strftime(DATETIME_FORMAT)

    # ----------------------------------------------------------------------------------- portals
    def portal_summary(self, *, default: bool) -> dict[str, Any]:
        portal = self.portal
        active = sum(1 for p in self.world.projects.values() if p.portal_id == portal.id and p.status == "active")
        return {
            **ids(portal.id),
            "name": portal.name,
            "role": self.role,
            "default": default,
            "plan": "Enterprise",
            "trial_enabled": False,
            "project_count": {"active": active},
            "bug_plural": "Issues",
            "bug_singular": "Issue",
            "gmt_time_zone": f"(GMT 0:0) {portal.time_zone}",
            "settings": {
                "company_name": portal.company_name,
                "time_zone": portal.time_zone,
                "date_format": "MM-dd-yyyy",
                "timelog_period": {
                    "log_future_time": {"allowed": LOG_FUTURE_TIME_ALLOWED},
                    "log_past_time": {"allowed": True},
                },
            },
            "locale": {"country": "United States", "code": "en_US", "language": "English"},
            "link": {"project": self.url("projects/")},
        }
