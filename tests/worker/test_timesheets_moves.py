"""A log whose date is edited into a month the run does not read keeps its entry (updated with the new date);
only a log found in no month is retired — on the `tiny` preset, real Postgres, sandbox over HTTP, a Celery worker.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from shared.db.schema import timelog_scans
from tests.worker.timesheet_support import entry_of, link_of, log_list_calls, log_time, run_timesheets, synced_task


def _first_month(h, project_id: str) -> dt.date:
    with h.engine.connect() as conn:
        return conn.execute(
            sa.select(timelog_scans.c.first_month).where(
                timelog_scans.c.integration_id == h.integration.id,
                timelog_scans.c.project_id == project_id,
                timelog_scans.c.component == "task",
            )
        ).scalar_one()


def test_an_instant_poll_follows_a_log_moved_to_an_old_month_and_still_retires_a_deleted_one(tiny):
    project_id, task_id = synced_task(tiny)
    moved = log_time(tiny, project_id, task_id=task_id)
    deleted = log_time(tiny, project_id, task_id=task_id, minutes=30)
    run_timesheets(tiny, trigger="instant")
    before = entry_of(tiny, moved)
    assert before is not None and entry_of(tiny, deleted) is not None

    old_day = dt.date.today() - dt.timedelta(days=75)  # outside the months of the last 7 days
    tiny.act("edit_log", log_id=moved, date=old_day.isoformat())
    tiny.act("delete_log", log_id=deleted)
    tiny.reset_requests()
    run = run_timesheets(tiny, trigger="instant")
    after = entry_of(tiny, moved)
    assert after is not None, "a moved log must not lose its entry"
    assert after["time_entry_id"] == before["time_entry_id"]
    assert after["log_date"] == old_day.isoformat()
    assert link_of(tiny, "timesheet", moved).attributes["log_date"] == old_day.isoformat()
    assert link_of(tiny, "timesheet", deleted) is None  # found in no month: retired
    assert run.updated == 1
    writes = sorted(m for m, _, _ in tiny.books_writes())
    assert writes == ["DELETE", "PUT"]

    tiny.reset_requests()
    quiet = run_timesheets(tiny, trigger="instant")
    assert (quiet.updated, quiet.created) == (0, 0) and tiny.books_writes() == []
    assert entry_of(tiny, moved)["log_date"] == old_day.isoformat()


def test_a_daily_run_follows_a_log_moved_before_the_projects_first_log(tiny):
    project_id, task_id = synced_task(tiny)
    log_id = log_time(tiny, project_id, task_id=task_id)
    run_timesheets(tiny)  # between deep reads: reads from the first month only
    before = entry_of(tiny, log_id)
    first = _first_month(tiny, project_id)
    start = tiny.sandbox.world.projects[project_id].start_date
    back_dated = start + dt.timedelta(days=2)
    assert back_dated < first, "tiny's project should start before its first log"

    tiny.act("edit_log", log_id=log_id, date=back_dated.isoformat())
    tiny.reset_requests()
    run = run_timesheets(tiny)
    searching_calls = log_list_calls(tiny)
    assert run.updated == 1
    after = entry_of(tiny, log_id)
    assert after["time_entry_id"] == before["time_entry_id"] and after["log_date"] == back_dated.isoformat()
    assert _first_month(tiny, project_id) == back_dated.replace(day=1)  # later daily runs read from there

    tiny.reset_requests()
    assert run_timesheets(tiny).updated == 0
    # the search read back from the first month only as far as the log (since then a daily run reads from there);
    # with nothing missing, no month is searched
    assert log_list_calls(tiny) == searching_calls
