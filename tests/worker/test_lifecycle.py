"""Disable, re-enable and preferences on a synced `tiny` integration: real Postgres, sandbox over HTTP, a Celery
worker.

Disabling stops the work in flight and all new work; re-enabling (same portal, stored links) brings over what
changed meanwhile without creating anything twice. Turning general timesheets on brings every general log.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from scheduler.connect import ConnectError
from scheduler.lifecycle import delete, disable, enable, update_preferences
from shared.clock import utcnow
from shared.db.integrations import get_integration
from shared.db.schema import integrations, metadata
from shared.dispatch import dispatch_due, request_sync
from tests.worker.timesheet_expectation import Expectation
from tests.worker.timesheet_support import links_of, synced_task


def test_a_disabled_integration_stops_and_a_re_enabled_one_syncs_only_what_changed(tiny):
    h = tiny
    project_id, task_id = synced_task(h)
    links_before = {kind: len(links_of(h, kind)) for kind in ("project", "task", "bug", "timesheet")}

    running = request_sync(h.engine, h.app, h.integration.id)
    assert disable(h.engine, h.integration.name).changed
    stopped = h.wait(running.run_id)
    assert stopped.modules["timesheets"].status == "skipped"
    assert stopped.modules["timesheets"].error == "the integration is disabled"
    assert dispatch_due(h.engine, h.app, now=utcnow() + dt.timedelta(days=3)) == []  # the beat leaves it alone

    h.act("rename_task", task_id=task_id, name="Renamed while disabled")
    h.act("create_task", project_id=project_id, name="Added while disabled")
    h.reset_requests()
    change = enable(h.engine, h.settings, h.integration.id)
    assert change.changed and get_integration(h.engine, h.integration.id).next_run_at <= utcnow()
    [run_id] = dispatch_due(h.engine, h.app)  # due at once
    assert h.wait(run_id).status in ("succeeded", "partial")

    writes = sorted((method, path) for method, path, _ in h.books_writes() if "/tasks" in path)
    assert writes == [
        ("POST", "/books/v3/projects/{project_id}/tasks"),  # the new task, once
        ("PUT", "/books/v3/projects/{project_id}/tasks/{task_id}"),  # the renamed one, updated in place
    ]
    books_names = [t["task_name"] for t in h.state()["books_tasks"]]
    assert books_names.count("Renamed while disabled") == 1 and books_names.count("Added while disabled") == 1
    links_after = {kind: len(links_of(h, kind)) for kind in ("project", "task", "bug", "timesheet")}
    assert links_after == {**links_before, "task": links_before["task"] + 1}


def test_turning_general_timesheets_on_brings_general_logs_and_off_leaves_them(tiny):
    h = tiny

    def general_entries() -> list[tuple[str, ...]]:
        expect = Expectation(h, general=True, cutoff=None)
        return sorted(expect.entry_key(e) for e in expect.entries if expect.entry_key(e)[1] == "General")

    assert general_entries() == []  # connected with the preference off
    with pytest.raises(ConnectError, match="'both' is not one of: merge, clone"):
        update_preferences(h.engine, h.integration.id, contact_duplication="both", general_timesheets=True)
    assert get_integration(h.engine, h.integration.id).general_timesheets is False  # nothing half-applied
    on = update_preferences(h.engine, h.integration.id, general_timesheets=True)
    assert on.changed and "general timesheets on" in on.detail
    h.sync("timesheets")
    expect = Expectation(h, general=True, cutoff=None)
    wanted = sorted(expect.key(log) for log in expect.written() if log["component"] == "general")
    assert wanted and general_entries() == wanted

    assert update_preferences(h.engine, h.integration.id, general_timesheets=False).changed
    h.reset_requests()
    h.sync("timesheets")
    assert h.books_writes() == [] and general_entries() == wanted  # what is in Books stays


def test_deleting_a_synced_integration_leaves_no_row_of_it_and_books_untouched(tiny):
    h = tiny
    books_before = h.state()
    tables = [t for t in metadata.sorted_tables if "integration_id" in t.c]
    with h.engine.connect() as conn:
        counts = {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar() for t in tables}
    assert all(counts[name] for name in ("entity_links", "sync_runs", "module_runs", "timelog_scans")), counts
    disable(h.engine, h.integration.id)
    assert delete(h.engine, h.integration.name).changed
    with h.engine.connect() as conn:
        left = {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar() for t in tables}
        assert conn.execute(sa.select(sa.func.count()).select_from(integrations)).scalar() == 0
    assert set(left.values()) == {0}, left
    assert h.state() == books_before
