"""The reader keeps up to DEPTH pages ahead of a slice that is busy (worker/read_ahead.py, issue 18), and no more: not
past the slice's page budget, not after its time is spent; the pages it read by then are synced by that slice, and
no page is read twice across slices."""

from __future__ import annotations

import threading
import time
from typing import Any

import sqlalchemy as sa

from shared.db import runs
from shared.db.schema import module_runs
from worker import engine
from worker.engine import run_slice
from worker.modules import REGISTRY
from worker.modules.base import SyncContext
from worker.modules.paging import PerParent
from worker.read_ahead import DEPTH


def _counted_reads(monkeypatch: Any) -> tuple[list[Any], threading.Event]:
    """Every page read (its cursor), and an event set once the first page and DEPTH more were read."""
    reads: list[Any] = []
    ahead = threading.Event()
    real_page = PerParent.page

    def page_read(self: PerParent, ctx: SyncContext, cursor: dict[str, Any] | None) -> Any:
        found = real_page(self, ctx, cursor)
        reads.append(cursor)
        if len(reads) == 1 + DEPTH:
            ahead.set()
        return found

    monkeypatch.setattr(PerParent, "page", page_read)
    return reads, ahead


def _row(h: Any, module_run_id: int) -> Any:
    with h.engine.connect() as conn:
        return conn.execute(sa.select(module_runs).where(module_runs.c.id == module_run_id)).one()


def test_pages_read_ahead_of_a_busy_slice_stop_at_depth_and_at_its_time_and_are_synced_by_it(
    tiny_snapshot, sandbox_factory, pg_admin_engine, monkeypatch
):
    with tiny_snapshot.harness(pg_admin_engine, sandbox_factory, worker=False) as h:
        ctx, module_run = h.claimed_slice("tasks")
        listed = 0
        cursor = None
        while True:  # what the module lists, read without syncing it
            page = REGISTRY["tasks"].paging.page(ctx, cursor)
            listed += len(page.items)
            if (cursor := page.next_cursor) is None:
                break
        ctx.memo.clear()
        reads, ahead = _counted_reads(monkeypatch)
        real_sync = engine.sync_record
        stalled: list[int] = []  # pages read when the slice went on from its first record

        def slow_first_record(*args: Any) -> Any:
            if not stalled:
                assert ahead.wait(5), f"the reader read {len(reads) - 1} pages ahead, not {DEPTH}"
                time.sleep(0.6)  # the slice's time (0.5 s) runs out while its first page is synced
                stalled.append(len(reads))
            return real_sync(*args)

        monkeypatch.setattr(engine, "sync_record", slow_first_record)
        first = run_slice(ctx, REGISTRY["tasks"], max_pages=1000, max_seconds=0.5)

        # DEPTH pages read ahead while the slice was busy, none more (the reader waits for room)...
        assert stalled == [1 + DEPTH]
        # ...and synced by this slice, which read nothing once its time was spent
        assert not first.done and len(reads) == 1 + DEPTH
        assert first.checkpoint is not None and first.checkpoint["index"] > 0
        assert _row(h, module_run.id).fetched > 0

        runs.release(h.engine, module_run)
        again = runs.claim_module(h.engine, module_run.id, lease_seconds=60)
        assert again is not None
        ctx.module_run = again
        assert run_slice(ctx, REGISTRY["tasks"], max_pages=1000, max_seconds=60.0).done
        assert len(reads) == len({repr(cursor) for cursor in reads})  # no page read twice, across both slices
        assert _row(h, module_run.id).fetched == listed


def test_a_slice_reads_no_page_past_its_page_budget(tiny_snapshot, sandbox_factory, pg_admin_engine, monkeypatch):
    with tiny_snapshot.harness(pg_admin_engine, sandbox_factory, worker=False) as h:
        ctx, module_run = h.claimed_slice("tasks")
        reads, _ahead = _counted_reads(monkeypatch)
        result = run_slice(ctx, REGISTRY["tasks"], max_pages=2, max_seconds=60.0)
        time.sleep(0.2)  # a reader gone past the budget would be reading now
        assert not result.done and len(reads) == 2
        assert result.checkpoint == _row(h, module_run.id).checkpoint
