"""Disable and re-enable on a synced `tiny` integration: real Postgres, sandbox over HTTP, a Celery worker.

Disabling stops the work in flight and all new work; re-enabling (same portal, stored links) brings over what
changed meanwhile without creating anything twice.
"""

from __future__ import annotations

import datetime as dt

from shared.clock import utcnow
from shared.db.integrations import get_integration
from shared.dispatch import dispatch_due, request_sync
from shared.lifecycle import disable, enable
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
