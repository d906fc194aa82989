"""timesheets after the first sync: approvals, edits, deletions, invoiced entries, blocked logs, general logs and
the instant (recent windows) poll — on the `tiny` preset, real Postgres, sandbox over HTTP, a Celery worker.
"""

from __future__ import annotations

from sandbox.books import rules as books_rules
from sandbox.generator import credentials
from shared.db.integrations import get_integration, update_integration
from tests.worker.timesheet_support import (
    admin_zuid,
    entry_of,
    link_of,
    links_of,
    log_list_calls,
    log_time,
    run_timesheets,
    synced_task,
)


def test_an_approval_given_later_makes_the_entry_appear_on_the_next_run(tiny):
    project_id, task_id = synced_task(tiny)
    log_id = log_time(tiny, project_id, task_id=task_id, approve=False, notes="design review")
    assert run_timesheets(tiny).skipped >= 1
    assert entry_of(tiny, log_id) is None
    tiny.act("approve_log", log_id=log_id)
    assert run_timesheets(tiny).created == 1
    entry = entry_of(tiny, log_id)
    assert entry is not None
    assert (entry["minutes"], entry["notes"], entry["is_billable"]) == (90, "design review", True)
    assert entry["task_id"] == link_of(tiny, "task", task_id).books_id


def test_an_edited_log_updates_its_entry_and_a_non_billable_or_deleted_one_removes_it(tiny):
    project_id, task_id = synced_task(tiny)
    edited = log_time(tiny, project_id, task_id=task_id)
    deleted = log_time(tiny, project_id, task_id=task_id, minutes=30)
    run_timesheets(tiny)
    first = entry_of(tiny, edited)
    assert first is not None and entry_of(tiny, deleted) is not None

    tiny.act("edit_log", log_id=edited, minutes=150, notes="more work")
    tiny.act("delete_log", log_id=deleted)
    tiny.reset_requests()
    run = run_timesheets(tiny)
    assert (run.updated, run.created) == (1, 0)
    after = entry_of(tiny, edited)
    assert after["time_entry_id"] == first["time_entry_id"]
    assert (after["minutes"], after["notes"]) == (150, "more work")
    assert link_of(tiny, "timesheet", deleted) is None
    writes = sorted((m, p) for m, p, _ in tiny.books_writes())
    assert writes == [
        ("DELETE", "/books/v3/projects/timeentries/{time_entry_id}"),
        ("PUT", "/books/v3/projects/timeentries/{time_entry_id}"),
    ]

    tiny.act("edit_log", log_id=edited, bill_status="Non Billable")
    run_timesheets(tiny)
    assert link_of(tiny, "timesheet", edited) is None
    ids = {e["time_entry_id"] for e in tiny.state()["time_entries"]}
    assert first["time_entry_id"] not in ids


def test_an_invoiced_entry_is_never_changed_and_the_error_says_why(tiny):
    project_id, task_id = synced_task(tiny)
    log_id = log_time(tiny, project_id, task_id=task_id)
    failing_before = run_timesheets(tiny).failed
    entry = entry_of(tiny, log_id)
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
    run = run_timesheets(tiny)
    assert run.failed == failing_before + 1
    error = next(e for e in tiny.errors() if e.source_id == log_id)
    assert error.reason_code == "time_entry_invoiced"
    assert "already invoiced" in error.message and "remove the time entry from the invoice" in error.hint
    after = entry_of(tiny, log_id)
    assert (after["minutes"], after["billed_status"]) == (90, "invoiced")

    tiny.act("delete_log", log_id=log_id)
    run_timesheets(tiny)
    assert entry_of(tiny, log_id)["billed_status"] == "invoiced"
    assert next(e for e in tiny.errors() if e.source_id == log_id).reason_code == "time_entry_invoiced"


def test_if_books_refuses_an_inactive_users_time_the_error_says_who_and_it_is_not_asked_again(tiny, monkeypatch):
    # The sandbox takes time of inactive users, as Books does for the integration's inactive timesheet staff;
    # should an organization refuse it anyway, the product must say so instead of failing blindly.
    monkeypatch.setattr(books_rules, "TIME_ENTRY_USER_MUST_BE_ACTIVE", True)
    project_id, task_id = synced_task(tiny)
    owner = admin_zuid(tiny)
    books_user = tiny.sandbox.world.books_users[link_of(tiny, "user", owner).books_id]
    books_user.status = "inactive"
    log_id = log_time(tiny, project_id, task_id=task_id)
    failed_before = len(tiny.errors())
    assert run_timesheets(tiny).failed >= 1
    error = next(e for e in tiny.errors() if e.source_id == log_id)
    assert error.reason_code == "books_user_inactive" and books_user.email in error.hint
    assert len(tiny.errors()) == failed_before + 1

    tiny.reset_requests()
    run_timesheets(tiny)
    assert ("POST", "/books/v3/projects/timeentries", 1) not in tiny.books_writes()  # not asked again

    books_user.status = "active"
    assert run_timesheets(tiny).created == 1
    assert entry_of(tiny, log_id) is not None and all(e.source_id != log_id for e in tiny.errors())


def test_a_blocked_log_syncs_once_its_project_is_fixed(tiny):
    project_id = tiny.sandbox.world.awkward["no_primary_client"][0]
    task_id = next(t.id for t in tiny.sandbox.world.tasks.values() if t.project_id == project_id)
    log_id = log_time(tiny, project_id, task_id=task_id)
    assert run_timesheets(tiny).blocked >= 1
    errors = {e.id: e for e in tiny.errors()}
    blocked = next(e for e in errors.values() if e.source_id == log_id)
    assert blocked.reason_code == "parent_failed" and errors[blocked.blocked_by].source_id == task_id

    tiny.act("set_primary_client", project_id=project_id)
    run = tiny.sync()
    assert run.modules["timesheets"].created >= 1
    assert entry_of(tiny, log_id) is not None
    assert all(e.source_id != log_id for e in tiny.errors())


def test_general_logs_sync_only_with_the_preference(tiny):
    project_id, _task = synced_task(tiny)
    log_id = log_time(tiny, project_id, name="Internal meeting", notes="weekly")
    run_timesheets(tiny)
    assert entry_of(tiny, log_id) is None and link_of(tiny, "general_task", project_id) is None

    update_integration(tiny.engine, tiny.integration.id, general_timesheets=True)
    run_timesheets(tiny)
    entry = entry_of(tiny, log_id)
    assert entry is not None and entry["notes"] == "Internal meeting: weekly"
    general = link_of(tiny, "general_task", project_id)
    assert entry["task_id"] == general.books_id
    run_timesheets(tiny)  # the General task is created once
    names = [t["task_name"] for t in tiny.state()["books_tasks"] if t["project_id"] == entry["project_id"]]
    assert names.count("General") == 1


def test_the_instant_poll_reads_only_recent_windows(tiny):
    project_id, task_id = synced_task(tiny)
    tiny.reset_requests()
    run_timesheets(tiny)
    full_reads = log_list_calls(tiny)
    log_id = log_time(tiny, project_id, task_id=task_id)
    tiny.reset_requests()
    run = run_timesheets(tiny, trigger="instant")
    assert run.created == 1 and entry_of(tiny, log_id) is not None
    linked = sum(1 for p in links_of(tiny, "project").values() if p.books_id)
    assert log_list_calls(tiny) <= 2 * 2 * linked < full_reads  # task+bug, at most two months per project
    assert get_integration(tiny.engine, tiny.integration.id).general_timesheets is False
