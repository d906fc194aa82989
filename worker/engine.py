"""The engine: runs one bounded slice of any sync module the same way.

page -> map -> parent check -> product rules -> diff by fingerprint -> write what changed -> record outcome.

After each page that made a Books call (and every HOLD_PAGES pages or HOLD_SECONDS otherwise) the counts and the
cursor are committed together (for a module that notes a page's intents first, with the next page's intents), so a
killed worker resumes at the page it was on, or a few pages before it that wrote nothing to Books; records of that
page already written are found again through their links (unchanged fingerprint, or a pending link that makes the
module look the record up before creating it), never duplicated.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from shared.db import links, runs
from shared.db.sync_errors import Problem
from shared.zoho.errors import FatalError, NotFound, ValidationFailed
from worker.modules.base import ProblemError, Record, SourcePage, SyncContext, SyncModule, parent_maps
from worker.page_batch import Held, PageBatch, open_errors
from worker.read_ahead import ReadAhead

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SliceResult:
    done: bool
    checkpoint: dict[str, Any] | None


def run_slice(ctx: SyncContext, module: SyncModule, *, max_pages: int, max_seconds: float | None = None) -> SliceResult:
    """Process up to ``max_pages`` source pages from the stored checkpoint, and no more once ``max_seconds`` have
    passed (checked after each page: a page is never cut for time, and a page read ahead before the time was spent
    is synced rather than read again by the next slice).

    Counting is exact however a slice ends: a record written to Books is counted in the transaction that writes
    its link or its error (stamped with this module run, so a page re-read after a crash does not count it
    again); what needed no write (fetched, unchanged, skipped) is counted with the page's cursor.
    """
    if ctx.module_run.checkpoint == ALL_READ:
        return SliceResult(True, None)  # a crash came between the last page's commit and the module's end
    ahead = ReadAhead(ctx, module.paging)
    blocked = BlockedCount(module.name)
    try:
        return _run_pages(ctx, module, max_pages, max_seconds, ahead, blocked)
    finally:
        ahead.close()
        blocked.log()


def _run_pages(
    ctx: SyncContext,
    module: SyncModule,
    max_pages: int,
    max_seconds: float | None,
    ahead: ReadAhead,
    blocked: BlockedCount,
) -> SliceResult:
    cursor, skip = _resume_point(ctx.module_run.checkpoint)
    lease = LeaseKeeper(ctx)
    deadline = time.monotonic() + max_seconds if max_seconds is not None else None
    held = Held()
    due = False  # the held pages' commit waits for the next page's intents: one transaction for both
    out_of_time = False
    for n in range(max_pages):
        try:
            page = ahead.take(cursor)
            if page is None and out_of_time:
                break  # the pages read before the time was spent are synced; no page is read after it
            page = page or module.paging.page(ctx, cursor)
            # a listing that shrank since the page was interrupted (a record deleted in Zoho) holds fewer items
            skip = min(skip, len(page.items))
            if page.next_cursor is not None and page.stopped_by is None:
                ahead.start(page.next_cursor, max_pages - n - 1, deadline)
            batch = PageBatch.read(ctx, module, page.items[skip:], known=page.links)
        except Exception:
            held.flush(ctx, cursor)  # what the held pages did is kept: a 429 here must not cost their reads again
            raise
        counts: Counter[str] = Counter()
        done = skip
        try:
            records = [module.to_record(ctx, source) for source in page.items[skip:]]  # mapping reads nothing
            if module.intent is not None:
                _note_intents(ctx, module, records, batch, held if due else None, cursor)
                if due:
                    due = False
                    lease.kept()
            for record in records:
                counter = sync_record(ctx, module, record, batch)
                if counter is not None:
                    counts[counter] += 1
                done += 1
                lease.keep()
        except Exception:
            resume = _resume_point_within(page, cursor, skip, done)
            unposted = batch.unposted()
            if resume is not None or unposted or held.pages:
                with ctx.engine.begin() as conn:
                    # Intents noted for records the slice never reached name nothing posted: dropped, so the next
                    # slice creates those records outright instead of looking each up in Books first (one listing
                    # call each, after a quota stop that is the scarce thing). Fenced like the checkpoint: a worker
                    # that lost the module drops nothing.
                    links.forget_unposted(conn, unposted)
                    if resume is None and held.pages:
                        held.commit(conn, ctx, cursor)  # the pages before this one are done: kept
                    elif resume is None:
                        runs.extend_lease(conn, ctx.module_run, ctx.settings.module_lease_seconds)
                    else:
                        # Keep what this page already did: a page that needs more Zoho calls than one quota window
                        # allows (Books writes of a page of projects) must still finish, slice after slice.
                        counts["fetched"] += done - skip
                        held.add(batch, counts)
                        held.commit(conn, ctx, resume)
            raise
        counts["fetched"] += len(page.items) - skip
        cursor, skip = page.next_cursor, 0
        blocked.add(batch)
        held.add(batch, counts)
        out_of_time = deadline is not None and time.monotonic() >= deadline
        if cursor is None or out_of_time or page.stopped_by is not None or held.due(batch, page):
            # the held pages' deferred writes, their counts and the cursor after them commit together (fenced), so
            # a crash before this leaves none of them and those pages run again. After the last page the checkpoint
            # says so (a None would read as "not started" and a crash before the end would re-read, and count, every
            # page again)
            if _goes_on(module, page, cursor, out_of_time) and n + 1 < max_pages:
                # With the next page's intents, before its first Books call: a commit per page of creates, not two.
                # No Books call comes in between (the next page is read, its records mapped); a failure there
                # commits the held pages all the same (the handlers above).
                due = True
            else:
                held.flush(ctx, cursor or ALL_READ)
                lease.kept()
        if page.stopped_by is not None:
            raise page.stopped_by  # what the paging made before it stopped is committed; the rest waits
        if cursor is None:
            return SliceResult(True, None)
        if out_of_time and not ahead.pending:  # a page read before the time was spent is synced, not read again
            break
    held.flush(ctx, cursor)  # the page budget ended the slice
    return SliceResult(False, cursor)


def _goes_on(module: SyncModule, page: SourcePage, cursor: dict[str, Any] | None, out_of_time: bool) -> bool:
    """The slice syncs another page, and the module notes a page's intents in a transaction of their own."""
    return module.intent is not None and cursor is not None and not out_of_time and page.stopped_by is None


# A slice interrupted mid-page stores {MID_PAGE: the page's cursor, SKIP: items of it already synced}.
MID_PAGE, SKIP = "_mid_page", "_skip"
# Every page read and committed; only the module's end is left.
ALL_READ: dict[str, Any] = {"_all_read": True}


def _resume_point_within(
    page: SourcePage, cursor: dict[str, Any] | None, skip: int, done: int
) -> dict[str, Any] | None:
    """Where a slice interrupted after ``done`` items of ``page`` (read at ``cursor``, from item ``skip``) resumes;
    None: at ``cursor``, nothing to keep."""
    if page.cursor_within is None:
        return {MID_PAGE: cursor, SKIP: done} if done > skip else None
    resume = page.cursor_within(done) or ALL_READ
    # Before any item is done, what the paging made for the page may still be worth keeping (the projects' fetched
    # clients and users) — once: the same cursor again is no progress, so a record that always fails still uses up
    # the module's attempts.
    return resume if done > skip or resume != cursor else None


def _resume_point(checkpoint: dict[str, Any] | None) -> tuple[dict[str, Any] | None, int]:
    if checkpoint is not None and SKIP in checkpoint:
        return checkpoint[MID_PAGE], int(checkpoint[SKIP])
    return checkpoint, 0


class LeaseKeeper:
    """Extends the module's lease while a long page is processed, so the sweeper never takes a live module."""

    def __init__(self, ctx: SyncContext) -> None:
        self.ctx = ctx
        self.every = ctx.settings.module_lease_seconds / 3
        self.last = time.monotonic()

    def keep(self) -> None:
        if time.monotonic() - self.last >= self.every:
            with self.ctx.engine.begin() as conn:
                runs.extend_lease(conn, self.ctx.module_run, self.ctx.settings.module_lease_seconds)
            self.kept()

    def kept(self) -> None:
        self.last = time.monotonic()


def sync_record(ctx: SyncContext, module: SyncModule, record: Record, batch: PageBatch) -> str | None:
    """Sync one record; returns the page counter it lands in, or None when its write already counted it.

    What needs no Books create (a refreshed fingerprint, a resolved error) is left in ``batch`` for the page's
    checkpoint transaction; a create writes its pending link before the POST and its link after it, as ever.
    """
    if record.skip:
        return _retire(ctx, module, record, batch) if module.retire else "skipped"
    parent_books_id = None
    if record.parent is not None:
        parent_type, parent_id = record.parent
        parent_links, parent_errors = parent_maps(ctx, parent_type)
        parent_books_id = parent_links.get(parent_id)
        if parent_books_id is None:
            return _blocked(ctx, module, record, batch, parent_errors.get(parent_id), parents_synced=bool(parent_links))
    link = batch.link(record.projects_id)  # after the parent: a blocked record needs no link (none read for it)
    problem = module.check(ctx, record)
    if problem is not None:
        _fail(ctx, module, record, problem, batch)
        return None
    fields = {**record.fields, "_parent": parent_books_id}
    ctx.link = link
    try:
        if link is not None and not link.pending:
            if link.fingerprint == links.fingerprint(fields):
                batch.resolve(module, record)
                # written (and counted) by this very module run before a crash made the page run again
                return None if link.module_run_id == ctx.module_run.id else "unchanged"
            batch.calling_books()
            module.update(ctx, record, str(link.books_id), parent_books_id)
            # an update is repeatable (the same PUT again): its link and count wait for the page's checkpoint
            batch.refreshed(ctx, link, fields)
            batch.resolve(module, record)
            return "updated"
        batch.calling_books()
        if link is None:
            link = _new_link(ctx, module, record)
            batch.links[record.projects_id] = link
        # an intent on the pending link means an earlier attempt got as far as the Books POST: what is found
        # now is the record that attempt created (counted as created), not a record adopted by a match rule
        # an intent this slice noted before any POST of the record says nothing was posted yet
        fresh = batch.attempting(record.projects_id)
        posted_before = bool(link.attributes) and not fresh
        adopted = None if fresh else module.find_existing(ctx, record, link, parent_books_id)
        try:
            books_id = adopted or module.create(ctx, record, parent_books_id)
        finally:
            assert ctx.link is not None
            link = ctx.link  # note_intent wrote it (and, for an intent_first module, wrote it first)
            batch.links[record.projects_id] = link
        if not link.id and not adopted:
            raise RuntimeError(f"module {module.name} created a Books record without noting its intent first")
        counter = "unchanged" if adopted and not posted_before else "created"
        if module.intent_first and link.id:
            # The pending link and its intent are committed: a crash before the page's checkpoint leaves the record
            # to be found by that intent (counted then), never created twice. So the link and its count can wait
            # for the checkpoint, like an update's.
            batch.completed(ctx, link, books_id, fields)
            batch.resolve(module, record)
            return counter
        with ctx.engine.begin() as conn:
            if not link.id:  # adopted with nothing posted: the link is written linked at once
                link = _put_pending(conn, ctx, module, record)
            links.complete(conn, link.id, books_id, fields, module_run_id=ctx.module_run.id)
            runs.add_counts(conn, ctx.module_run, {counter: 1}, progress=True)
        batch.now_linked(ctx, link, books_id, fields)
        batch.resolve(module, record)
        return None
    except (ValidationFailed, NotFound) as exc:
        _fail(ctx, module, record, Problem("books_rejected", exc.message, exc.hint), batch)
        return None
    except FatalError:
        raise
    except ProblemError as exc:
        _fail(ctx, module, record, exc.problem, batch)
        return None


def _note_intents(
    ctx: SyncContext,
    module: SyncModule,
    records: list[Record],
    batch: PageBatch,
    held: Held | None,
    cursor: dict[str, Any] | None,
) -> None:
    """The pending links and intents of the page's records that will be created, in one transaction before the
    page's first create (``SyncModule.intent``): each is still committed before its POST, as note_intent would.

    ``held``: the pages before this one, due to be committed (with ``cursor``, this page's) in the same transaction,
    first: a record they linked and this page lists again (moved between parents) is read linked, not pending.
    """
    # What the parents and the product rules allow is read first, outside the transaction: a read of its own inside
    # it would wait, on SQLite, for the write lock this very transaction holds (the projects' rules read links)
    creatable = _creatable(ctx, module, records)
    if held is None:
        pending = _intents(module, creatable, batch, None)
        if not pending:
            return
        with ctx.engine.begin() as conn:
            noted = links.put_pending_many(conn, ctx.integration.id, module.entity_type, pending)
    else:
        with ctx.engine.begin() as conn:
            held.commit(conn, ctx, cursor)
            pending = _intents(module, creatable, batch, conn)
            noted = links.put_pending_many(conn, ctx.integration.id, module.entity_type, pending)
    batch.intents_noted(noted)


def _creatable(ctx: SyncContext, module: SyncModule, records: list[Record]) -> dict[str, tuple[Record, str | None]]:
    """The page's records (with their parent's projects id) whose parent is linked and that pass the rules."""
    creatable: dict[str, tuple[Record, str | None]] = {}
    for record in records:
        if record.skip or record.projects_id in creatable:
            continue
        parent = None
        if record.parent is not None:
            parent_type, parent = record.parent
            if parent not in parent_maps(ctx, parent_type)[0]:
                continue  # blocked or skipped: nothing will be created
        if module.check(ctx, record) is not None:
            continue
        creatable[record.projects_id] = (record, parent)
    return creatable


def _intents(
    module: SyncModule, creatable: dict[str, tuple[Record, str | None]], batch: PageBatch, conn: sa.Connection | None
) -> list[tuple[str, str | None, dict[str, Any]]]:
    """(projects id, parent projects id, intent) of each record of the page that will be created: no link yet."""
    assert module.intent is not None
    return [
        (projects_id, parent, module.intent(record))
        for projects_id, (record, parent) in creatable.items()
        if batch.link(projects_id, conn) is None
    ]


def _new_link(ctx: SyncContext, module: SyncModule, record: Record) -> links.Link:
    """The pending link of a record about to be created, committed before any Books write.

    A module whose create starts with note_intent (``intent_first``) gets it unsaved: note_intent writes it with
    the intent in one transaction, still before the POST, instead of a write here and another there.
    """
    if module.intent_first:
        link = links.unsaved(module.entity_type, record.projects_id, record.parent[1] if record.parent else None)
    else:
        with ctx.engine.begin() as conn:
            link = _put_pending(conn, ctx, module, record)
    ctx.link = link
    return link


def _put_pending(conn: sa.Connection, ctx: SyncContext, module: SyncModule, record: Record) -> links.Link:
    parent = record.parent[1] if record.parent else None
    return links.put_pending(
        conn, ctx.integration.id, module.entity_type, record.projects_id, parent_projects_id=parent
    )


def _blocked(
    ctx: SyncContext,
    module: SyncModule,
    record: Record,
    batch: PageBatch,
    parent_error: int | None,
    *,
    parents_synced: bool,
) -> str | None:
    if parent_error is None and parents_synced:
        # the parent is deliberately not synced (e.g. an archived project): nothing to do, not an error
        return "skipped"
    if parent_error is None:
        # No parent of this kind is linked at all: the parent module has not run yet (a refresh of `users` runs
        # projects before any client synced). An open error makes the incremental listing bring it back.
        problem = Problem(
            "parent_not_synced",
            f"{module.entity_type.capitalize()} '{record.name}' waits for its {module.parent_label}, which has not "
            "been synced yet.",
            "Nothing to do: a full sync (or a refresh of the parent's module) syncs the parent, then this record.",
        )
        _fail(ctx, module, record, problem, batch, counter="blocked")
        return None
    problem = Problem(
        "parent_failed",
        f"{module.entity_type.capitalize()} '{record.name}' could not be synced because its {module.parent_label} "
        "could not be synced.",
        f"See the {module.parent_label}'s error (#{parent_error}); once it is fixed this record syncs on the next run.",
        blocked_by=parent_error,
    )
    _fail(ctx, module, record, problem, batch, counter="blocked")
    return None


def _retire(ctx: SyncContext, module: SyncModule, record: Record, batch: PageBatch) -> str | None:
    """A skipped record whose earlier sync must be undone (the module decides what that means in Books)."""
    assert module.retire is not None
    link = batch.link(record.projects_id)
    ctx.link = link
    if link is not None:  # with no link, nothing an earlier run wrote is left to undo
        batch.calling_books()
    try:
        module.retire(ctx, record, link)
    except (ValidationFailed, NotFound) as exc:
        _fail(ctx, module, record, Problem("books_rejected", exc.message, exc.hint), batch)
        return None
    except ProblemError as exc:
        _fail(ctx, module, record, exc.problem, batch)
        return None
    if link is not None:
        with ctx.engine.begin() as conn:
            links.remove(conn, link.id)
        batch.links.pop(record.projects_id, None)
    batch.resolve(module, record)  # e.g. a blocked log that is no longer billable is no longer a problem
    return "skipped"


def _fail(
    ctx: SyncContext, module: SyncModule, record: Record, problem: Problem, batch: PageBatch, counter: str = "failed"
) -> None:
    # recorded (and counted) with the page's checkpoint: a crash before it re-reads the page and fails it again
    batch.fail(module, record, problem, counter)
    open_errors(ctx, module.entity_type).add(record.projects_id)
    if counter == "blocked":
        # A failed parent blocks its children run after run (3,630 of them in the large world): a line per slice
        # says how many (BlockedCount), each one is in the error details, and here only at DEBUG.
        log.debug("%s %s blocked: %s", module.name, record.projects_id, problem.reason_code)
    else:
        log.info("%s %s %s: %s", module.name, record.projects_id, counter, problem.reason_code)


class BlockedCount:
    """The records a slice found blocked by their parents, by reason: one log line for the slice.

    A failed parent blocks its children run after run (3,630 of them in the large world); each one is in the error
    details. A line per page was ~150 lines a run, each a write to the log the slice's thread waited for.
    """

    def __init__(self, module: str) -> None:
        self.module = module
        self.reasons: Counter[str] = Counter()
        self.pages = 0

    def add(self, batch: PageBatch) -> None:
        found = Counter(problem.reason_code for _, _, problem, counter in batch.failed if counter == "blocked")
        if found:
            self.reasons.update(found)
            self.pages += 1

    def log(self) -> None:
        if self.reasons:
            found = ", ".join(f"{n} {reason}" for reason, n in sorted(self.reasons.items()))
            log.info(
                "%s: %d records of %d pages blocked by their parent (%s)",
                self.module,
                sum(self.reasons.values()),
                self.pages,
                found,
            )
