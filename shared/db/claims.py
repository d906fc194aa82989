"""The billing ledger: which invoice holds each billable item, so nothing is ever invoiced twice.

One row per item (``billing_claims`` is unique on integration + item type + item id), whichever side invoices it:
- ``projects``: an invoice asked for on the project side (the Finance view, API, CLI). Claimed ``pending`` in the
  same transaction that decides to bill the items, before the Books POST; ``claimed`` once Books confirms it.
- ``books``: an invoice made directly in Zoho Books, discovered by the transactions module: from the items its
  lines name, or (state ``billed``) from Books' own word on the item — a time entry's ``billed_status`` or an
  expense's ``status`` says invoiced while no line we read names it (e.g. an invoice of no synced project).
- ``cutoff``: a time log dated before the integration's cutoff date (timesheets module; keyed by the log id).

A second claim of an item fails on the unique constraint — under any concurrency — and the refusal names the
invoice that holds the item. Voiding or deleting an invoice in Books releases its claims.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from shared.clock import utcnow
from shared.db.schema import billing_claims, transactions

ITEM_TYPES = ("time_entry", "expense", "task", "milestone", "tasklist")
SIDES = ("projects", "books", "cutoff")
LINE_ITEM_TYPES = ("time_entry", "expense")  # what an invoice's lines name
# a claim made from Books' status of the item, not from an invoice line: the invoice's lines never drop it (they
# do not show it); voiding or deleting that invoice, or Books' status going back to unbilled, releases it
BILLED = "billed"


@dataclass(frozen=True)
class Claim:
    item_type: str
    item_id: str
    side: str
    state: str
    invoice_reference: str | None
    books_invoice_id: str | None
    request_id: int | None
    invoice_number: str | None = None  # from the transactions table, when Books told us the number

    def describe(self) -> str:
        """Which invoice holds the item, in words: '"INV-000012" (Zoho Books)'."""
        where = {"projects": "this product's Finance view", "books": "Zoho Books", "cutoff": "before the cutoff date"}
        if self.side == "cutoff":
            return "invoiced before the integration's timesheet cutoff date"
        name = self.invoice_number or self.invoice_reference or self.books_invoice_id
        if name is None:
            return "an invoice in Zoho Books (billed in Zoho Books: its billed status says invoiced)"
        pending = " (being sent to Zoho Books)" if self.state == "pending" else ""
        return f"invoice {name!r} ({where.get(self.side, self.side)}){pending}"


class AlreadyClaimed(Exception):
    """An item is already held by another invoice; nothing of this claim was written."""

    def __init__(self, holders: list[Claim]) -> None:
        self.holders = holders
        first = holders[0]
        more = f" and {len(holders) - 1} more item(s)" if len(holders) > 1 else ""
        super().__init__(f"{first.item_type} {first.item_id} is already billed by {first.describe()}{more}")


def _key(integration_id: int, item_type: str, item_id: str) -> tuple[sa.ColumnElement[bool], ...]:
    return (
        billing_claims.c.integration_id == integration_id,
        billing_claims.c.item_type == item_type,
        billing_claims.c.item_id == item_id,
    )


def _claim(row: sa.Row[Any], number: str | None = None) -> Claim:
    return Claim(
        row.item_type,
        row.item_id,
        row.side,
        row.state,
        row.invoice_reference,
        row.books_invoice_id,
        row.request_id,
        number,
    )


def holders(conn: sa.Connection, integration_id: int, items: Iterable[tuple[str, str]]) -> list[Claim]:
    """The claims that hold any of ``items`` (with the invoice number when the transactions table knows it)."""
    wanted = list(items)
    if not wanted:
        return []
    rows = conn.execute(
        sa.select(billing_claims, transactions.c.number)
        .outerjoin(
            transactions,
            sa.and_(
                transactions.c.integration_id == billing_claims.c.integration_id,
                transactions.c.kind == "invoice",
                transactions.c.books_id == billing_claims.c.books_invoice_id,
            ),
        )
        .where(
            billing_claims.c.integration_id == integration_id,
            sa.tuple_(billing_claims.c.item_type, billing_claims.c.item_id).in_(wanted),
        )
        .order_by(billing_claims.c.item_type, billing_claims.c.item_id)
    ).all()
    return [_claim(r, r.number) for r in rows]


def claim(
    conn: sa.Connection,
    integration_id: int,
    items: Iterable[tuple[str, str]],
    *,
    side: str,
    state: str = "claimed",
    reference: str | None = None,
    books_invoice_id: str | None = None,
    request_id: int | None = None,
) -> None:
    """Claim every item for one invoice, all or nothing; AlreadyClaimed names the holders otherwise.

    Runs in a savepoint of the caller's transaction, so the caller's other writes (e.g. the request row) stay
    usable after a refusal and commit or roll back with it. The unique constraint decides races: of two
    transactions claiming the same item at once, the second waits for the first and then fails here.
    """
    wanted = sorted(set(items))  # one order for every claimer: no deadlock between two overlapping claims
    for item_type, _ in wanted:
        if item_type not in ITEM_TYPES:
            raise ValueError(f"unknown billable item type {item_type!r}")
    if side not in SIDES:
        raise ValueError(f"unknown billing side {side!r}")
    if not wanted:
        return
    taken = holders(conn, integration_id, wanted)
    if taken:
        raise AlreadyClaimed(taken)
    now = utcnow()
    rows = [
        {
            "integration_id": integration_id,
            "item_type": item_type,
            "item_id": item_id,
            "side": side,
            "state": state,
            "invoice_reference": reference,
            "books_invoice_id": books_invoice_id,
            "request_id": request_id,
            "claimed_at": now,
        }
        for item_type, item_id in wanted
    ]
    savepoint = conn.begin_nested()
    try:
        conn.execute(billing_claims.insert(), rows)
    except sa.exc.IntegrityError:
        savepoint.rollback()
        raise AlreadyClaimed(holders(conn, integration_id, wanted) or [_unknown(wanted[0])]) from None
    savepoint.commit()


def _unknown(item: tuple[str, str]) -> Claim:
    # a holder that committed and was released again between our insert and our read: still a refusal
    return Claim(item[0], item[1], "books", "claimed", None, None, None)


def confirm(conn: sa.Connection, integration_id: int, reference: str, books_invoice_id: str) -> int:
    """Books confirmed the invoice sent under ``reference``: its pending claims become claims of that invoice."""
    return int(
        conn.execute(
            billing_claims.update()
            .where(billing_claims.c.integration_id == integration_id, billing_claims.c.invoice_reference == reference)
            .values(state="claimed", books_invoice_id=books_invoice_id)
        ).rowcount
    )


def release_reference(conn: sa.Connection, integration_id: int, reference: str) -> int:
    """A request Books refused: its pending claims go, so the items can be invoiced again."""
    return int(
        conn.execute(
            billing_claims.delete().where(
                billing_claims.c.integration_id == integration_id,
                billing_claims.c.invoice_reference == reference,
                billing_claims.c.state == "pending",
            )
        ).rowcount
    )


def release_invoice(conn: sa.Connection, integration_id: int, books_invoice_id: str) -> int:
    """The invoice was voided or deleted in Books: every item it held is unbilled again."""
    return int(
        conn.execute(
            billing_claims.delete().where(
                billing_claims.c.integration_id == integration_id,
                billing_claims.c.books_invoice_id == books_invoice_id,
                billing_claims.c.side != "cutoff",
            )
        ).rowcount
    )


def items_of_invoice(conn: sa.Connection, integration_id: int, books_invoice_id: str) -> set[tuple[str, str]]:
    rows = conn.execute(
        sa.select(billing_claims.c.item_type, billing_claims.c.item_id).where(
            billing_claims.c.integration_id == integration_id, billing_claims.c.books_invoice_id == books_invoice_id
        )
    )
    return {(r.item_type, r.item_id) for r in rows}


def reclaim_invoice(
    conn: sa.Connection,
    integration_id: int,
    books_invoice_id: str,
    items: Iterable[tuple[str, str]],
    *,
    side: str,
    shown: Iterable[tuple[str, str]] = (),
) -> list[Claim]:
    """An invoice edited in Books now bills ``items``: release what it dropped, claim what it added.

    ``shown``: the items its lines showed when last read. A claim made from Books' status of the item (``billed``)
    goes only when the lines showed it and no longer do; one its lines never showed stays (they cannot tell).

    Items another invoice already holds are returned (Books billed them twice; the caller reports it) and not
    taken over: the ledger never moves an item between invoices on a guess.
    """
    wanted = set(items)
    held = items_of_invoice(conn, integration_id, books_invoice_id)
    # only time entries and expenses show on lines: a completed task's claim goes with its invoice, not an edit
    on_lines = {item for item in held if item[0] in LINE_ITEM_TYPES}
    dropped = on_lines - wanted - (billed_items(conn, integration_id, books_invoice_id) - set(shown))
    for item_type, item_id in sorted(dropped):
        conn.execute(
            billing_claims.delete().where(
                *_key(integration_id, item_type, item_id), billing_claims.c.books_invoice_id == books_invoice_id
            )
        )
    conflicts: list[Claim] = []
    for item in sorted(wanted - held):
        try:
            claim(conn, integration_id, [item], side=side, books_invoice_id=books_invoice_id)
        except AlreadyClaimed as exc:
            conflicts.extend(exc.holders)
    return conflicts


def billed_items(conn: sa.Connection, integration_id: int, books_invoice_id: str) -> set[tuple[str, str]]:
    """Items of the invoice claimed from Books' status of the item (state ``billed``), not from its lines."""
    rows = conn.execute(
        sa.select(billing_claims.c.item_type, billing_claims.c.item_id).where(
            billing_claims.c.integration_id == integration_id,
            billing_claims.c.books_invoice_id == books_invoice_id,
            billing_claims.c.state == BILLED,
        )
    )
    return {(r.item_type, r.item_id) for r in rows}


def claim_billed(conn: sa.Connection, integration_id: int, item: tuple[str, str], books_invoice_id: str | None) -> bool:
    """Books says the item is invoiced (by ``books_invoice_id`` when it says which) and no claim holds it: claim it
    side ``books``, state ``billed``. Returns whether it was claimed (False: a claim holds it already)."""
    try:
        claim(conn, integration_id, [item], side="books", state=BILLED, books_invoice_id=books_invoice_id or None)
    except AlreadyClaimed:
        return False
    return True


def billed_of_type(conn: sa.Connection, integration_id: int, item_type: str) -> set[str]:
    """The ids of ``item_type`` claimed from Books' status of the item (state ``billed``)."""
    rows = conn.execute(
        sa.select(billing_claims.c.item_id).where(
            billing_claims.c.integration_id == integration_id,
            billing_claims.c.item_type == item_type,
            billing_claims.c.state == BILLED,
        )
    )
    return {r.item_id for r in rows}


def release_billed_by(conn: sa.Connection, integration_id: int, books_invoice_id: str) -> int:
    """Books has no such invoice (deleted before we read it): the claims made from items naming it go."""
    return int(
        conn.execute(
            billing_claims.delete().where(
                billing_claims.c.integration_id == integration_id,
                billing_claims.c.books_invoice_id == books_invoice_id,
                billing_claims.c.state == BILLED,
            )
        ).rowcount
    )


def release_billed(conn: sa.Connection, integration_id: int, item: tuple[str, str]) -> int:
    """Books says the item is unbilled again: a claim made from its status goes (line claims are untouched)."""
    return int(
        conn.execute(
            billing_claims.delete().where(*_key(integration_id, *item), billing_claims.c.state == BILLED)
        ).rowcount
    )
