"""Books customers by normalized name and email, read from Books once per sync and kept current between slices.

Matching by normalized name ("Acme Ltd" = "ACME Ltd.") needs every customer: Books filters only by exact name,
prefix or substring. Reading them all costs one list call per 200 customers — ~100 calls for a 20k-customer
organization, the whole per-minute Books budget — so the list is read once per sync run and worker process, and
kept between the slices of the clients module (and the projects module after it). A slice only catches up with
what Books changed since, newest first (``sort_column=last_modified_time``; contacts have no modified-since
filter, reference §9), and only when someone else may have written since: another worker held the module in
between (its lease token moved by more than one claim), or the last catch-up is older than ``CATCH_UP_AFTER``
(edits made in Books by people). A customer deleted in Books during the run stays in the index until the next run
(one list call per page cannot show a deletion); a link to it fails in Books with a plain error.

A worker process that never read the list for this run reads it whole, so a run costs at most one full read per
worker process, whatever the number of its slices.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from shared.zoho.books_models import Contact
from worker.matching import normalize_company, normalize_email
from worker.modules.base import SyncContext

CATCH_UP_AFTER = 60.0  # seconds
# Books stamps last_modified_time to the second, with its own clock: re-reading a short overlap misses nothing.
OVERLAP = dt.timedelta(minutes=5)
KEPT_RUNS = 8  # runs' indexes a worker process keeps (integrations syncing at once on one worker)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class CustomerIndex:
    """Books customers by normalized name and by email, minus those already linked to another client."""

    def __init__(self, contacts: Iterable[Contact], taken: set[str] | None = None) -> None:
        self.by_name: dict[str, list[Contact]] = defaultdict(list)
        self.by_email: dict[str, list[Contact]] = defaultdict(list)
        self.by_id: dict[str, Contact] = {}
        self.names: set[str] = set()
        self.taken = taken if taken is not None else set()
        self.merge(contacts)

    def free(self, found: list[Contact]) -> list[Contact]:
        return [c for c in found if c.contact_id not in self.taken]

    def add(self, contact: Contact) -> None:
        """A customer this sync created (or adopted): no other client may take it."""
        self.merge([contact])
        self.taken.add(contact.contact_id)

    def merge(self, contacts: Iterable[Contact]) -> None:
        """Add customers, or replace what the index held for them (a renamed one leaves its old name)."""
        for contact in contacts:
            old = self.by_id.get(contact.contact_id)
            if old is not None:
                self._drop(old)
            self.by_id[contact.contact_id] = contact
            self.by_name[normalize_company(contact.contact_name)].append(contact)
            self.names.add(contact.contact_name)
            if contact.email:
                self.by_email[normalize_email(contact.email)].append(contact)

    def _drop(self, contact: Contact) -> None:
        named = self.by_name[normalize_company(contact.contact_name)]
        named[:] = [c for c in named if c.contact_id != contact.contact_id]
        self.names.discard(contact.contact_name)
        if contact.email:
            emailed = self.by_email[normalize_email(contact.email)]
            emailed[:] = [c for c in emailed if c.contact_id != contact.contact_id]


@dataclass
class _Kept:
    index: CustomerIndex
    newest: dt.datetime | None  # the latest last_modified_time read (Books' clock); None: unknown, read all again
    module_run_id: int
    token: int  # the lease token of the last slice that used the index in this process
    caught_up: float  # time.monotonic() of the last read from Books


_kept: OrderedDict[tuple[str, int, int], _Kept] = OrderedDict()
_lock = threading.Lock()


def books_customers(ctx: SyncContext) -> CustomerIndex:
    """The index for this slice: kept from an earlier slice of this run when possible, else read from Books."""
    key = (ctx.engine.url.render_as_string(), ctx.integration.id, ctx.module_run.sync_run_id)
    run = ctx.module_run
    with _lock:
        kept = _kept.get(key)
    if kept is None or kept.newest is None:
        contacts = list(ctx.books.iter_contacts(contact_type="customer"))
        kept = _Kept(CustomerIndex(contacts), _newest(contacts), run.id, run.token, time.monotonic())
    elif not _current(kept, run.id, run.token):
        _catch_up(ctx, kept)
    kept.module_run_id, kept.token = run.id, run.token
    with _lock:
        _kept[key] = kept
        _kept.move_to_end(key)
        while len(_kept) > KEPT_RUNS:
            _kept.popitem(last=False)
    return kept.index


def forget_all() -> None:
    """Drop every kept index (tests that count Books calls start from a cold worker)."""
    with _lock:
        _kept.clear()


def _current(kept: _Kept, module_run_id: int, token: int) -> bool:
    # the previous claim of this module was this process's own (or this is the same claim): nobody else wrote
    ours = kept.module_run_id == module_run_id and token - kept.token in (0, 1)
    return ours and time.monotonic() - kept.caught_up < CATCH_UP_AFTER


def _catch_up(ctx: SyncContext, kept: _Kept) -> None:
    assert kept.newest is not None
    since = max(kept.newest, EPOCH + OVERLAP) - OVERLAP
    changed = []
    newest_first = ctx.books.iter_contacts(contact_type="customer", sort_column="last_modified_time", sort_order="D")
    for contact in newest_first:  # lazily paged: stops at the first page that reaches back before ``since``
        modified = _moment(contact.last_modified_time)
        if modified is not None and modified < since:
            break
        changed.append(contact)
    kept.index.merge(changed)
    kept.newest = max(kept.newest, _newest(changed) or kept.newest)
    kept.caught_up = time.monotonic()


def _newest(contacts: list[Contact]) -> dt.datetime | None:
    moments = [_moment(c.last_modified_time) for c in contacts]
    if any(m is None for m in moments):
        return None  # without Books' stamps a catch-up could miss changes: such an index is read whole each time
    return max((m for m in moments if m is not None), default=EPOCH)


def _moment(value: str) -> dt.datetime | None:
    """Books' ``2013-09-18T18:05:27+0530``."""
    try:
        return dt.datetime.strptime(value.strip(), "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None
