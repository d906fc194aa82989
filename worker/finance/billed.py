"""Items Books bills without an invoice line we can read: Books' own word on the item.

An invoice names the time entries and expenses it bills on its lines, and the pull claims them from there. But an
invoice of no synced project (a line without the project), or a line that does not carry ``time_entry_ids``, bills
items the pull never sees on a line. Books still says so on the item itself (reference §13, §14):

- a time entry's ``billed_status`` is ``invoiced`` (with ``invoice_id``); the list filter ``Status.Invoiced`` finds
  them. It has no modified-since filter, so the scan pages through the organization's invoiced time entries, ONE
  page (200 entries) per poll, and starts a new round BILLED_SCAN_EVERY after finishing one: its cost is one Books
  call per poll while a round runs, none in between. A claim made this way that a whole round did not list again
  is released (Books unbilled the entry, e.g. by an edit of an invoice whose lines never showed it);
- an expense's ``status`` is ``invoiced`` (with ``invoice_id``): the pull reads every changed expense anyway, so
  this costs nothing more (``expense_status``).

An item of ours (a linked time entry, an expense of a synced project) that no claim holds is claimed side
``books``, state ``billed`` (shared/db/claims.py), so the project side refuses it naming the invoice; that invoice
is then read like any other (it gets the item's project when its lines name none), so the Finance view shows it
and its void or deletion releases the claim.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from shared.db import claims
from shared.db.links import claimed_books_ids
from shared.zoho.books_api import RESOURCES
from shared.zoho.books_models import TimeEntry

if TYPE_CHECKING:  # the pull imports this module
    import sqlalchemy as sa

    from worker.finance.pull import Pull

BILLED_SCAN_EVERY = dt.timedelta(minutes=15)
TIMESHEET_ENTITY = "timesheet"


def _parse(value: object) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def scan_time_entries(pull: Pull) -> None:
    """One page of the organization's invoiced time entries: claim ours that no claim holds."""
    state = pull.state
    page = str(state.get("billed_page") or "") or None
    due = _parse(state.get("billed_due_at"))
    if page is None and due is not None and pull.now < due:
        return  # between rounds
    listed = pull.books.page(RESOURCES["time_entries"], TimeEntry, page, filter_by="Status.Invoiced")
    # the claims made from a billed status that this round saw listed as invoiced again (kept across pages)
    seen = set(state.get("billed_seen") or []) if page is not None else set()
    with pull.engine.begin() as conn:
        ours = claimed_books_ids(conn, pull.integration_id, TIMESHEET_ENTITY)
        for entry in listed.items:
            if entry.time_entry_id not in ours or entry.billed_status not in ("invoiced", ""):
                continue
            item = ("time_entry", entry.time_entry_id)
            if claims.claim_billed(conn, pull.integration_id, item, entry.invoice_id):
                pull.outcome.billed += 1
                if entry.invoice_id:
                    pull.follow_invoice(entry.invoice_id, entry.project_id)
            seen.add(entry.time_entry_id)
        held = claims.billed_of_type(conn, pull.integration_id, "time_entry")
        seen &= held
        if listed.next_cursor is None:
            # a whole round did not list them as invoiced: Books unbilled them (an edit we could not see)
            for entry_id in sorted(held - seen):
                pull.outcome.released += claims.release_billed(conn, pull.integration_id, ("time_entry", entry_id))
    pull.outcome.cursor["billed_page"] = listed.next_cursor
    pull.outcome.cursor["billed_seen"] = sorted(seen) if listed.next_cursor is not None else []
    if listed.next_cursor is None:
        pull.outcome.cursor["billed_due_at"] = (pull.now + BILLED_SCAN_EVERY).isoformat()


def expense_status(pull: Pull, conn: sa.Connection, expense_id: str, status: str | None, invoice_id: str) -> None:
    """An expense of a synced project as Books states it: invoiced -> claimed (unless held), unbilled -> released."""
    item = ("expense", expense_id)
    if status == "invoiced":
        if claims.claim_billed(conn, pull.integration_id, item, invoice_id):
            pull.outcome.billed += 1
    elif status == "unbilled":
        pull.outcome.released += claims.release_billed(conn, pull.integration_id, item)
