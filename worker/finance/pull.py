"""The transactions module, Books -> product: what Zoho Books holds for each synced project, in ``transactions``.

Invoices, quotes (Books "estimates"), expenses and recurring invoices of synced projects, plus the invoices a
recurring profile generates, are read from Books and upserted; items an invoice bills (a line's
``time_entry_ids`` and ``expense_id``) are claimed in the billing ledger, so the project side refuses them. A void or
deleted invoice releases its claims; an edited one re-claims its new items. An invoice whose reference_number is
one of our ``finance_requests`` is ours: its pending claims are confirmed instead.

Two ways in, one processing path (``visit``: read the record, then write it in one transaction):
- ``hints``: records a Books webhook named (the instant path): one read each; a 404 means deleted;
- ``full``: the poll. What Books lets us find cheaply differs per kind (reference §10, §14-§16):
  invoices have a ``last_modified_time`` filter, so the poll lists only invoices changed since the cursor (minus
  an overlap for clock skew) and, once per newly synced project, that project's invoices (the backfill);
  estimates, expenses and recurring invoices have no modified-since filter and their list rows carry no project,
  so the poll pages through the whole list (200 a call), reads only rows whose ``last_modified_time`` moved, and
  sees deletions as known ids missing from the list. Deleted invoices show in no changed-since list: every
  RECONCILE_EVERY the poll lists the invoice ids of each project that has invoices here and checks missing ones.

Items Books bills without a line we read (a time entry's ``billed_status``, an expense's ``status``) are claimed
from Books' word on the item: worker/finance/billed.py.

Record reads per pull are bounded (``max_reads``): a kind whose scan ran out keeps its cursor and finishes on a
later pull, so one pull never holds the Books quota for long. Every Books call goes through ``BooksClient``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa

from shared.db import claims, sync_errors, transactions
from shared.db.links import links_of
from shared.db.schema import finance_requests
from shared.db.schema import sync_errors as sync_errors_table
from shared.db.schema import transactions as transactions_table
from shared.zoho.books import BooksClient
from shared.zoho.books_api import RESOURCES
from shared.zoho.errors import NotFound
from shared.zoho.paging import iterate
from worker.finance import billed, task_claims
from worker.finance.records import (  # re-exported: the task, tests and the migration use them from here
    ID_FIELD,
    LISTED,
    RESOURCE_OF,
    Detail,
    Hint,
    Known,
    ListedInvoice,
    _payload_items,
    books_time,
    detail_of,
    parse_books_time,
)

log = logging.getLogger(__name__)

MODULE = "transactions"
# our kind -> Books' list resource
FULL_LISTING_KINDS = ("quote", "expense", "recurring_invoice")
OVERLAP = dt.timedelta(minutes=2)  # writes landing while we list, and Books' clock vs ours
SAME_SECOND_MARGIN = dt.timedelta(seconds=5)  # one second of timestamp resolution + clock skew
RECONCILE_EVERY = dt.timedelta(minutes=5)
MAX_READS = 100
LIVE_STATUSES_ITEMS = ("time_entry", "expense")


@dataclass
class PullOutcome:
    upserted: int = 0
    deleted: int = 0
    released: int = 0
    conflicts: int = 0
    billed: int = 0  # items claimed from Books' status of the item (no line we read names them)
    reads: int = 0
    more: bool = False  # the read budget ran out: some kind continues on the next pull
    leftover: list[Hint] = field(default_factory=list)  # named records not read yet (the next pull reads them)
    cursor: dict[str, Any] = field(default_factory=dict)  # finance_cursor keys to merge

    def as_json(self) -> dict[str, Any]:
        return {
            "upserted": self.upserted,
            "deleted": self.deleted,
            "released": self.released,
            "conflicts": self.conflicts,
            "billed": self.billed,
            "reads": self.reads,
            "more": self.more,
        }


# ---------------------------------------------------------------------------------------------- the pull
class Pull:
    """One pull of one integration (not thread-safe; one pull per integration runs at a time)."""

    def __init__(
        self,
        engine: sa.Engine,
        books: BooksClient,
        integration_id: int,
        state: dict[str, Any] | None,
        *,
        now: dt.datetime,
        max_reads: int = MAX_READS,
    ) -> None:
        self.engine = engine
        self.books = books
        self.integration_id = integration_id
        self.state = dict(state or {})
        self.now = now
        self.max_reads = max_reads
        self.outcome = PullOutcome()
        self.projects: dict[str, str] = {}  # Books project id -> Projects project id
        self.known: dict[tuple[str, str], Known] = {}
        skip = self.state.get("skip")
        # records examined lately that belong to no synced project: {kind: {id: last_modified_time}}
        self.skip: dict[str, dict[str, str]] = {k: dict(v) for k, v in (skip or {}).items() if isinstance(v, dict)}
        self.follow: list[Hint] = []
        # the newest last_modified_time Books showed per kind: cursors are Books' own timestamps, never our clock
        self.latest: dict[str, dt.datetime] = {}
        self.visited: set[tuple[str, str]] = set()
        # invoices found through an item they bill (Books project id of the item): the invoice's project when its
        # lines name none
        self.invoice_projects: dict[str, str] = {}
        self.refollowed: set[tuple[str, str]] = set()

    # ------------------------------------------------------------------ loading
    def load(self) -> None:
        with self.engine.connect() as conn:
            self.projects = {
                link.books_id: projects_id
                for projects_id, link in links_of(conn, self.integration_id, "project").items()
                if link.books_id
            }
            rows = conn.execute(
                sa.select(
                    transactions_table.c.kind,
                    transactions_table.c.books_id,
                    transactions_table.c.last_modified_at,
                    transactions_table.c.status,
                    transactions_table.c.deleted_at,
                    transactions_table.c.projects_project_id,
                    transactions_table.c.books_project_id,
                    transactions_table.c.payload,
                ).where(transactions_table.c.integration_id == self.integration_id)
            ).all()
        self.known = {
            (r.kind, r.books_id): Known(
                _aware(r.last_modified_at),
                r.status,
                r.deleted_at is not None,
                r.projects_project_id,
                r.books_project_id,
                _payload_items(r.payload),
                _read_at(r.payload),
            )
            for r in rows
        }

    # ------------------------------------------------------------------ entry points
    def run(self, hints: Iterable[Hint], *, full: bool) -> PullOutcome:
        self.load()
        for hint in hints:
            if not self._budget():
                self.outcome.leftover.append(hint)
                continue
            self.visit(hint.kind, hint.books_id)
        if full:
            self.scan_invoices()
            for kind in FULL_LISTING_KINDS:
                self.scan_listing(kind)
            billed.scan_time_entries(self)
        while self.follow and self._budget():
            hint = self.follow.pop(0)
            if (hint.kind, hint.books_id) not in self.visited:
                self.visit(hint.kind, hint.books_id)
        if self.follow:
            self.outcome.more = True
            self.outcome.leftover.extend(self.follow)
        cutoff = {
            kind: (parse_books_time(self.outcome.cursor.get(kind, self.state.get(kind))) or self.now) - OVERLAP
            for kind in RESOURCE_OF
        }
        # the skip memory only needs what a later changed-since read can still list
        self.outcome.cursor["skip"] = {
            kind: {i: t for i, t in ids.items() if (parse_books_time(t) or self.now) >= cutoff[kind]}
            for kind, ids in self.skip.items()
        }
        return self.outcome

    def _budget(self) -> bool:
        if self.outcome.reads >= self.max_reads:
            self.outcome.more = True
            return False
        return True

    # ------------------------------------------------------------------ scans
    def _list(self, kind: str, *, path: str | None = None, **filters: Any) -> Iterator[tuple[str, str, Any]]:
        resource = RESOURCES[RESOURCE_OF[kind]]
        model = LISTED[kind]
        rows: Iterable[Any] = iterate(lambda cursor: self.books.page(resource, model, cursor, path=path, **filters))
        for row in rows:
            yield str(getattr(row, ID_FIELD[kind])), str(getattr(row, "last_modified_time", "") or ""), row.status

    def _consider(
        self, kind: str, books_id: str, modified_text: str, cutoff: dt.datetime | None, status: str | None = None
    ) -> None:
        modified = parse_books_time(modified_text)
        if modified is not None and (kind not in self.latest or modified > self.latest[kind]):
            self.latest[kind] = modified
        known = self.known.get((kind, books_id))
        unchanged = (
            known is not None
            and not known.deleted
            and modified is not None
            and known.last_modified_at == modified
            and (status is None or (known.status or "") == status)
            # Books' timestamps have one-second resolution: a change in the same second as our read keeps
            # last_modified_time, so a record read that close to its last change is read once more
            and known.read_at is not None
            and known.read_at >= modified + SAME_SECOND_MARGIN
        )
        if unchanged:
            return  # as we wrote it
        if known is None:
            if cutoff is not None and modified is not None and modified < cutoff:
                return  # examined when it last changed: it belongs to no synced project
            if modified_text and self.skip.get(kind, {}).get(books_id) == modified_text:
                return
        if (kind, books_id) in self.visited or not self._budget():
            return
        self.visit(kind, books_id)

    def _advance(self, kind: str, since: dt.datetime | None) -> None:
        newest = max((t for t in (since, self.latest.get(kind)) if t is not None), default=None)
        if newest is not None:
            self.outcome.cursor[kind] = books_time(newest)

    def scan_invoices(self) -> None:
        since = parse_books_time(self.state.get("invoice"))
        done = set(self.state.get("projects") or [])
        complete = True
        # the backfill: every invoice of a project synced since the last pull (all of them on the first pull)
        for books_project_id in sorted(set(self.projects) - done):
            for books_id, modified, status in self._list("invoice", path=f"/projects/{books_project_id}/invoices"):
                self._consider("invoice", books_id, modified, None, status)
            if self.outcome.more:
                complete = False
                break
            done.add(books_project_id)
        if complete and since is not None:
            for books_id, modified, status in self._list("invoice", last_modified_time=books_time(since - OVERLAP)):
                self._consider("invoice", books_id, modified, None, status)
        elif complete:
            # no cursor yet: the newest invoices of the organization (one page) say where Books' clock is
            resource = RESOURCES["invoices"]
            for row in self.books.page(resource, ListedInvoice, None).items:
                self._consider("invoice", row.invoice_id, row.last_modified_time, None, row.status)
        self.outcome.cursor["projects"] = sorted(done)
        if complete and not self.outcome.more:
            self._advance("invoice", since)
        self.reconcile_invoices()

    def reconcile_invoices(self) -> None:
        """Deleted invoices appear in no changed-since list: compare each project's invoice ids with ours."""
        last = parse_books_time(self.state.get("reconciled_at"))
        if last is not None and self.now < last + RECONCILE_EVERY:
            return
        by_project: dict[str, set[str]] = {}
        for (kind, books_id), known in self.known.items():
            if kind == "invoice" and not known.deleted and known.books_project_id in self.projects:
                by_project.setdefault(known.books_project_id, set()).add(books_id)
        for books_project_id, ours in sorted(by_project.items()):
            listed = {i for i, _, _ in self._list("invoice", path=f"/projects/{books_project_id}/invoices")}
            for books_id in sorted(ours - listed):
                if self._budget():
                    self.visit("invoice", books_id)  # gone (404: deleted) or moved off the project
        if not self.outcome.more:
            self.outcome.cursor["reconciled_at"] = books_time(self.now)

    def scan_listing(self, kind: str) -> None:
        since = parse_books_time(self.state.get(kind))
        cutoff = since - OVERLAP if since is not None else None
        listed: set[str] = set()
        before = self.outcome.more
        self.outcome.more = False
        for books_id, modified, status in self._list(kind):
            listed.add(books_id)
            self._consider(kind, books_id, modified, cutoff, status)
        for (known_kind, books_id), known in list(self.known.items()):
            if known_kind == kind and not known.deleted and books_id not in listed and self._budget():
                self.visit(kind, books_id)  # not in Books' list: read it to be sure it is gone
        if not self.outcome.more:
            self._advance(kind, since)
        self.outcome.more = self.outcome.more or before

    # ------------------------------------------------------------------ one record
    def _read(self, kind: str, books_id: str) -> dict[str, Any] | None:
        resource = RESOURCES[RESOURCE_OF[kind]]
        self.outcome.reads += 1
        try:
            body = self.books.call(
                "GET", f"{resource.path}/{books_id}", template=f"{resource.path}/{{{resource.one}_id}}"
            )
        except NotFound:
            return None
        raw = body.get(resource.one)
        return raw if isinstance(raw, dict) else None

    def visit(self, kind: str, books_id: str) -> None:
        """Read one record and write what Books says about it (gone: deleted here too, its claims released)."""
        self.visited.add((kind, books_id))
        raw = self._read(kind, books_id)
        if raw is None:
            self.gone(kind, books_id)
            return
        detail = detail_of(kind, raw)
        if detail.record is not None:
            payload = {**(detail.record.payload or {}), "read_at": dt.datetime.now(dt.UTC).isoformat()}
            detail.record = replace(detail.record, payload=payload)
        self.write(detail, raw)

    def gone(self, kind: str, books_id: str) -> None:
        known = self.known.get((kind, books_id))
        if known is None and kind == "invoice":  # never read, but named by an item Books said it bills
            with self.engine.begin() as conn:
                self.outcome.released += claims.release_billed_by(conn, self.integration_id, books_id)
            return
        if known is None or known.deleted:
            return
        with self.engine.begin() as conn:
            if transactions.mark_deleted(conn, self.integration_id, kind, books_id):
                self.outcome.deleted += 1
            if kind == "invoice":
                self.outcome.released += claims.release_invoice(conn, self.integration_id, books_id)
                self._resolve(conn, known.items)
                task_claims.clear(conn, self.integration_id, known.items)
        known.deleted = True
        if kind == "invoice":
            self._revisit_conflicts(known.items, books_id)

    def _project_of(
        self, conn: sa.Connection, detail: Detail, request: sa.Row[Any] | None
    ) -> tuple[str | None, str | None]:
        for books_project_id in detail.project_ids:
            if books_project_id in self.projects:
                return books_project_id, self.projects[books_project_id]
        record = detail.record
        assert record is not None
        via: list[tuple[str, str]] = [("expense", e) for e in detail.expense_ids]
        if record.recurring_invoice_id:
            via.append(("recurring_invoice", record.recurring_invoice_id))
        for key in via:
            known = self.known.get(key)
            if known is not None and known.projects_project_id:
                return known.books_project_id, known.projects_project_id
        if request is not None:
            return request.books_project_id, request.projects_project_id
        hinted = self.invoice_projects.get(detail.books_id) if detail.kind == "invoice" else None
        if hinted in self.projects:
            assert hinted is not None
            return hinted, self.projects[hinted]
        known = self.known.get((detail.kind, detail.books_id))
        if (
            known is not None
            and known.projects_project_id
            and not detail.project_ids
            and claims.billed_items(conn, self.integration_id, detail.books_id)
        ):
            return known.books_project_id, known.projects_project_id  # found through an item it bills, earlier
        return None, None

    def follow_invoice(self, invoice_id: str, books_project_id: str) -> None:
        """Read an invoice that bills an item of ``books_project_id`` (its project when its lines name none).

        An invoice this pull already passed over as no synced project's is read once more, now with the project."""
        if books_project_id in self.projects:
            self.invoice_projects.setdefault(invoice_id, books_project_id)
        key = ("invoice", invoice_id)
        if key in self.known and not self.known[key].deleted:
            return
        if key in self.visited:
            if key in self.refollowed or invoice_id not in self.invoice_projects:
                return
            self.refollowed.add(key)
            self.visited.discard(key)
            self.skip.get("invoice", {}).pop(invoice_id, None)
        if all(h.books_id != invoice_id or h.kind != "invoice" for h in self.follow):
            self.follow.append(Hint("invoice", invoice_id, "bills an item of a synced project"))

    def _request(self, conn: sa.Connection, detail: Detail) -> sa.Row[Any] | None:
        reference = detail.record.reference_number if detail.record else None
        if detail.kind != "invoice" or not reference:
            return None
        return conn.execute(
            sa.select(finance_requests).where(
                finance_requests.c.integration_id == self.integration_id, finance_requests.c.reference == reference
            )
        ).first()

    def write(self, detail: Detail, raw: dict[str, Any]) -> None:
        record = detail.record
        assert record is not None
        key = (detail.kind, detail.books_id)
        known = self.known.get(key)
        with self.engine.begin() as conn:
            request = self._request(conn, detail)
            books_project_id, projects_project_id = self._project_of(conn, detail, request)
            if projects_project_id is None and known is None and request is None:
                modified = str(raw.get("last_modified_time") or "")
                if modified:
                    self.skip.setdefault(detail.kind, {})[detail.books_id] = modified
                return  # not a synced project's
            record = _with_project(record, books_project_id, projects_project_id)
            origin = "projects" if request is not None else "books"
            transactions.upsert(conn, self.integration_id, record, origin=origin)
            self.outcome.upserted += 1
            released: set[tuple[str, str]] = set()
            if detail.kind == "invoice":
                released = self._bill(conn, detail, record, request, known)
            if detail.kind == "expense" and projects_project_id is not None:
                billed.expense_status(self, conn, detail.books_id, record.status, detail.expense_invoice_id)
        self.known[key] = Known(
            record.last_modified_at,
            record.status,
            False,
            projects_project_id,
            books_project_id,
            set(detail.items),
            _read_at(record.payload),
        )
        self.skip.get(detail.kind, {}).pop(detail.books_id, None)
        if released:
            self._revisit_conflicts(released, detail.books_id)
        if detail.kind == "expense" and detail.expense_invoice_id:
            self.follow_invoice(detail.expense_invoice_id, books_project_id or "")

    def _bill(
        self,
        conn: sa.Connection,
        detail: Detail,
        record: transactions.TransactionRecord,
        request: sa.Row[Any] | None,
        known: Known | None,
    ) -> set[tuple[str, str]]:
        """The ledger side of an invoice; returns the items it no longer holds."""
        before = claims.items_of_invoice(conn, self.integration_id, detail.books_id)
        if request is not None:
            claims.confirm(conn, self.integration_id, request.reference, detail.books_id)
        previous = (known.items if known else set()) | before
        if record.status == "void":
            self.outcome.released += claims.release_invoice(conn, self.integration_id, detail.books_id)
            self._resolve(conn, previous | detail.items)
            task_claims.clear(conn, self.integration_id, previous | detail.items)
            return previous
        side = "projects" if request is not None else "books"
        if request is None:  # Books billing time of a completed task an earlier invoice claimed
            self.outcome.conflicts += task_claims.report(
                conn,
                self.integration_id,
                module=MODULE,
                invoice_id=detail.books_id,
                number=record.number or detail.books_id,
                items=detail.items,
                previous=previous,
            )
        conflicts = claims.reclaim_invoice(
            conn, self.integration_id, detail.books_id, detail.items, side=side, shown=known.items if known else set()
        )
        clashing = {(c.item_type, c.item_id) for c in conflicts}
        # A task's billed_twice error is about ANOTHER invoice billing its time: that invoice's pulls settle it
        # (task_claims.report), and a void or delete of the holder clears it. Reading the holder again must not
        # (a Books line never shows a task, so its claim looked dropped): it did whenever the holder was read after
        # the other invoice in one pull.
        settled = {item for item in (previous | detail.items) - clashing if item[0] != task_claims.CLAIM_ITEM}
        self._resolve(conn, settled)
        for holder in conflicts:
            self.outcome.conflicts += 1
            number = record.number or detail.books_id
            what = holder.item_type.replace("_", " ")
            sync_errors.record(
                conn,
                self.integration_id,
                module=MODULE,
                entity_type=f"billed_{holder.item_type}",
                source_id=holder.item_id,
                source_name=f"{what} {holder.item_id} on invoice {number}",
                problem=sync_errors.Problem(
                    "billed_twice",
                    f"Zoho Books invoice {number!r} bills {what} {holder.item_id}, which {holder.describe()} "
                    f"already bills: the item is billed twice.",
                    "remove the line from one of the two invoices in Zoho Books, or void one of them; "
                    "the next pull clears this error",
                ),
                module_run_id=None,
            )
        return previous - detail.items

    def _resolve(self, conn: sa.Connection, items: Iterable[tuple[str, str]]) -> None:
        for item_type, item_id in items:
            sync_errors.resolve(conn, self.integration_id, f"billed_{item_type}", item_id)

    def _revisit_conflicts(self, items: set[tuple[str, str]], released_by: str) -> None:
        """Items an invoice let go that another invoice also bills: that invoice takes them now."""
        if not items:
            return
        with self.engine.connect() as conn:
            open_errors = conn.execute(
                sa.select(sync_errors_table.c.entity_type, sync_errors_table.c.source_id).where(
                    sync_errors_table.c.integration_id == self.integration_id,
                    sync_errors_table.c.module == MODULE,
                    sync_errors_table.c.resolved_at.is_(None),
                )
            ).all()
        flagged = {(r.entity_type.removeprefix("billed_"), r.source_id) for r in open_errors}
        wanted = items & flagged
        if not wanted:
            return
        for (kind, books_id), known in self.known.items():
            if kind == "invoice" and books_id != released_by and not known.deleted and known.items & wanted:
                self.follow.append(Hint("invoice", books_id, "takes released items"))


def _with_project(
    record: transactions.TransactionRecord, books_project_id: str | None, projects_project_id: str | None
) -> transactions.TransactionRecord:
    return replace(record, books_project_id=books_project_id, projects_project_id=projects_project_id)


def _read_at(payload: Any) -> dt.datetime | None:
    value = payload.get("read_at") if isinstance(payload, dict) else None
    if not isinstance(value, str):
        return None
    try:
        return _aware(dt.datetime.fromisoformat(value))
    except ValueError:
        return None


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def pull(
    engine: sa.Engine,
    books: BooksClient,
    integration_id: int,
    state: dict[str, Any] | None,
    *,
    hints: Iterable[Hint] = (),
    full: bool,
    now: dt.datetime,
    max_reads: int = MAX_READS,
) -> PullOutcome:
    """Bring the integration's transactions up to date with Books; returns counts and the cursor keys to merge."""
    return Pull(engine, books, integration_id, state, now=now, max_reads=max_reads).run(hints, full=full)


__all__ = ["Hint", "Pull", "PullOutcome", "books_time", "detail_of", "parse_books_time", "pull"]
