"""Transactions of synced projects as this product knows them (the Finance view's rows).

Written from Books' answers only — a webhook or the poll (Books → product), or Books' confirmation of a
transaction created on the project side — so a row always says what Books holds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from shared.clock import utcnow
from shared.db.engine import inserted_id
from shared.db.schema import transactions

KINDS = ("invoice", "quote", "expense", "recurring_invoice")


@dataclass(frozen=True)
class TransactionRecord:
    """What Books says about one transaction (ids are Books ids; the project is also given as Projects' id)."""

    kind: str
    books_id: str
    books_project_id: str | None
    projects_project_id: str | None
    number: str | None = None
    date: dt.date | None = None
    customer_id: str | None = None
    customer_name: str | None = None
    status: str | None = None
    total: Decimal | None = None
    balance: Decimal | None = None
    currency_code: str | None = None
    reference_number: str | None = None
    recurring_invoice_id: str | None = None
    last_modified_at: dt.datetime | None = None
    payload: dict[str, Any] | None = None  # e.g. line items, as Books gave them


def upsert(conn: sa.Connection, integration_id: int, record: TransactionRecord, *, origin: str) -> int:
    """Insert or update the row of (integration, kind, Books id); ``origin`` is kept from the first write."""
    if record.kind not in KINDS:
        raise ValueError(f"unknown transaction kind {record.kind!r}")
    values = {
        "books_project_id": record.books_project_id,
        "projects_project_id": record.projects_project_id,
        "number": record.number,
        "date": record.date,
        "customer_id": record.customer_id,
        "customer_name": record.customer_name,
        "status": record.status,
        "total": record.total,
        "balance": record.balance,
        "currency_code": record.currency_code,
        "reference_number": record.reference_number,
        "recurring_invoice_id": record.recurring_invoice_id,
        "last_modified_at": record.last_modified_at,
        "payload": record.payload,
        "deleted_at": None,
    }
    key = (
        transactions.c.integration_id == integration_id,
        transactions.c.kind == record.kind,
        transactions.c.books_id == record.books_id,
    )
    existing = conn.execute(sa.select(transactions.c.id).where(*key).with_for_update()).scalar()
    if existing is not None:
        conn.execute(transactions.update().where(transactions.c.id == existing).values(**values))
        return int(existing)
    savepoint = conn.begin_nested()
    try:
        row_id = inserted_id(
            conn.execute(
                transactions.insert().values(
                    integration_id=integration_id,
                    kind=record.kind,
                    books_id=record.books_id,
                    origin=origin,
                    created_at=utcnow(),
                    **values,
                )
            )
        )
    except sa.exc.IntegrityError:  # a webhook and the poll wrote it at the same moment: update theirs
        savepoint.rollback()
        existing = conn.execute(sa.select(transactions.c.id).where(*key)).scalar_one()
        conn.execute(transactions.update().where(transactions.c.id == existing).values(**values))
        return int(existing)
    savepoint.commit()
    return int(row_id)


def mark_deleted(conn: sa.Connection, integration_id: int, kind: str, books_id: str) -> bool:
    """Deleted in Books: the row stays (its claims' release is explained by it) but leaves the Finance view."""
    return bool(
        conn.execute(
            transactions.update()
            .where(
                transactions.c.integration_id == integration_id,
                transactions.c.kind == kind,
                transactions.c.books_id == books_id,
                transactions.c.deleted_at.is_(None),
            )
            .values(deleted_at=utcnow())
        ).rowcount
    )


def of_project(conn: sa.Connection, integration_id: int, projects_project_id: str) -> Sequence[sa.Row[Any]]:
    """The project's transactions that still exist in Books, newest first."""
    return conn.execute(
        sa.select(transactions)
        .where(
            transactions.c.integration_id == integration_id,
            transactions.c.projects_project_id == projects_project_id,
            transactions.c.deleted_at.is_(None),
        )
        .order_by(transactions.c.date.desc().nulls_last(), transactions.c.id.desc())
    ).all()
