"""A slice of tasks or bugs reads its next page while it syncs the one it has (worker/read_ahead.py, issue 18):
every page is read once and synced once, and a page's Books calls go on while the next page is being read."""

from __future__ import annotations

import threading
from typing import Any

import sqlalchemy as sa

from shared.db.schema import module_runs
from worker.engine import run_slice
from worker.modules import REGISTRY
from worker.modules.base import SyncContext
from worker.modules.paging import PerParent, parent_ids


def test_pages_read_ahead_are_each_read_once_and_the_books_calls_go_on_during_the_read(
    tiny_snapshot, sandbox_factory, pg_admin_engine, monkeypatch
):
    with tiny_snapshot.harness(pg_admin_engine, sandbox_factory, worker=False) as h:
        ctx, module_run = h.claimed_slice("tasks")
        listed: dict[str, list[str]] = {}
        next_cursors: dict[str, Any] = {}  # task id -> the cursor of the page after its own
        cursor = None
        while True:  # what the slice will list, read without syncing it
            page = REGISTRY["tasks"].paging.page(ctx, cursor)
            for parent_id, task in page.items:
                listed.setdefault(parent_id, []).append(task.id)
                next_cursors[task.id] = page.next_cursor
            if (cursor := page.next_cursor) is None:
                break
        ctx.memo.clear()
        middle = [p for p in parent_ids(ctx, "project") if listed.get(p)][len(listed) // 2]
        renamed = listed[middle][0]
        h.act("rename_task", task_id=renamed, name="Renamed in Projects")  # that page makes a Books call
        after_renamed = next_cursors[renamed]
        assert after_renamed is not None

        reads: list[tuple[Any, bool, bool]] = []  # cursor, in the slice's own thread, saw the Books update
        updated = threading.Event()
        real_page = PerParent.page

        def page_read(self: PerParent, ctx: SyncContext, cursor: dict[str, Any] | None) -> Any:
            # The listing of the page after the renamed task's is held until the update is sent: were the Books call
            # still waiting for the read (one Zoho call at a time), neither would move for 5 s and the update would
            # come after the read.
            if cursor == after_renamed:
                updated.wait(5)
            found = real_page(self, ctx, cursor)
            reads.append((cursor, threading.current_thread() is threading.main_thread(), updated.is_set()))
            return found

        real_update = type(ctx.books).update_project_task

        def update(self: Any, *args: Any, **kwargs: Any) -> Any:
            updated.set()
            return real_update(self, *args, **kwargs)

        monkeypatch.setattr(PerParent, "page", page_read)
        monkeypatch.setattr(type(ctx.books), "update_project_task", update)
        threads = threading.active_count()
        assert run_slice(ctx, REGISTRY["tasks"], max_pages=1000, max_seconds=60.0).done
        assert threading.active_count() == threads  # the reading thread ends with the slice

        assert len(reads) == len({repr(cursor) for cursor, *_ in reads})  # no page read twice
        assert any(not own for _, own, _ in reads)  # pages were read ahead
        # the page after the renamed task's was read ahead, in the thread, while the page's update was sent
        ((_, own, saw_update),) = [r for r in reads if r[0] == after_renamed]
        assert not own and saw_update
        with h.engine.connect() as conn:
            row = conn.execute(sa.select(module_runs).where(module_runs.c.id == module_run.id)).one()
        assert row.fetched == sum(map(len, listed.values())) and row.updated == 1
        assert row.fetched == row.unchanged + row.updated + row.skipped + row.blocked + row.failed
