"""A worker that dies between the last page's commit and the module's end: the next one ends the module, it does
not read (and count) every page again.

The chaos suite caught it: users counted 50 fetched for a portal of 25 after a kill at that point, because the
last page stored an empty checkpoint, which reads as "not started".
"""

from __future__ import annotations

import time

import sqlalchemy as sa

from shared.db import runs
from shared.db.schema import module_runs
from shared.dispatch import request_sync
from tests.sync_support import sync_harness
from worker.connections import clients_for
from worker.engine import run_slice
from worker.modules import REGISTRY
from worker.modules.base import SyncContext


def _slice(h, module_run: runs.ModuleRun):
    projects, books = clients_for(h.settings, h.integration)
    ctx = SyncContext(h.engine, h.settings, h.integration, module_run, projects, books)
    return run_slice(ctx, REGISTRY[module_run.module], max_pages=1000)


def _counts(h, module_run_id: int) -> tuple[int, int, int]:
    with h.engine.connect() as conn:
        row = conn.execute(sa.select(module_runs).where(module_runs.c.id == module_run_id)).one()
    return row.fetched, row.created, row.unchanged


def test_a_crash_after_the_last_page_does_not_read_the_module_again(sandbox, pg_migrated_url):
    with sync_harness(sandbox, pg_migrated_url, worker=False, module_lease_seconds=0.2) as h:
        request = request_sync(h.engine, h.app, h.integration.id, module="users")
        first = runs.claim_module(h.engine, request.start_module_run_id, lease_seconds=0.2)
        assert first is not None
        assert _slice(h, first).done
        after_first = _counts(h, first.id)
        assert after_first[0] > 0
        # ...and the worker dies here, before runs.finish: its lease lapses and another worker claims the module
        time.sleep(0.3)
        second = runs.claim_module(h.engine, first.id, lease_seconds=60)
        assert second is not None and second.token > first.token
        h.reset_requests()
        assert _slice(h, second).done
        assert _counts(h, first.id) == after_first  # nothing counted twice
        assert h.books_writes() == []
