"""A slice starts no new page once its time is spent (BPSYNC_SLICE_SECONDS), whatever its page budget: turns
between tenants are bounded in time, while pages differ a hundredfold in size."""

from __future__ import annotations

import sqlalchemy as sa

from shared.db import runs
from shared.db.schema import module_runs
from worker.engine import run_slice
from worker.modules import REGISTRY


def _fetched(h, module_run_id: int) -> int:
    with h.engine.connect() as conn:
        return conn.execute(sa.select(module_runs.c.fetched).where(module_runs.c.id == module_run_id)).scalar_one()


def test_a_slice_whose_time_is_spent_stops_after_the_page_it_is_on(tiny_snapshot, sandbox_factory, pg_admin_engine):
    with tiny_snapshot.harness(pg_admin_engine, sandbox_factory, worker=False) as h:
        ctx, module_run = h.claimed_slice("tasks")
        spent = run_slice(ctx, REGISTRY["tasks"], max_pages=1000, max_seconds=0.0)

        # one project's page of tasks, then the time was up: the cursor names the next project
        assert not spent.done and spent.checkpoint is not None and spent.checkpoint["index"] == 1
        one_page = _fetched(h, module_run.id)
        assert one_page > 0
        runs.release(h.engine, module_run)  # as the task does: the next slice claims the module again
        again = runs.claim_module(h.engine, module_run.id, lease_seconds=60)
        assert again is not None
        ctx.module_run = again
        rest = run_slice(ctx, REGISTRY["tasks"], max_pages=1000, max_seconds=60.0)
        assert rest.done and _fetched(h, module_run.id) > one_page
