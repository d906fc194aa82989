"""Children blocked by a failed parent come back every run: the log says how many per page, once, not a line each
(each one is in the error details)."""

from __future__ import annotations

import logging
import re

import sqlalchemy as sa

from shared.db.schema import module_runs
from worker.engine import run_slice
from worker.modules import REGISTRY

SUMMARY = re.compile(r"^tasks: (\d+) records of the page blocked by their parent \((.+)\)$")


def test_blocked_children_are_logged_as_a_count_per_page(tiny_snapshot, sandbox_factory, pg_admin_engine, caplog):
    with tiny_snapshot.harness(pg_admin_engine, sandbox_factory, worker=False) as h:
        ctx, module_run = h.claimed_slice("tasks")
        with caplog.at_level(logging.INFO, logger="worker.engine"):
            assert run_slice(ctx, REGISTRY["tasks"], max_pages=1000, max_seconds=60.0).done
        with h.engine.connect() as conn:
            blocked = conn.execute(sa.select(module_runs.c.blocked).where(module_runs.c.id == module_run.id)).scalar()
    assert blocked, "the tiny world has tasks under a project that failed"
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    summaries = [m for m in map(SUMMARY.match, lines) if m]
    assert sum(int(m.group(1)) for m in summaries) == blocked
    assert all("parent_failed" in m.group(2) for m in summaries)
    assert not [line for line in lines if " blocked: " in line]  # no line per blocked task
