"""What the transactions module keeps of a Books record: the shapes it lists and reads, and ``detail_of``.

Invoices, quotes (Books "estimates"), expenses and recurring invoices, normalized across kinds (``Detail``): the
transaction row (without its project, resolved by the pull), the Books projects it names and the items an
invoice bills on its lines. Books' timestamps (``last_modified_time``) are its cursors. Used by the pull
(worker/finance/pull.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from shared.db import transactions
from shared.zoho.books_models import (
    Amount,
    BooksId,
    BooksModel,
    Estimate,
    Expense,
    Invoice,
    RecurringInvoice,
)

RESOURCE_OF = {
    "invoice": "invoices",
    "quote": "estimates",
    "expense": "expenses",
    "recurring_invoice": "recurring_invoices",
}
# Books' event/entity names -> our kind (webhook payloads name the Books entity)
KIND_OF_ENTITY = {
    "invoice": "invoice",
    "estimate": "quote",
    "expense": "expense",
    "recurring_invoice": "recurring_invoice",
}
BOOKS_TIME = "%Y-%m-%dT%H:%M:%S%z"


def parse_books_time(value: str | None) -> dt.datetime | None:
    if not value or not str(value).strip():
        return None
    try:
        return dt.datetime.strptime(str(value).strip(), BOOKS_TIME).astimezone(dt.UTC)
    except ValueError:
        try:
            parsed = dt.datetime.fromisoformat(str(value).strip())
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def books_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime(BOOKS_TIME)


# ---------------------------------------------------------------------------------------------- Books shapes
class _Listed(BooksModel):
    last_modified_time: str = ""
    # Books' timestamps have one-second resolution: an edit and a void in the same second share one
    # last_modified_time, so the status is compared too
    status: str = ""


class ListedInvoice(_Listed):
    invoice_id: BooksId


class ListedEstimate(_Listed):
    estimate_id: BooksId


class ListedExpense(_Listed):
    expense_id: BooksId


class ListedRecurring(_Listed):
    recurring_invoice_id: BooksId


class RecurringDetail(RecurringInvoice):
    # fields Books returns on a profile that the sync's model does not need
    total: Amount = None
    reference_number: str = ""
    last_modified_time: str = ""


class ExpenseDetail(Expense):
    invoice_number: str = ""
    # kept so the Finance page can offer the accounts expenses used (no chart-of-accounts list is documented)
    paid_through_account_id: BooksId = ""
    paid_through_account_name: str = ""


LISTED: dict[str, type[BaseModel]] = {
    "invoice": ListedInvoice,
    "quote": ListedEstimate,
    "expense": ListedExpense,
    "recurring_invoice": ListedRecurring,
}
DETAIL: dict[str, type[BaseModel]] = {
    "invoice": Invoice,
    "quote": Estimate,
    "expense": ExpenseDetail,
    "recurring_invoice": RecurringDetail,
}
ID_FIELD = {
    "invoice": "invoice_id",
    "quote": "estimate_id",
    "expense": "expense_id",
    "recurring_invoice": "recurring_invoice_id",
}


@dataclass(frozen=True)
class Hint:
    """A record a webhook named: ``kind`` is ours (invoice, quote, expense, recurring_invoice)."""

    kind: str
    books_id: str
    event: str = ""

    def as_json(self) -> list[str]:
        return [self.kind, self.books_id, self.event]

    @classmethod
    def from_json(cls, value: Any) -> Hint | None:
        if isinstance(value, list | tuple) and len(value) >= 2 and value[0] in RESOURCE_OF and str(value[1]).isdigit():
            return cls(str(value[0]), str(value[1]), str(value[2]) if len(value) > 2 else "")
        return None


@dataclass
class Detail:
    """One Books record, normalized across kinds."""

    kind: str
    books_id: str
    record: transactions.TransactionRecord | None  # without the project (resolved later)
    project_ids: list[str]  # Books project ids it names (top level and lines)
    items: set[tuple[str, str]]  # billable items an invoice bills
    expense_ids: list[str]
    expense_invoice_id: str = ""  # an expense billed by this invoice


@dataclass
class Known:
    last_modified_at: dt.datetime | None
    status: str | None
    deleted: bool
    projects_project_id: str | None
    books_project_id: str | None
    items: set[tuple[str, str]]
    read_at: dt.datetime | None = None  # our clock when we last read it from Books


def _decimal(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _items_of(lines: Iterable[Any]) -> set[tuple[str, str]]:
    items: set[tuple[str, str]] = set()
    for line in lines:
        for entry_id in line.time_entry_ids:
            if entry_id:
                items.add(("time_entry", str(entry_id)))
        if line.expense_id:
            items.add(("expense", str(line.expense_id)))
    return items


def _lines_payload(lines: Iterable[Any]) -> list[dict[str, Any]]:
    return [
        {
            "line_item_id": line.line_item_id,
            "name": line.name,
            "description": line.description,
            "rate": line.rate,
            "quantity": line.quantity,
            "project_id": line.project_id,
            "time_entry_ids": list(line.time_entry_ids),
            "expense_id": line.expense_id,
        }
        for line in lines
    ]


def detail_of(kind: str, raw: dict[str, Any]) -> Detail:
    """What we keep of one Books record (``raw`` as Books returned it)."""
    model: Any = DETAIL[kind].model_validate(raw)
    books_id = str(getattr(model, ID_FIELD[kind]))
    modified = parse_books_time(model.last_modified_time)
    lines = list(getattr(model, "line_items", []) or [])
    line_projects = [line.project_id for line in lines if line.project_id]
    common: dict[str, Any] = {
        "kind": kind,
        "books_id": books_id,
        "books_project_id": None,
        "projects_project_id": None,
        "customer_id": model.customer_id or None,
        "customer_name": model.customer_name or None,
        "status": model.status or None,
        "currency_code": model.currency_code or None,
        "last_modified_at": modified,
    }
    if kind == "invoice":
        record = transactions.TransactionRecord(
            **common,
            number=model.invoice_number or None,
            date=model.date,
            total=_decimal(model.total),
            balance=_decimal(model.balance),
            reference_number=(model.reference_number or "").strip() or None,
            recurring_invoice_id=model.recurring_invoice_id or None,
            payload={"line_items": _lines_payload(lines), "due_date": str(model.due_date or "") or None},
        )
        items = _items_of(lines)
        return Detail(kind, books_id, record, line_projects, items, [e for t, e in items if t == "expense"])
    if kind == "quote":
        record = transactions.TransactionRecord(
            **common,
            number=model.estimate_number or None,
            date=model.date,
            total=_decimal(model.total),
            reference_number=(model.reference_number or "").strip() or None,
            payload={"line_items": _lines_payload(lines), "expiry_date": str(model.expiry_date or "") or None},
        )
        return Detail(kind, books_id, record, line_projects, set(), [])
    if kind == "expense":
        record = transactions.TransactionRecord(
            **common,
            number=(model.reference_number or "").strip() or None,
            date=model.date,
            total=_decimal(model.total if model.total is not None else model.amount),
            reference_number=(model.reference_number or "").strip() or None,
            payload={
                "account_id": model.account_id or None,
                "account_name": model.account_name,
                "paid_through_account_id": model.paid_through_account_id or None,
                "paid_through_account_name": model.paid_through_account_name or None,
                "description": model.description,
                "is_billable": model.is_billable,
                "invoice_id": model.invoice_id or None,
                "invoice_number": model.invoice_number or None,
            },
        )
        projects = [model.project_id] if model.project_id else []
        return Detail(kind, books_id, record, projects, set(), [], model.invoice_id or "")
    record = transactions.TransactionRecord(
        **common,
        number=model.recurrence_name or None,
        date=model.start_date,
        total=_decimal(model.total),
        reference_number=(model.reference_number or "").strip() or None,
        payload={
            "line_items": _lines_payload(lines),
            "recurrence_frequency": model.recurrence_frequency,
            "repeat_every": model.repeat_every,
            "end_date": str(model.end_date or "") or None,
        },
    )
    projects = ([model.project_id] if model.project_id else []) + line_projects
    return Detail(kind, books_id, record, projects, set(), [])


def _payload_items(payload: Any) -> set[tuple[str, str]]:
    items: set[tuple[str, str]] = set()
    if not isinstance(payload, dict):
        return items
    for line in payload.get("line_items") or []:
        if not isinstance(line, dict):
            continue
        for entry_id in line.get("time_entry_ids") or []:
            items.add(("time_entry", str(entry_id)))
        if line.get("expense_id"):
            items.add(("expense", str(line["expense_id"])))
    return items
