"""Daily runs between deep reads skip the months before a project's first log; the deep read still finds a log
back-dated into them. `tiny` preset, real Postgres, sandbox over HTTP, a Celery worker."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from shared.db.schema import timelog_scans
from tests.worker.timesheet_support import entry_of, log_list_calls, log_time, run_timesheets, synced_task


def _scans(h) -> dict[tuple[str, str], sa.Row]:
    with h.engine.connect() as conn:
        rows = conn.execute(sa.select(timelog_scans).where(timelog_scans.c.integration_id == h.integration.id))
        return {(r.project_id, r.component): r for r in rows}


def _age_deep_reads(h, days: float) -> None:
    """As if the last deep reads were ``days`` older (the deep-read period is 7 days)."""
    with h.engine.begin() as conn:
        conn.execute(
            timelog_scans.update()
            .where(timelog_scans.c.integration_id == h.integration.id)
            .values(deep_read_at=timelog_scans.c.deep_read_at - dt.timedelta(days=days))
        )


def test_daily_runs_read_from_the_first_log_and_the_deep_read_finds_a_back_dated_one(tiny):
    project_id, task_id = synced_task(tiny)
    scans = _scans(tiny)
    first = scans[(project_id, "task")].first_month
    world_logs = [log for log in tiny.sandbox.world.timelogs.values() if log.project_id == project_id]
    assert first == min(log.log_date for log in world_logs if log.component == "task").replace(day=1)
    start = tiny.sandbox.world.projects[project_id].start_date
    assert start is not None and start.replace(day=1) < first, "tiny's project should start before its first log"

    _age_deep_reads(tiny, 30)  # every project is due
    tiny.reset_requests()
    deep = run_timesheets(tiny)
    deep_calls = log_list_calls(tiny)
    tiny.reset_requests()
    shallow = run_timesheets(tiny)
    assert (shallow.created, shallow.updated, deep.created, deep.updated) == (0, 0, 0, 0)
    assert shallow.fetched == deep.fetched  # the same logs, fewer calls
    assert log_list_calls(tiny) < deep_calls

    back_dated = start + dt.timedelta(days=2)
    assert back_dated < first
    log_id = log_time(tiny, project_id, task_id=task_id, date=back_dated.isoformat())
    run_timesheets(tiny)
    assert entry_of(tiny, log_id) is None  # between deep reads, a month before the first log is not read
    _age_deep_reads(tiny, 8)
    assert run_timesheets(tiny).created == 1
    assert entry_of(tiny, log_id) is not None
    assert _scans(tiny)[(project_id, "task")].first_month == back_dated.replace(day=1)
