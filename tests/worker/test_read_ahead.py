"""A slice of tasks or bugs reads its next page while it syncs the one it has (worker/read_ahead.py, issue 18):
every page is read once and synced once, and a page's own Books call waits for the read under way."""

from __future__ import annotations

import threading
import time
from typing import Any

import sqlalchemy as sa

from shared.db.schema import module_runs
from worker.engine import run_slice
from worker.modules import REGISTRY
from worker.modules.base import SyncContext
from worker.modules.paging import PerParent, parent_ids


def test_pages_read_ahead_are_each_read_once_and_a_books_call_waits_for_the_read(
    tiny_snapshot, sandbox_factory, pg_admin_engine, monkeypatch
):
    with tiny_snapshot.harness(pg_admin_engine, sandbox_factory, worker=False) as h:
        ctx, module_run = h.claimed_slice("tasks")
        listed: dict[str, list[str]] = {}
        cursor = None
        while True:  # what the slice will list, read without syncing it
            page = REGISTRY["tasks"].paging.page(ctx, cursor)
            for parent_id, task in page.items:
                listed.setdefault(parent_id, []).append(task.id)
            if (cursor := page.next_cursor) is None:
                break
        ctx.memo.clear()
        middle = [p for p in parent_ids(ctx, "project") if listed.get(p)][len(listed) // 2]
        h.act("rename_task", task_id=listed[middle][0], name="Renamed in Projects")  # that page makes a Books call

        reads: list[tuple[Any, bool, float, float]] = []  # cursor, in the slice's own thread, start, end
        real_page = PerParent.page

        def page_read(self: PerParent, ctx: SyncContext, cursor: dict[str, Any] | None) -> Any:
            started = time.monotonic()
            time.sleep(0.05)  # a listing call that takes a while
            found = real_page(self, ctx, cursor)
            reads.append((cursor, threading.current_thread() is threading.main_thread(), started, time.monotonic()))
            return found

        updates: list[tuple[float, float]] = []
        real_update = type(ctx.books).update_project_task

        def update(self: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.monotonic()
            try:
                return real_update(self, *args, **kwargs)
            finally:
                updates.append((started, time.monotonic()))

        monkeypatch.setattr(PerParent, "page", page_read)
        monkeypatch.setattr(type(ctx.books), "update_project_task", update)
        threads = threading.active_count()
        assert run_slice(ctx, REGISTRY["tasks"], max_pages=1000, max_seconds=60.0).done
        assert threading.active_count() == threads  # the reading thread ends with the slice

        assert len(reads) == len({repr(cursor) for cursor, *_ in reads})  # no page read twice
        assert any(not own for _, own, _, _ in reads)  # pages were read ahead
        # one Zoho call at a time: the update came after the read under way had ended
        assert len(updates) == 1
        ((update_start, update_end),) = updates
        assert not any(start < update_end and update_start < end for *_, start, end in reads)
        with h.engine.connect() as conn:
            row = conn.execute(sa.select(module_runs).where(module_runs.c.id == module_run.id)).one()
        assert row.fetched == sum(map(len, listed.values())) and row.updated == 1
        assert row.fetched == row.unchanged + row.updated + row.skipped + row.blocked + row.failed
