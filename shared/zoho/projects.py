"""``ProjectsClient``: the product's reads (and the few writes) against one Zoho Projects portal.

Wire details (paths, paging, encodings, error envelope) come from a ``ProjectsApi`` table (``projects_api.py``);
this module only says *what* to ask for and how to shape the answer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, Literal

from shared.zoho.errors import MalformedResponse, NotFound
from shared.zoho.http import ZohoHttp
from shared.zoho.paging import Page, iterate
from shared.zoho.projects_api import CLASSIC, LOG_GROUP_KEYS, ProjectsApi
from shared.zoho.projects_models import (
    Bug,
    ClientCompany,
    Component,
    Milestone,
    Portal,
    PortalUser,
    Project,
    Task,
    Tasklist,
    TimeLog,
    format_projects_date,
)

ViewType = Literal["day", "week", "month"]
# Param of the approval endpoint and its values: not in the reference's param tables (inferred).
APPROVAL_PARAM = "approval_status"
TASKLIST_FLAGS = ("internal", "external")


def user_limit_key(login_id: str) -> str:
    """Zoho counts Projects calls per user: the limiter key every client of that user shares."""
    return f"projects:user:{login_id}"


class ProjectsClient:
    def __init__(self, http: ZohoHttp, portal_id: str, *, api: ProjectsApi = CLASSIC) -> None:
        self.http = http
        self.portal_id = str(portal_id)
        self.api = api

    # ------------------------------------------------------------------------------------------ plumbing
    def _get(self, name: str, params: dict[str, Any] | None = None, **ids: str) -> Any:
        path, template = self.api.path(name, portal_id=self.portal_id, **ids)
        return self.http.request("GET", path, endpoint=template, params=params).body

    def _write(self, method: str, name: str, form: dict[str, Any], **ids: str) -> Any:
        path, template = self.api.path(name, portal_id=self.portal_id, **ids)
        if self.api.json_bodies:
            return self.http.request(method, path, endpoint=template, json=form).body
        return self.http.request(method, path, endpoint=template, data=form).body

    def _items(self, body: Any, key: str, name: str) -> list[dict[str, Any]]:
        if body is None:  # 204: no (more) records
            return []
        items = body.get(key) if isinstance(body, dict) else None
        if not isinstance(items, list):
            _, template = self.api.path(name, portal_id="{portal_id}", project_id="{project_id}")
            raise MalformedResponse(f"expected a {key!r} list", api="projects", endpoint=f"GET {template}")
        return items

    def _page(
        self, name: str, key: str, cursor: str | None, params: dict[str, Any] | None = None, **ids: str
    ) -> tuple[list[dict[str, Any]], str | None]:
        body = self._get(name, {**(params or {}), **self.api.page_params(cursor)}, **ids)
        items = self._items(body, key, name)
        return items, self.api.next_cursor(cursor, len(items))

    def _iterate(
        self, name: str, key: str, model: Any, params: dict[str, Any] | None = None, **ids: str
    ) -> Iterator[Any]:
        def fetch(cursor: str | None) -> Page[Any]:
            items, next_cursor = self._page(name, key, cursor, params, **ids)
            return Page([model.model_validate(item) for item in items], next_cursor)

        return iterate(fetch)

    # ------------------------------------------------------------------------------------------ portals
    def list_portals(self) -> list[Portal]:
        path, template = self.api.path("portals")
        body = self.http.request("GET", path, endpoint=template).body
        login_id = str(body.get("login_id") or "") if isinstance(body, dict) else ""
        if login_id:
            self.http.rekey(user_limit_key(login_id))
        return [
            Portal.model_validate({**p, "login_id": login_id} if isinstance(p, dict) else p)
            for p in self._items(body, "portals", "portals")
        ]

    # ------------------------------------------------------------------------------------------ projects
    def projects_page(
        self, cursor: str | None = None, *, modified_since_ms: int | None = None, status: str | None = None
    ) -> Page[Project]:
        params: dict[str, Any] = {}
        if modified_since_ms is not None:
            # "last_modified_time": epoch millis; returns projects modified after it (reference §7)
            params.update(last_modified_time=modified_since_ms, sort_column="last_modified_time")
        if status:
            params["status"] = status
        items, next_cursor = self._page("projects", "projects", cursor, params)
        return Page([Project.model_validate(p) for p in items], next_cursor)

    def iter_projects(self, **kw: Any) -> Iterator[Project]:
        return iterate(lambda cursor: self.projects_page(cursor, **kw))

    def get_project(self, project_id: str) -> Project:
        items = self._items(self._get("project", project_id=str(project_id)), "projects", "project")
        if not items:
            raise NotFound(f"project {project_id} not found", api="projects", endpoint="GET project")
        return Project.model_validate(items[0])

    def project_clients(self, project_id: str) -> list[ClientCompany]:
        return list(self._iterate("project_clients", "clients", ClientCompany, project_id=str(project_id)))

    def clients_page(self, cursor: str | None = None) -> Page[ClientCompany]:
        items, next_cursor = self._page("clients", "clients", cursor)
        return Page([ClientCompany.model_validate(c) for c in items], next_cursor)

    def iter_clients(self) -> Iterator[ClientCompany]:
        return iterate(self.clients_page)

    # ------------------------------------------------------------------------------------------ users
    def portal_users_page(self, cursor: str | None = None, user_type: str = "all") -> Page[PortalUser]:
        items, next_cursor = self._page("users", "users", cursor, {"user_type": user_type})
        return Page([PortalUser.model_validate(u) for u in items], next_cursor)

    def iter_portal_users(self, user_type: str = "all") -> Iterator[PortalUser]:
        return iterate(lambda cursor: self.portal_users_page(cursor, user_type))

    def iter_project_users(self, project_id: str, user_type: str = "all") -> Iterator[PortalUser]:
        return self._iterate("project_users", "users", PortalUser, {"user_type": user_type}, project_id=str(project_id))

    # ------------------------------------------------------------------------------------------ plans
    def iter_tasklists(self, project_id: str) -> Iterator[Tasklist]:
        # the list filters by flag (and may require it, reference §8): internal and external cover all
        for flag in TASKLIST_FLAGS:
            yield from self._iterate("tasklists", "tasklists", Tasklist, {"flag": flag}, project_id=str(project_id))

    def iter_milestones(self, project_id: str) -> Iterator[Milestone]:
        return self._iterate("milestones", "milestones", Milestone, project_id=str(project_id))

    def tasks_page(self, project_id: str, cursor: str | None = None) -> Page[Task]:
        items, next_cursor = self._page("tasks", "tasks", cursor, project_id=str(project_id))
        return Page([Task.model_validate(t) for t in items], next_cursor)

    def iter_tasks(self, project_id: str) -> Iterator[Task]:
        return iterate(lambda cursor: self.tasks_page(project_id, cursor))

    def bugs_page(self, project_id: str, cursor: str | None = None) -> Page[Bug]:
        items, next_cursor = self._page("bugs", "bugs", cursor, {"statustype": "all"}, project_id=str(project_id))
        return Page([Bug.model_validate(b) for b in items], next_cursor)

    def iter_bugs(self, project_id: str) -> Iterator[Bug]:
        return iterate(lambda cursor: self.bugs_page(project_id, cursor))

    # ------------------------------------------------------------------------------------------ time logs
    def timelogs_page(
        self,
        project_id: str,
        cursor: str | None = None,
        *,
        component: Component,
        view_type: ViewType,
        date: dt.date,
        bill_status: str = "All",
        users_list: str = "all",
    ) -> Page[TimeLog]:
        params = {
            "users_list": users_list,
            "view_type": view_type,
            "date": format_projects_date(date),
            "bill_status": bill_status,
            "component_type": component,
            **self.api.page_params(cursor),
        }
        body = self._get("logs", params, project_id=str(project_id))
        logs = [TimeLog.from_api(raw, component, str(project_id)) for raw in _log_records(body, component)]
        # index/range count log records, not date groups
        return Page(logs, self.api.next_cursor(cursor, len(logs)))

    def iter_timelogs(
        self,
        project_id: str,
        *,
        component: Component,
        view_type: ViewType,
        date: dt.date,
        bill_status: str = "All",
        users_list: str = "all",
    ) -> Iterator[TimeLog]:
        return iterate(
            lambda cursor: self.timelogs_page(
                project_id,
                cursor,
                component=component,
                view_type=view_type,
                date=date,
                bill_status=bill_status,
                users_list=users_list,
            )
        )

    def iter_timelogs_between(
        self, project_id: str, start: dt.date, end: dt.date, *, component: Component, bill_status: str = "All"
    ) -> Iterator[TimeLog]:
        """Logs dated ``start``..``end`` (inclusive): the list API is date-bound, so walk month views."""
        month = start.replace(day=1)
        while month <= end:
            for log in self.iter_timelogs(
                project_id, component=component, view_type="month", date=month, bill_status=bill_status
            ):
                if start <= log.log_date <= end:
                    yield log
            month = (month + dt.timedelta(days=32)).replace(day=1)

    def add_timelog(
        self,
        project_id: str,
        *,
        component: Component,
        date: dt.date,
        minutes: int,
        billable: bool = True,
        notes: str = "",
        owner_id: str | None = None,
        task_id: str | None = None,
        bug_id: str | None = None,
        name: str | None = None,
    ) -> TimeLog:
        form = _log_form(date, minutes, billable) | {"notes": notes}
        if owner_id:
            form["owner"] = owner_id
        if component == "general":
            form["name"] = name or ""
        endpoint, ids = _log_endpoint(component, "logs", task_id, bug_id)
        body = self._write("POST", endpoint, form, project_id=str(project_id), **ids)
        return _written_log(body, component, str(project_id))

    def update_timelog(
        self,
        project_id: str,
        log_id: str,
        *,
        component: Component,
        date: dt.date,
        minutes: int,
        billable: bool = True,
        notes: str | None = None,
        task_id: str | None = None,
        bug_id: str | None = None,
        name: str | None = None,
    ) -> TimeLog:
        form = _log_form(date, minutes, billable)
        if notes is not None:
            form["notes"] = notes
        if name is not None and component == "general":
            form["name"] = name
        endpoint, ids = _log_endpoint(component, "log", task_id, bug_id)
        body = self._write(self.api.write_verb, endpoint, form, project_id=str(project_id), log_id=str(log_id), **ids)
        return _written_log(body, component, str(project_id))

    def approve_timelog(
        self,
        project_id: str,
        log_id: str,
        *,
        component: Component = "task",
        task_id: str | None = None,
        bug_id: str | None = None,
        approve: bool = True,
    ) -> None:
        endpoint, ids = _log_endpoint(component, "log_approval", task_id, bug_id)
        form = {APPROVAL_PARAM: "Approved" if approve else "Rejected"}
        self._write("POST", endpoint, form, project_id=str(project_id), log_id=str(log_id), **ids)

    def delete_timelog(
        self,
        project_id: str,
        log_id: str,
        *,
        component: Component = "task",
        task_id: str | None = None,
        bug_id: str | None = None,
    ) -> None:
        endpoint, ids = _log_endpoint(component, "log", task_id, bug_id)
        path, template = self.api.path(
            endpoint, portal_id=self.portal_id, project_id=str(project_id), log_id=str(log_id), **ids
        )
        self.http.request("DELETE", path, endpoint=template)


def _log_form(date: dt.date, minutes: int, billable: bool) -> dict[str, Any]:
    """The fields every time-log write carries (form-encoded, Projects' own formats)."""
    return {
        "date": format_projects_date(date),
        "bill_status": "Billable" if billable else "Non Billable",
        "hours": f"{minutes // 60:02d}:{minutes % 60:02d}",
    }


def _log_endpoint(
    component: Component, kind: str, task_id: str | None, bug_id: str | None
) -> tuple[str, dict[str, str]]:
    """Name of the task/bug/general variant of a time-log endpoint, and the ids it needs."""
    if component == "task":
        if not task_id:
            raise ValueError("a task time log needs task_id")
        return f"task_{kind}", {"task_id": str(task_id)}
    if component == "bug":
        if not bug_id:
            raise ValueError("a bug time log needs bug_id")
        return f"bug_{kind}", {"bug_id": str(bug_id)}
    return ("logs" if kind == "logs" else f"general_{kind}"), {}


def _log_records(body: Any, component: Component) -> list[dict[str, Any]]:
    """Flatten ``timelogs.date[].tasklogs[]`` (or the ``task_logs`` spelling) into log records."""
    if body is None:
        return []
    timelogs = body.get("timelogs") if isinstance(body, dict) else None
    if not isinstance(timelogs, dict):
        raise MalformedResponse("expected a 'timelogs' object", api="projects", endpoint="GET logs")
    records: list[dict[str, Any]] = []
    for day in timelogs.get("date") or []:
        for key in LOG_GROUP_KEYS[component]:
            if isinstance(day.get(key), list):
                records.extend(day[key])
                break
    return records


def _written_log(body: Any, component: Component, project_id: str) -> TimeLog:
    timelogs = body.get("timelogs") if isinstance(body, dict) else None
    if isinstance(timelogs, dict):
        for key in LOG_GROUP_KEYS[component]:
            if timelogs.get(key):
                return TimeLog.from_api(timelogs[key][0], component, project_id)
        records = _log_records(body, component)
        if records:
            return TimeLog.from_api(records[0], component, project_id)
    raise MalformedResponse("time-log write returned no log", api="projects", endpoint="POST logs")
