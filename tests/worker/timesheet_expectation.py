"""What Books must hold after a timesheets sync, computed from the sandbox's ground truth with the product rules."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sandbox.generator import credentials
from shared.db import links
from tests.sync_support import SyncHarness


def _links(h: SyncHarness, entity_type: str) -> dict[str, links.Link]:
    with h.engine.connect() as conn:
        return {k: v for k, v in links.links_of(conn, h.integration.id, entity_type).items() if v.books_id}


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


class Expectation:
    """What Books must hold: qualifying logs whose project and task/bug synced, by the product's rules."""

    def __init__(self, h: SyncHarness, *, general: bool, cutoff: dt.date | None) -> None:
        state = h.state()
        creds = credentials(h.sandbox.world)
        self.org = creds["organization_id"]
        portal = creds["portal_id"]
        projects = {p["id"] for p in state["projects"] if p["portal_id"] == portal}
        self.logs = [log for log in state["timelogs"] if log["project_id"] in projects]
        self.entries = [e for e in state["time_entries"] if e["organization_id"] == self.org]
        self.books_users = {u["user_id"]: u for u in state["books_users"] if u["organization_id"] == self.org}
        self.books_projects = {p["project_id"]: p for p in state["books_projects"] if p["organization_id"] == self.org}
        self.books_tasks = {t["task_id"]: t for t in state["books_tasks"] if t["organization_id"] == self.org}
        self.portal_users = {u["id"]: u for u in state["portal_users"] if u["portal_id"] == portal}
        self.projects, self.users = _links(h, "project"), _links(h, "user")
        self.subjects = {**_links(h, "task"), **_links(h, "bug")}
        self.general, self.cutoff = general, cutoff

    def qualifies(self, log: dict[str, Any]) -> bool:
        return (
            log["bill_status"] == "Billable"
            and log["approval_status"] == "Approved"
            and (log["component"] != "general" or self.general)
        )

    def before_cutoff(self, log: dict[str, Any]) -> bool:
        return self.cutoff is not None and dt.date.fromisoformat(log["log_date"]) < self.cutoff

    def subject_synced(self, log: dict[str, Any]) -> bool:
        if log["project_id"] not in self.projects:
            return False
        return log["component"] == "general" or (log["task_id"] or log["bug_id"]) in self.subjects

    def written(self) -> list[dict[str, Any]]:
        return [
            log for log in self.logs if self.qualifies(log) and not self.before_cutoff(log) and self.subject_synced(log)
        ]

    def key(self, log: dict[str, Any]) -> tuple[str, ...]:
        """Project, task (the synced task/bug, or the project's General task), owner, date, duration, notes."""
        project = self.projects[log["project_id"]].books_id
        owner = self.users[log["owner_id"]].books_id
        if log["component"] == "general":
            task, notes = "General", ": ".join(p for p in (log["name"], log["notes"]) if p)
        else:
            task, notes = self.subjects[log["task_id"] or log["bug_id"]].books_id, log["notes"]
        return (project, task, owner, log["log_date"], _hhmm(log["minutes"]), notes)

    def entry_key(self, entry: dict[str, Any]) -> tuple[str, ...]:
        synced = {link.books_id for link in self.subjects.values()}
        task = entry["task_id"]
        if task not in synced and self.books_tasks[task]["task_name"] == "General":
            task = "General"
        return (entry["project_id"], task, entry["user_id"], entry["log_date"], _hhmm(entry["minutes"]), entry["notes"])
