"""Children blocked by a failed parent come back every run: the log says how many per slice, once, not a line each
(each one is in the error details)."""

from __future__ import annotations

import logging
import re

import sqlalchemy as sa

from shared.db.schema import module_runs
from worker.engine import run_slice
from worker.modules import REGISTRY

SUMMARY = re.compile(r"^tasks: (\d+) records of (\d+) pages blocked by their parent \((.+)\)$")


def test_blocked_children_are_logged_as_a_count_per_slice(tiny_snapshot, sandbox_factory, pg_admin_engine, caplog):
    with tiny_snapshot.harness(pg_admin_engine, sandbox_factory, worker=False) as h:
        ctx, module_run = h.claimed_slice("tasks")
        with caplog.at_level(logging.INFO, logger="worker.engine"):
            assert run_slice(ctx, REGISTRY["tasks"], max_pages=1000, max_seconds=60.0).done
        with h.engine.connect() as conn:
            blocked = conn.execute(sa.select(module_runs.c.blocked).where(module_runs.c.id == module_run.id)).scalar()
    assert blocked, "the tiny world has tasks under a project that failed"
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    summaries = [m for m in map(SUMMARY.match, lines) if m]
    assert len(summaries) == 1  # one slice, one line
    assert int(summaries[0].group(1)) == blocked and int(summaries[0].group(2)) >= 1
    assert "parent_failed" in summaries[0].group(3)
    assert not [line for line in lines if " blocked: " in line]  # no line per blocked task
