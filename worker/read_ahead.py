"""Reading a slice's next page while the engine syncs the one it has (issue 18).

A sync is a listing call per page, then the page's database work, mapping and Books writes: one after the other,
the listing's wait and the rest add up. Read ahead in a thread, the next page's listing overlaps this page's work,
its Books calls included: a Projects read and a Books write at once, each on its own API's quota and session
(worker/connections.py), while each API still sees one call at a time from the slice. Only for a paging that says
it can (``reads_ahead``: its ``page`` touches nothing the engine uses meanwhile, and its calls are listings).

A slice that stops mid-page (a Books quota spent) waits for the read under way and drops its page: the next slice
reads it again, one listing call more per such stop.
"""

from __future__ import annotations

import contextvars
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from worker.modules.base import Paging, SourcePage, SyncContext


class ReadAhead:
    def __init__(self, ctx: SyncContext, paging: Paging) -> None:
        self.ctx = ctx
        self.paging = paging
        self.enabled = bool(getattr(paging, "reads_ahead", False))
        self._executor: ThreadPoolExecutor | None = None
        self._future: Future[SourcePage] | None = None
        self._cursor: dict[str, Any] | None = None

    @property
    def pending(self) -> bool:
        """A page is read ahead (or being read) that the engine has not taken."""
        return self._future is not None

    def start(self, cursor: dict[str, Any]) -> None:
        """Read the page at ``cursor`` in the background (nothing for a paging that does not read ahead)."""
        if not self.enabled or self._future is not None:
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bpsync-read-ahead")
        self._cursor = cursor
        # the slice's log context (integration, run, module) goes with the read
        run = contextvars.copy_context().run
        self._future = self._executor.submit(run, self.paging.page, self.ctx, cursor)

    def take(self, cursor: dict[str, Any] | None) -> SourcePage | None:
        """The page read ahead at ``cursor`` (what its read raised, raised here), or None: none was."""
        future, self._future = self._future, None
        if future is None:
            return None
        if cursor != self._cursor:  # never: the engine goes on from the page whose next page was read ahead
            wait([future])
            return None
        return future.result()

    def close(self) -> None:
        """End of the slice: a read still under way is waited for (its page, never taken, is read again next time)."""
        self._future = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
