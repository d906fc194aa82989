"""One source page's database work, batched: its links read in one query, its repeatable outcomes written with
the page's checkpoint.

A sync used to cost several transactions per record (a link lookup, then a write per outcome), most of its wall
time waiting on Postgres. A page now reads the links of all its records at once and decides in memory; what is
safe to redo after a crash (an update's new fingerprint, a resolved or recorded error) is written in the
transaction that commits the page's counts and cursor. Creates are not deferred: the pending link is committed
before the Books POST and the link right after it, so a crash can never create a Books record twice (see
engine.sync_record). Failures wait for the checkpoint too: a crash before it re-reads the page and meets them
again.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from shared.db import links, runs, sync_errors
from shared.db.links import Link
from shared.db.sync_errors import Problem
from worker.modules.base import Record, SourcePage, SyncContext, SyncModule, source_key


@dataclass
class PageBatch:
    ctx: SyncContext
    entity_type: str
    keys: set[str]  # the ids whose links were read (absent from ``links``: no link)
    links: dict[str, Link]
    fingerprints: dict[int, str] = field(default_factory=dict)  # link id -> fingerprint of an update written
    resolved: list[str] = field(default_factory=list)  # records whose open error the page resolves
    linked: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)  # link id, Books id, fields
    failed: list[tuple[str, Record, Problem, str]] = field(default_factory=list)  # module, record, problem, counter
    noted: set[str] = field(default_factory=set)  # pending link and intent noted by this slice, create not tried
    # a Books call was made for the page (an update, a create or its lookup, a retire): its checkpoint is not held
    called_books: bool = False
    unread: set[str] = field(default_factory=set)  # ids of ``keys`` whose links are read when one is first asked for

    @classmethod
    def read(
        cls,
        ctx: SyncContext,
        module: SyncModule,
        items: Sequence[Any],
        *,
        known: dict[str, Link | None] | None = None,
    ) -> PageBatch:
        """``known``: the links the paging read already (None: that id has none); the ids it did not read are read
        in one query when a record first asks for one of them (``link``), so a paging that read too few costs a
        query, never a wrong answer, and a page whose records need no link (all blocked by their parent) none."""
        keys = {key for key in map(source_key, items) if key is not None}
        if known:
            # A record listed again in the slice (moved between parents while listed) is read afresh: the links
            # handed with the page may have been read (ahead, in a thread) before this slice wrote its link.
            seen: set[str] = ctx.memo.setdefault(f"listed:{module.entity_type}", set())
            again = keys & seen
            seen |= keys
            known = {key: link for key, link in known.items() if key not in again}
        else:
            known = {}
        found = {key: link for key in keys & known.keys() if (link := known[key]) is not None}
        return cls(ctx, module.entity_type, keys, found, unread=keys - known.keys())

    def link(self, projects_id: str, conn: sa.Connection | None = None) -> Link | None:
        """The record's link (None: it has none); read on ``conn`` when given (a transaction that wrote links)."""
        if projects_id in self.unread:
            with self._reading(conn) as reader:
                self.links |= links.links_for(reader, self.ctx.integration.id, self.entity_type, self.unread)
            self.unread = set()
        if projects_id in self.keys:
            return self.links.get(projects_id)
        with self._reading(conn) as reader:  # a record the page's guess did not name
            link = links.get_link(reader, self.ctx.integration.id, self.entity_type, projects_id)
        self.keys.add(projects_id)
        if link is not None:
            self.links[projects_id] = link
        return link

    def _reading(self, conn: sa.Connection | None) -> AbstractContextManager[sa.Connection]:
        return nullcontext(conn) if conn is not None else self.ctx.engine.connect()

    def calling_books(self) -> None:
        """A Books call for the page is about to be made (an update, a create or its lookup, a retire)."""
        self.called_books = True

    def intents_noted(self, noted: dict[str, Link]) -> None:
        """Pending links with their intents, committed before any of their records is posted."""
        self.links |= noted
        self.keys |= noted.keys()
        self.unread -= noted.keys()
        self.noted |= noted.keys()

    def attempting(self, projects_id: str) -> bool:
        """The record's create is about to be tried; True when this slice noted its intent and nothing was posted."""
        if projects_id not in self.noted:
            return False
        self.noted.discard(projects_id)
        return True

    def unposted(self) -> list[int]:
        """The pending links of noted records whose create was never tried (a slice that stopped mid-page)."""
        return [self.links[projects_id].id for projects_id in self.noted]

    def refreshed(self, ctx: SyncContext, link: Link, fields: dict[str, Any]) -> None:
        """Books took the update: the link's new fingerprint is written with the page."""
        fingerprint = links.fingerprint(fields)
        self.fingerprints[link.id] = fingerprint
        self.links[link.projects_id] = dataclasses.replace(
            link, fingerprint=fingerprint, module_run_id=ctx.module_run.id
        )

    def completed(self, ctx: SyncContext, link: Link, books_id: str, fields: dict[str, Any]) -> None:
        """Books created (or a retry found) the record of a pending link that holds its intent: linked with the page."""
        self.linked.append((link.id, books_id, fields))
        ctx.page_books_ids.add(books_id)
        self.now_linked(ctx, link, books_id, fields)

    def now_linked(self, ctx: SyncContext, link: Link, books_id: str, fields: dict[str, Any]) -> None:
        """What the page knows of a link once it holds its Books record (written already, or with the page)."""
        self.links[link.projects_id] = dataclasses.replace(
            link,
            books_id=books_id,
            state="linked",
            fingerprint=links.fingerprint(fields),
            module_run_id=ctx.module_run.id,
        )

    def resolve(self, module: SyncModule, record: Record) -> None:
        """The record synced: its open error (if any) is resolved with the page."""
        errors = open_errors(self.ctx, module.entity_type)
        if record.projects_id in errors:
            errors.discard(record.projects_id)
            self.resolved.append(record.projects_id)

    def fail(self, module: SyncModule, record: Record, problem: Problem, counter: str) -> None:
        """The record failed (or is blocked): its error is recorded, and counted, with the page."""
        self.failed.append((module.name, record, problem, counter))

    def write(self, conn: sa.Connection) -> None:
        """In the caller's (fenced checkpoint) transaction; what was written is not written again.

        A statement per kind of write, not per record (issue 18: a statement per completed link and per error was
        16 s of a large sync's 140). Resolutions are written before failures, as they always were: a record that
        failed after its error was resolved in the same page ends with an open error.
        """
        iid, run = self.ctx.integration.id, self.ctx.module_run
        links.complete_many(conn, self.linked, module_run_id=run.id)
        links.refresh_many(conn, self.fingerprints, module_run_id=run.id)
        sync_errors.resolve_many(conn, iid, self.entity_type, self.resolved)
        failures = [
            sync_errors.Failure(module, record.projects_id, record.name, problem)
            for module, record, problem, _ in self.failed
        ]
        firsts = sync_errors.record_many(conn, iid, self.entity_type, failures, module_run_id=run.id)
        # the same failure met again (a record listed twice, a page re-read) counts once
        counts = Counter(counter for (*_, counter), first in zip(self.failed, firsts, strict=True) if first)
        runs.add_counts(conn, run, dict(counts))
        self.linked, self.fingerprints, self.resolved, self.failed = [], {}, [], []


# A page that made no Books call (every record unchanged, skipped or failed before any call: most pages of an
# incremental run) is not committed on its own: its cursor, counts and deferred writes are held and committed with
# the next page that is, at most HOLD_PAGES pages or HOLD_SECONDS later. A crash re-reads those pages, which wrote
# nothing to Books: a listing call each. A commit per page was a transaction per listing call (2,352 in a large
# incremental run, a third of its database time; issue 18).
HOLD_PAGES = 20
HOLD_SECONDS = 1.0


class Held:
    """Pages synced whose checkpoint waits: their batches in order, their counts summed."""

    def __init__(self) -> None:
        self.batches: list[PageBatch] = []
        self.counts: Counter[str] = Counter()
        self.since = time.monotonic()

    @property
    def pages(self) -> int:
        return len(self.batches)

    def add(self, batch: PageBatch, counts: Counter[str]) -> None:
        if not self.batches:
            self.since = time.monotonic()
        self.batches.append(batch)
        self.counts.update(counts)

    def due(self, batch: PageBatch, page: SourcePage) -> bool:
        """Whether the pages held so far (``batch`` the last one's) are committed now."""
        return (
            batch.called_books
            or page.cursor_within is not None  # a paging whose items cost Zoho calls to make (projects)
            or len(self.batches) >= HOLD_PAGES
            or time.monotonic() - self.since >= HOLD_SECONDS
        )

    def commit(self, conn: sa.Connection, ctx: SyncContext, cursor: dict[str, Any] | None) -> None:
        """In the caller's transaction: each held page's deferred writes in page order (as if each page were committed
        on its own), their counts and ``cursor`` (never None: pages are held only after the first). Progress made:
        the give-up count is about modules that stopped moving."""
        assert cursor is not None
        for batch in _merged(self.batches):
            batch.write(conn)
        runs.checkpoint(conn, ctx.module_run, cursor, dict(self.counts), ctx.settings.module_lease_seconds)
        self.batches, self.counts = [], Counter()

    def flush(self, ctx: SyncContext, cursor: dict[str, Any] | None) -> None:
        """``commit`` in a transaction of its own, when any page is held."""
        if self.batches:
            with ctx.engine.begin() as conn:
                self.commit(conn, ctx, cursor)


def _merged(batches: list[PageBatch]) -> list[PageBatch]:
    """The held pages' writes as one batch (a statement per kind for all of them, not per page: a failed project's
    blocked tasks re-recorded page after page) when no record or link is written by two of them, so that the order
    between pages cannot matter; else page by page."""
    if len(batches) < 2:
        return batches
    seen: set[str | int] = set()
    for batch in batches:
        written: set[str | int] = {*batch.resolved, *(record.projects_id for _, record, _, _ in batch.failed)}
        written.update(link_id for link_id, _, _ in batch.linked)
        written.update(batch.fingerprints)
        if written & seen:
            return batches
        seen |= written
    first = batches[0]
    return [
        PageBatch(
            first.ctx,
            first.entity_type,
            set(),
            {},
            fingerprints={link_id: fp for batch in batches for link_id, fp in batch.fingerprints.items()},
            resolved=[projects_id for batch in batches for projects_id in batch.resolved],
            linked=[linked for batch in batches for linked in batch.linked],
            failed=[failed for batch in batches for failed in batch.failed],
        )
    ]


def open_errors(ctx: SyncContext, entity_type: str) -> set[str]:
    """Open errors of an entity type, read once per slice: most records never failed, so checking this set spares a
    write per record. Errors recorded during the slice are added to it (engine._fail)."""

    def load() -> set[str]:
        with ctx.engine.connect() as conn:
            return set(sync_errors.open_error_ids(conn, ctx.integration.id, entity_type))

    return ctx.remember(f"open_errors:{entity_type}", load)
