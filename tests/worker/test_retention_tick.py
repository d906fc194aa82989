"""The beat's tick prunes history (shared/db/retention.py) after its dispatching: old finished runs go, the newest
module run of each module stays."""

from __future__ import annotations

import time

import sqlalchemy as sa

from shared.db import runs
from shared.db.schema import module_runs
from shared.dispatch import TICK_TASK, request_sync
from tests.sync_support import sync_harness


def test_the_tick_prunes_old_runs_and_keeps_the_newest(sandbox, pg_migrated_url):
    # runs are "old" a moment after they end; the newest module run of each module is kept whatever its age
    with sync_harness(sandbox, pg_migrated_url, worker=False, history_retention_days=1e-6, history_keep_runs=1) as h:
        done = []
        for _ in range(3):
            request = request_sync(h.engine, h.app, h.integration.id, module="timesheets")
            mr = runs.claim_module(h.engine, request.start_module_run_id, lease_seconds=60)
            assert mr is not None
            runs.finish(h.engine, mr, "succeeded")
            done.append(mr.id)
        time.sleep(0.2)
        h.app.loader.import_default_modules()  # the task modules, as a worker loads them
        # run in this process: .get() on it is refused when an earlier test's worker left Celery's "inside a
        # task" flag set in this xdist process, so read the eager result directly
        outcome = h.app.tasks[TICK_TASK].apply()
        assert outcome.successful(), outcome.traceback
        assert outcome.result["pruned"] == [2]
        with h.engine.connect() as conn:
            left = set(conn.execute(sa.select(module_runs.c.id)).scalars())
        # (the same tick also started the integration's first scheduled sync: its module runs are new)
        assert done[-1] in left and not left & set(done[:2])
