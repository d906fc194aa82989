"""The billing-claims side of timesheets: logs before the cutoff date, and entries already invoiced.

A log dated before the integration's cutoff date counts as invoiced elsewhere (Zoho: "earlier logs →
Invoiced"). It is claimed with side ``cutoff`` under its **Projects log id** (it has no Books time entry), so
no invoice made by this system, from either side, can ever bill it. Claims made by invoicing use the Books
time entry id; ``invoiced_claim`` reads those to refuse edits without asking Books.
"""

from __future__ import annotations

import sqlalchemy as sa

from shared.clock import utcnow
from shared.db.schema import billing_claims

ITEM_TYPE = "time_entry"
CUTOFF_SIDE = "cutoff"


def _key(integration_id: int, item_id: str) -> tuple[sa.ColumnElement[bool], ...]:
    return (
        billing_claims.c.integration_id == integration_id,
        billing_claims.c.item_type == ITEM_TYPE,
        billing_claims.c.item_id == item_id,
    )


def claim_cutoff(conn: sa.Connection, integration_id: int, log_id: str) -> None:
    """Idempotent: a log seen again on every run keeps its one claim."""
    exists = conn.execute(sa.select(billing_claims.c.id).where(*_key(integration_id, log_id))).first()
    if exists is None:
        conn.execute(
            billing_claims.insert().values(
                integration_id=integration_id,
                item_type=ITEM_TYPE,
                item_id=log_id,
                side=CUTOFF_SIDE,
                state="claimed",
                claimed_at=utcnow(),
            )
        )


def release_cutoff(conn: sa.Connection, integration_id: int, log_id: str) -> None:
    """The cutoff moved earlier: the log is unbilled again. Only our own cutoff claim is released."""
    conn.execute(billing_claims.delete().where(*_key(integration_id, log_id), billing_claims.c.side == CUTOFF_SIDE))


def invoiced_claim(conn: sa.Connection, integration_id: int, time_entry_id: str) -> str | None:
    """The invoice (reference or id) that claimed this Books time entry, if an invoice did."""
    row = conn.execute(
        sa.select(billing_claims.c.invoice_reference, billing_claims.c.books_invoice_id).where(
            *_key(integration_id, time_entry_id), billing_claims.c.side != CUTOFF_SIDE
        )
    ).first()
    if row is None:
        return None
    return row.invoice_reference or row.books_invoice_id or "an invoice"
