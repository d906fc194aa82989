"""Projects and tasks deleted in Zoho Projects after they synced: the sync goes on for everything else, and what
Books holds for them stays as it is — on the `tiny` preset, real Postgres, sandbox over HTTP, a Celery worker."""

from __future__ import annotations

from tests.worker.timesheet_support import entry_of, links_of, log_time, run_timesheets, synced_task


def test_a_project_deleted_in_projects_does_not_fail_the_sync_and_its_books_records_stay(tiny):
    h = tiny
    project_id, task_id = synced_task(h)
    log_id = log_time(h, project_id, task_id=task_id)
    run_timesheets(h)
    assert entry_of(h, log_id) is not None
    books_before = h.state()
    projects_before = len(links_of(h, "project"))

    h.act("delete_project", project_id=project_id)
    h.reset_requests()
    run = h.sync()
    assert run.status in ("succeeded", "partial"), run
    assert {name: m.status for name, m in run.modules.items() if m.status not in ("succeeded", "partial")} == {}
    assert h.books_writes() == []  # nothing in Books is touched for it (nor for anything else: nothing changed)
    books_after = h.state()
    for table in ("books_projects", "books_tasks", "time_entries"):
        assert books_after[table] == books_before[table], table
    assert len(links_of(h, "project")) == projects_before and entry_of(h, log_id) is not None
    assert not [e for e in h.errors() if e.source_id == project_id]  # not an error: Zoho says it is gone


def test_a_task_deleted_in_projects_takes_its_unbilled_time_out_of_books(tiny):
    h = tiny
    project_id, task_id = synced_task(h)
    log_id = log_time(h, project_id, task_id=task_id)
    run_timesheets(h)
    entry = entry_of(h, log_id)
    assert entry is not None

    h.act("delete_task", task_id=task_id)  # Zoho deletes the task's time logs with it
    run = h.sync()
    assert run.status in ("succeeded", "partial"), run
    assert all(e["time_entry_id"] != entry["time_entry_id"] for e in h.state()["time_entries"])
    assert links_of(h, "task")[task_id].books_id  # the Books task itself stays
