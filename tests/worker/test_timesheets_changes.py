"""timesheets after the first sync: approvals, edits, deletions, invoiced entries, blocked logs, general logs and
the instant (recent windows) poll — on the `tiny` preset, real Postgres, sandbox over HTTP, a Celery worker.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import requests

from sandbox.books import rules as books_rules
from sandbox.generator import credentials
from shared.db import links
from shared.db.integrations import get_integration, update_integration
from shared.dispatch import request_sync
from tests.sync_support import SyncHarness, sync_harness

LOG_LIST = "/restapi/portal/{portal}/projects/{project}/logs/"


@pytest.fixture
def tiny(sandbox_factory, pg_url):
    sandbox = sandbox_factory(size="tiny")
    with sync_harness(sandbox, pg_url) as h:
        h.sync()
        yield h


def _link(h: SyncHarness, entity_type: str, projects_id: str) -> links.Link | None:
    with h.engine.connect() as conn:
        return links.get_link(conn, h.integration.id, entity_type, projects_id)


def _synced_task(h: SyncHarness) -> tuple[str, str]:
    """(project id, task id) of a task whose project synced."""
    with h.engine.connect() as conn:
        projects = links.links_of(conn, h.integration.id, "project")
        tasks = links.links_of(conn, h.integration.id, "task")
    return next(
        (t.parent_projects_id, t.projects_id)
        for t in tasks.values()
        if t.books_id and projects.get(t.parent_projects_id or "") and projects[t.parent_projects_id].books_id
    )


def _admin(h: SyncHarness) -> str:
    return credentials(h.sandbox.world)["admin"]["zuid"]


def _log(h: SyncHarness, project_id: str, *, approve: bool = True, **params: Any) -> str:
    day = (dt.date.today() - dt.timedelta(days=2)).isoformat()
    made = h.act("log_time", project_id=project_id, owner_id=_admin(h), date=day, **{"minutes": 90, **params})
    if approve:
        h.act("approve_log", log_id=made["log_id"])
    return made["log_id"]


def _entry(h: SyncHarness, log_id: str) -> dict[str, Any] | None:
    link = _link(h, "timesheet", log_id)
    if link is None or not link.books_id:
        return None
    return next((e for e in h.state()["time_entries"] if e["time_entry_id"] == link.books_id), None)


def _timesheets(h: SyncHarness, trigger: str = "manual") -> Any:
    request = request_sync(h.engine, h.app, h.integration.id, module="timesheets", trigger=trigger)
    return h.wait(request.run_id).modules["timesheets"]


def test_an_approval_given_later_makes_the_entry_appear_on_the_next_run(tiny):
    project_id, task_id = _synced_task(tiny)
    log_id = _log(tiny, project_id, task_id=task_id, approve=False, notes="design review")
    assert _timesheets(tiny).skipped >= 1
    assert _entry(tiny, log_id) is None
    tiny.act("approve_log", log_id=log_id)
    assert _timesheets(tiny).created == 1
    entry = _entry(tiny, log_id)
    assert entry is not None
    assert (entry["minutes"], entry["notes"], entry["is_billable"]) == (90, "design review", True)
    assert entry["task_id"] == _link(tiny, "task", task_id).books_id


def test_an_edited_log_updates_its_entry_and_a_non_billable_or_deleted_one_removes_it(tiny):
    project_id, task_id = _synced_task(tiny)
    edited = _log(tiny, project_id, task_id=task_id)
    deleted = _log(tiny, project_id, task_id=task_id, minutes=30)
    _timesheets(tiny)
    first = _entry(tiny, edited)
    assert first is not None and _entry(tiny, deleted) is not None

    tiny.act("edit_log", log_id=edited, minutes=150, notes="more work")
    tiny.act("delete_log", log_id=deleted)
    tiny.reset_requests()
    run = _timesheets(tiny)
    assert (run.updated, run.created) == (1, 0)
    after = _entry(tiny, edited)
    assert after["time_entry_id"] == first["time_entry_id"]
    assert (after["minutes"], after["notes"]) == (150, "more work")
    assert _link(tiny, "timesheet", deleted) is None
    writes = sorted((m, p) for m, p, _ in tiny.books_writes())
    assert writes == [
        ("DELETE", "/books/v3/projects/timeentries/{time_entry_id}"),
        ("PUT", "/books/v3/projects/timeentries/{time_entry_id}"),
    ]

    tiny.act("edit_log", log_id=edited, bill_status="Non Billable")
    _timesheets(tiny)
    assert _link(tiny, "timesheet", edited) is None
    ids = {e["time_entry_id"] for e in tiny.state()["time_entries"]}
    assert first["time_entry_id"] not in ids


def test_an_invoiced_entry_is_never_changed_and_the_error_says_why(tiny):
    project_id, task_id = _synced_task(tiny)
    log_id = _log(tiny, project_id, task_id=task_id)
    failing_before = _timesheets(tiny).failed
    entry = _entry(tiny, log_id)
    books_project = next(p for p in tiny.state()["books_projects"] if p["project_id"] == entry["project_id"])
    tiny.act(
        "create_invoice",
        organization_id=credentials(tiny.sandbox.world)["organization_id"],
        customer_id=books_project["customer_id"],
        line_items=[
            {
                "name": "Work",
                "rate": 90,
                "quantity": 1.5,
                "project_id": entry["project_id"],
                "time_entry_ids": [entry["time_entry_id"]],
            }
        ],
    )
    tiny.act("edit_log", log_id=log_id, minutes=300)
    run = _timesheets(tiny)
    assert run.failed == failing_before + 1
    error = next(e for e in tiny.errors() if e.source_id == log_id)
    assert error.reason_code == "time_entry_invoiced"
    assert "already invoiced" in error.message and "remove the time entry from the invoice" in error.hint
    after = _entry(tiny, log_id)
    assert (after["minutes"], after["billed_status"]) == (90, "invoiced")

    tiny.act("delete_log", log_id=log_id)
    _timesheets(tiny)
    assert _entry(tiny, log_id)["billed_status"] == "invoiced"
    assert next(e for e in tiny.errors() if e.source_id == log_id).reason_code == "time_entry_invoiced"


def test_if_books_refuses_an_inactive_users_time_the_error_says_who_and_it_is_not_asked_again(tiny, monkeypatch):
    # The sandbox takes time of inactive users, as Books does for the integration's inactive timesheet staff;
    # should an organization refuse it anyway, the product must say so instead of failing blindly.
    monkeypatch.setattr(books_rules, "TIME_ENTRY_USER_MUST_BE_ACTIVE", True)
    project_id, task_id = _synced_task(tiny)
    owner = _admin(tiny)
    books_user = tiny.sandbox.world.books_users[_link(tiny, "user", owner).books_id]
    books_user.status = "inactive"
    log_id = _log(tiny, project_id, task_id=task_id)
    failed_before = len(tiny.errors())
    assert _timesheets(tiny).failed >= 1
    error = next(e for e in tiny.errors() if e.source_id == log_id)
    assert error.reason_code == "books_user_inactive" and books_user.email in error.hint
    assert len(tiny.errors()) == failed_before + 1

    tiny.reset_requests()
    _timesheets(tiny)
    assert ("POST", "/books/v3/projects/timeentries", 1) not in tiny.books_writes()  # not asked again

    books_user.status = "active"
    assert _timesheets(tiny).created == 1
    assert _entry(tiny, log_id) is not None and all(e.source_id != log_id for e in tiny.errors())


def test_a_blocked_log_syncs_once_its_project_is_fixed(tiny):
    project_id = tiny.sandbox.world.awkward["no_primary_client"][0]
    task_id = next(t.id for t in tiny.sandbox.world.tasks.values() if t.project_id == project_id)
    log_id = _log(tiny, project_id, task_id=task_id)
    assert _timesheets(tiny).blocked >= 1
    errors = {e.id: e for e in tiny.errors()}
    blocked = next(e for e in errors.values() if e.source_id == log_id)
    assert blocked.reason_code == "parent_failed" and errors[blocked.blocked_by].source_id == task_id

    tiny.act("set_primary_client", project_id=project_id)
    run = tiny.sync()
    assert run.modules["timesheets"].created >= 1
    assert _entry(tiny, log_id) is not None
    assert all(e.source_id != log_id for e in tiny.errors())


def test_general_logs_sync_only_with_the_preference(tiny):
    project_id, _task = _synced_task(tiny)
    log_id = _log(tiny, project_id, name="Internal meeting", notes="weekly")
    _timesheets(tiny)
    assert _entry(tiny, log_id) is None and _link(tiny, "general_task", project_id) is None

    update_integration(tiny.engine, tiny.integration.id, general_timesheets=True)
    _timesheets(tiny)
    entry = _entry(tiny, log_id)
    assert entry is not None and entry["notes"] == "Internal meeting: weekly"
    general = _link(tiny, "general_task", project_id)
    assert entry["task_id"] == general.books_id
    _timesheets(tiny)  # the General task is created once
    names = [t["task_name"] for t in tiny.state()["books_tasks"] if t["project_id"] == entry["project_id"]]
    assert names.count("General") == 1


def test_the_instant_poll_reads_only_recent_windows(tiny):
    project_id, task_id = _synced_task(tiny)
    tiny.reset_requests()
    _timesheets(tiny)
    full_reads = _log_list_calls(tiny)
    log_id = _log(tiny, project_id, task_id=task_id)
    tiny.reset_requests()
    run = _timesheets(tiny, trigger="instant")
    assert run.created == 1 and _entry(tiny, log_id) is not None
    linked = sum(1 for p in _links_of(tiny, "project").values() if p.books_id)
    assert _log_list_calls(tiny) <= 2 * 2 * linked < full_reads  # task+bug, at most two months per project
    assert get_integration(tiny.engine, tiny.integration.id).general_timesheets is False


def _links_of(h: SyncHarness, entity_type: str) -> dict[str, links.Link]:
    with h.engine.connect() as conn:
        return links.links_of(conn, h.integration.id, entity_type)


def _log_list_calls(h: SyncHarness) -> int:
    rows = requests.get(f"{h.sandbox.base_url}/_sandbox/requests", timeout=10).json()["requests"]
    return sum(r["count"] for r in rows if r["api"] == "projects" and r["path"] == LOG_LIST)
