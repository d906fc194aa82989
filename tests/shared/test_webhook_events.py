"""The webhook inbox: a module run takes every pending call, sees them again when resumed after a crash, and
handled calls are dropped after a week (real Postgres)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from shared.db import runs, webhook_events
from shared.db.engine import make_engine, upgrade
from shared.db.schema import webhook_events as table
from tests.sync_support import connect_sandbox, harness_settings

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


def _call(conn: sa.Connection, integration_id: int, project_id: str, at: dt.datetime = NOW) -> None:
    webhook_events.record(
        conn, integration_id, event="timelog.created", project_id=project_id, log_id=None, payload={}, now=at
    )


def test_pending_calls_are_taken_kept_on_resume_and_pruned_after_a_week(sandbox, pg_migrated_url):
    upgrade(pg_migrated_url)
    engine = make_engine(pg_migrated_url)
    integration = connect_sandbox(engine, harness_settings(sandbox, pg_migrated_url), sandbox)
    with engine.begin() as conn:
        _call(conn, integration.id, "1")
        _call(conn, integration.id, "2")
        first = runs.request_run(conn, integration.id, ["timesheets"], "webhook", NOW).start_module_run_id
        taken = webhook_events.take_pending(conn, integration.id, first, NOW)
        assert [e.project_id for e in taken] == ["1", "2"]
        assert all(e.handled_at is not None and e.module_run_id == first for e in taken)
        assert webhook_events.pending_count(conn, integration.id) == 0

        # resumed after a crash, the module run sees its calls again, and one that came meanwhile
        _call(conn, integration.id, "3")
        assert [e.project_id for e in webhook_events.take_pending(conn, integration.id, first, NOW)] == ["1", "2", "3"]

        # a week on, the next run's take drops the handled calls, not a pending one
        later = NOW + dt.timedelta(days=8)
        _call(conn, integration.id, "4", later)
        taken_later = webhook_events.take_pending(conn, integration.id, first, later)
        assert [e.project_id for e in taken_later] == ["4"]
        assert conn.execute(sa.select(table.c.project_id)).scalars().all() == ["4"]
