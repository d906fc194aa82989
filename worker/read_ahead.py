"""Reading a slice's next pages while the engine syncs the one it has (issue 18).

A sync is a listing call per page, then the page's database work, mapping and Books writes: one after the other,
the listing's wait and the rest add up. Read ahead in a thread, the next pages' listings overlap this page's work,
its Books calls included: a Projects read and a Books write at once, each on its own API's quota and session
(worker/connections.py), while each API still sees one call at a time from the slice. Only for a paging that says
it can (``reads_ahead``: its ``page`` touches nothing the engine uses meanwhile, and its calls are listings).

The reader keeps up to DEPTH pages read and not yet taken, reads no more pages than the slice may still sync, and
none once the slice's time is spent; the pages it read by then are synced by the slice, never read twice. A slice
that stops mid-page (a Books quota spent) waits for the read under way and drops the pages read ahead: the next
slice reads them again, up to DEPTH listing calls more per such stop. Hence one page: two measured no faster on
the large world (benchmarks/RESULTS.md), and with Zoho's limits a Books window spent every few pages would cost
Projects calls (its own quota) at every stop.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections import deque
from typing import Any

from worker.modules.base import Paging, SourcePage, SyncContext

DEPTH = 1

# (the cursor a page was read at, the page or what its read raised)
Read = tuple[dict[str, Any], SourcePage | BaseException]


class ReadAhead:
    def __init__(self, ctx: SyncContext, paging: Paging) -> None:
        self.ctx = ctx
        self.paging = paging
        self.enabled = bool(getattr(paging, "reads_ahead", False))
        self._changed = threading.Condition()
        self._pages: deque[Read] = deque()
        self._thread: threading.Thread | None = None
        self._reading = False  # the reader may still add a page
        self._closing = False

    @property
    def pending(self) -> bool:
        """A page is read ahead (or may still be) that the engine has not taken."""
        with self._changed:
            return bool(self._pages) or self._reading

    def start(self, cursor: dict[str, Any], pages: int, deadline: float | None) -> None:
        """Read up to ``pages`` pages from ``cursor`` on in the background, none once ``deadline`` (monotonic) has
        passed. Nothing for a paging that does not read ahead, or when the reader was started already."""
        if not self.enabled or self._thread is not None or pages < 1:
            return
        self._reading = True
        # the slice's log context (integration, run, module) goes with the reads
        run = contextvars.copy_context().run
        self._thread = threading.Thread(
            target=run, args=(self._read, cursor, pages, deadline), name="bpsync-read-ahead", daemon=True
        )
        self._thread.start()

    def _read(self, cursor: dict[str, Any], pages: int, deadline: float | None) -> None:
        try:
            for _ in range(pages):
                with self._changed:
                    while len(self._pages) >= DEPTH and not self._closing:
                        self._changed.wait()
                    if self._closing or (deadline is not None and time.monotonic() >= deadline):
                        return
                try:
                    page: SourcePage | BaseException = self.paging.page(self.ctx, cursor)
                except BaseException as exc:  # handed to the engine, raised where it takes the page
                    page = exc
                with self._changed:
                    self._pages.append((cursor, page))
                    self._changed.notify_all()
                if isinstance(page, BaseException) or page.next_cursor is None or page.stopped_by is not None:
                    return
                cursor = page.next_cursor
        finally:
            with self._changed:
                self._reading = False
                self._changed.notify_all()

    def take(self, cursor: dict[str, Any] | None) -> SourcePage | None:
        """The page read ahead at ``cursor`` (what its read raised, raised here), or None: none was."""
        with self._changed:
            while not self._pages and self._reading:
                self._changed.wait()
            if not self._pages:
                return None
            read_at, page = self._pages.popleft()
            self._changed.notify_all()
        if read_at != cursor:  # never: the engine goes on from the page whose next page was read ahead
            self.close()
            return None
        if isinstance(page, BaseException):
            raise page
        return page

    def close(self) -> None:
        """End of the slice: a read still under way is waited for (the pages not taken are read again next time)."""
        with self._changed:
            self._closing = True
            self._pages.clear()
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
