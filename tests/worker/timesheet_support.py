"""Helpers for timesheets tests on the `tiny` preset: a synced harness, logging time in Projects, reading entries."""

from __future__ import annotations

import datetime as dt
from typing import Any

import requests

from sandbox.generator import credentials
from shared.db import links
from shared.dispatch import request_sync
from tests.sync_support import SyncHarness

LOG_LIST = "/restapi/portal/{portal}/projects/{project}/logs/"


def link_of(h: SyncHarness, entity_type: str, projects_id: str) -> links.Link | None:
    with h.engine.connect() as conn:
        return links.get_link(conn, h.integration.id, entity_type, projects_id)


def synced_task(h: SyncHarness) -> tuple[str, str]:
    """(project id, task id) of a task whose project synced."""
    with h.engine.connect() as conn:
        projects = links.links_of(conn, h.integration.id, "project")
        tasks = links.links_of(conn, h.integration.id, "task")
    return next(
        (t.parent_projects_id, t.projects_id)
        for t in tasks.values()
        if t.books_id and projects.get(t.parent_projects_id or "") and projects[t.parent_projects_id].books_id
    )


def admin_zuid(h: SyncHarness) -> str:
    return credentials(h.sandbox.world)["admin"]["zuid"]


def log_time(h: SyncHarness, project_id: str, *, approve: bool = True, **params: Any) -> str:
    day = (dt.date.today() - dt.timedelta(days=2)).isoformat()
    made = h.act("log_time", project_id=project_id, owner_id=admin_zuid(h), **{"date": day, "minutes": 90, **params})
    if approve:
        h.act("approve_log", log_id=made["log_id"])
    return made["log_id"]


def entry_of(h: SyncHarness, log_id: str) -> dict[str, Any] | None:
    link = link_of(h, "timesheet", log_id)
    if link is None or not link.books_id:
        return None
    return next((e for e in h.state()["time_entries"] if e["time_entry_id"] == link.books_id), None)


def run_timesheets(h: SyncHarness, trigger: str = "manual") -> Any:
    request = request_sync(h.engine, h.app, h.integration.id, module="timesheets", trigger=trigger)
    return h.wait(request.run_id).modules["timesheets"]


def links_of(h: SyncHarness, entity_type: str) -> dict[str, links.Link]:
    with h.engine.connect() as conn:
        return links.links_of(conn, h.integration.id, entity_type)


def log_list_calls(h: SyncHarness) -> int:
    rows = requests.get(f"{h.sandbox.base_url}/_sandbox/requests", timeout=10).json()["requests"]
    return sum(r["count"] for r in rows if r["api"] == "projects" and r["path"] == LOG_LIST)
