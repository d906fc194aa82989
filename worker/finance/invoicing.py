"""Sending a project-side finance request to Books, exactly once (design §8).

The request's items were claimed (``pending``, under the request's deterministic reference) when it was
created. Here, holding the request's lease:

1. look Books up by the reference first — a worker that died between the POST and the commit left the record
   there, and it is adopted instead of created again;
2. otherwise POST it, carrying the reference (``reference_number``), the project on every line and the customer;
3. in ONE transaction, fenced by the lease: the request confirmed (Books id and number), its claims confirmed,
   the transaction row written (origin ``projects``), so the Finance view shows what Books confirmed.

Books refusing the request (validation) ends it ``refused`` with Books' message and releases its claims.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from shared import finance_requests as requests_db
from shared.clock import utcnow
from shared.config import Settings
from shared.db import claims, transactions
from shared.db.integrations import Integration, get_integration
from shared.db.transactions import TransactionRecord
from shared.finance_requests import FinanceRequest
from shared.zoho.books import BooksClient
from shared.zoho.errors import FatalError, RateLimited, RetryableError, ValidationFailed

log = logging.getLogger(__name__)
BACKOFF_SECONDS = (1, 6, 24, 120)  # times BPSYNC_RETRY_BACKOFF_SECONDS, like module retries


class LeaseLost(Exception):
    """Another worker took the request over (this one stalled past its lease): write nothing more."""


# ----------------------------------------------------------------------------------------------- per kind
def _money(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


def _lines(request: FinanceRequest) -> list[dict[str, Any]]:
    return [{**line, "project_id": request.books_project_id} for line in request.payload.get("line_items", [])]


def _body(request: FinanceRequest, *fields: str) -> dict[str, Any]:
    payload = request.payload
    return {f: payload[f] for f in fields if payload.get(f) not in (None, "")}


def _find_invoice(books: BooksClient, request: FinanceRequest) -> Any:
    for invoice in books.iter_invoices(reference_number=request.reference):
        if invoice.reference_number == request.reference:
            return books.get_invoice(invoice.invoice_id)
    return None


def _create_invoice(books: BooksClient, request: FinanceRequest) -> Any:
    body = {
        "customer_id": request.customer_id,
        "reference_number": request.reference,
        **_body(request, "date", "due_date", "payment_terms", "notes", "terms"),
        "line_items": _lines(request),
    }
    return books.create_invoice(body)


def _invoice_record(request: FinanceRequest, invoice: Any) -> TransactionRecord:
    return TransactionRecord(
        kind="invoice",
        books_id=invoice.invoice_id,
        books_project_id=request.books_project_id,
        projects_project_id=request.projects_project_id,
        number=invoice.invoice_number or None,
        date=invoice.date,
        customer_id=invoice.customer_id or request.customer_id,
        customer_name=invoice.customer_name or None,
        status=invoice.status or None,
        total=_money(invoice.total),
        balance=_money(invoice.balance),
        currency_code=invoice.currency_code or None,
        reference_number=invoice.reference_number or request.reference,
        payload={"line_items": [line.model_dump() for line in invoice.line_items]},
    )


def _find_estimate(books: BooksClient, request: FinanceRequest) -> Any:
    for estimate in books.iter_estimates(customer_id=request.customer_id, reference_number=request.reference):
        if estimate.reference_number == request.reference:
            return books.get_estimate(estimate.estimate_id)
    return None


def _create_estimate(books: BooksClient, request: FinanceRequest) -> Any:
    body = {
        "customer_id": request.customer_id,
        "reference_number": request.reference,
        **_body(request, "date", "expiry_date", "notes"),
        "line_items": _lines(request),
    }
    return books.create_estimate(body)


def _estimate_record(request: FinanceRequest, estimate: Any) -> TransactionRecord:
    return TransactionRecord(
        kind="quote",
        books_id=estimate.estimate_id,
        books_project_id=request.books_project_id,
        projects_project_id=request.projects_project_id,
        number=estimate.estimate_number or None,
        date=estimate.date,
        customer_id=estimate.customer_id or request.customer_id,
        customer_name=estimate.customer_name or None,
        status=estimate.status or None,
        total=_money(estimate.total),
        currency_code=estimate.currency_code or None,
        reference_number=estimate.reference_number or request.reference,
        payload={"line_items": [line.model_dump() for line in estimate.line_items]},
    )


def _find_expense(books: BooksClient, request: FinanceRequest) -> Any:
    for expense in books.iter_expenses(reference_number=request.reference):
        if expense.reference_number == request.reference:
            return books.get_expense(expense.expense_id)
    return None


def _create_expense(books: BooksClient, request: FinanceRequest) -> Any:
    body = {
        "reference_number": request.reference,
        "project_id": request.books_project_id,
        **_body(request, "account_id", "paid_through_account_id", "date", "amount", "description", "currency_id"),
        "is_billable": bool(request.customer_id),
    }
    if request.customer_id:
        body["customer_id"] = request.customer_id
    return books.create_expense(body)


def _expense_record(request: FinanceRequest, expense: Any) -> TransactionRecord:
    return TransactionRecord(
        kind="expense",
        books_id=expense.expense_id,
        books_project_id=request.books_project_id,
        projects_project_id=request.projects_project_id,
        number=None,
        date=expense.date,
        customer_id=expense.customer_id or None,
        customer_name=expense.customer_name or None,
        status=expense.status or None,
        total=_money(expense.total if expense.total is not None else expense.amount),
        currency_code=expense.currency_code or None,
        reference_number=expense.reference_number or request.reference,
        payload={
            "is_billable": expense.is_billable,
            "description": expense.description,
            "account_name": expense.account_name,
            "invoice_id": expense.invoice_id,
        },
    )


def _recurring_reference(books: BooksClient, recurring_invoice_id: str) -> str:
    # the typed model has no reference_number; read it from the raw record
    body = books.call(
        "GET", f"/recurringinvoices/{recurring_invoice_id}", template="/recurringinvoices/{recurring_invoice_id}"
    )
    return str((body.get("recurring_invoice") or {}).get("reference_number") or "")


def _find_recurring(books: BooksClient, request: FinanceRequest) -> Any:
    name = request.payload.get("recurrence_name")
    for profile in books.iter_recurring_invoices(customer_id=request.customer_id, recurrence_name=name):
        if profile.recurrence_name == name and _recurring_reference(books, profile.recurring_invoice_id) == (
            request.reference
        ):
            return books.get_recurring_invoice(profile.recurring_invoice_id)
    return None


def _create_recurring(books: BooksClient, request: FinanceRequest) -> Any:
    body = {
        "customer_id": request.customer_id,
        "reference_number": request.reference,
        **_body(request, "recurrence_name", "recurrence_frequency", "repeat_every", "start_date", "end_date"),
        "line_items": _lines(request),
    }
    return books.create_recurring_invoice(body)


def _recurring_record(request: FinanceRequest, profile: Any) -> TransactionRecord:
    total = sum((line.rate or 0) * (line.quantity or 0) for line in profile.line_items)
    return TransactionRecord(
        kind="recurring_invoice",
        books_id=profile.recurring_invoice_id,
        books_project_id=request.books_project_id,
        projects_project_id=request.projects_project_id,
        number=profile.recurrence_name or None,
        date=profile.start_date,
        customer_id=profile.customer_id or request.customer_id,
        customer_name=profile.customer_name or None,
        status=profile.status or None,
        total=_money(total),
        currency_code=profile.currency_code or None,
        reference_number=request.reference,
        payload={
            "recurrence_frequency": profile.recurrence_frequency,
            "repeat_every": profile.repeat_every,
            "end_date": profile.end_date.isoformat() if profile.end_date else None,
        },
    )


@dataclass(frozen=True)
class Kind:
    find: Callable[[BooksClient, FinanceRequest], Any]
    create: Callable[[BooksClient, FinanceRequest], Any]
    record: Callable[[FinanceRequest, Any], TransactionRecord]


KINDS = {
    "invoice": Kind(_find_invoice, _create_invoice, _invoice_record),
    "quote": Kind(_find_estimate, _create_estimate, _estimate_record),
    "expense": Kind(_find_expense, _create_expense, _expense_record),
    "recurring_invoice": Kind(_find_recurring, _create_recurring, _recurring_record),
}


# ----------------------------------------------------------------------------------------------- sending
@dataclass(frozen=True)
class Outcome:
    state: str
    detail: str
    throttled_until: dt.datetime | None = None  # queued because Zoho said 429: when it may go again


def send(
    engine: sa.Engine,
    settings: Settings,
    request_id: int,
    books_for: Callable[[Integration], BooksClient],
) -> Outcome:
    """Send one request if it is due and nobody else holds it; the outcome says what happened."""
    request = requests_db.take(engine, request_id, settings.module_lease_seconds)
    if request is None:
        return Outcome("skipped", "held elsewhere, a draft, or finished")
    integration = get_integration(engine, request.integration_id)
    if integration.state != "active":
        return _retry_later(engine, settings, request, "the integration is disabled", give_up=False)
    kind = KINDS[request.kind]
    books = books_for(integration)
    try:
        record = kind.find(books, request)
        adopted = record is not None
        if record is None:
            record = kind.create(books, request)
    except ValidationFailed as exc:
        return _refuse(engine, request, f"Zoho Books refused the {request.kind.replace('_', ' ')}: {exc.message}")
    except RateLimited as exc:
        retry_at = dt.datetime.fromtimestamp(exc.retry_at, dt.UTC)
        outcome = _retry_later(engine, settings, request, exc.message, at=retry_at, give_up=False)
        return dataclasses.replace(outcome, throttled_until=retry_at)
    except RetryableError as exc:
        return _retry_later(engine, settings, request, str(exc))
    except FatalError as exc:  # e.g. revoked credentials, the project gone from Books: nothing was created
        return _refuse(engine, request, str(exc), state="failed")
    confirmed = _confirm(engine, request, kind.record(request, record))
    how = "found in Books by its reference" if adopted else "created in Books"
    log.info("finance request %s (%s %s) %s", request.id, request.kind, request.reference, how)
    return Outcome("confirmed", f"{request.kind} {confirmed} {how}")


def _confirm(engine: sa.Engine, request: FinanceRequest, record: TransactionRecord) -> str:
    with engine.begin() as conn:
        if not requests_db.finish(
            conn, request, state="confirmed", books_id=record.books_id, number=record.number, error=None
        ):
            raise LeaseLost(f"finance request {request.id}: lease lost before confirming {record.books_id}")
        claims.confirm(conn, request.integration_id, request.reference, record.books_id)
        transactions.upsert(conn, request.integration_id, record, origin="projects")
    return record.number or record.books_id


def _refuse(engine: sa.Engine, request: FinanceRequest, message: str, *, state: str = "refused") -> Outcome:
    with engine.begin() as conn:
        if not requests_db.finish(conn, request, state=state, error=message):
            raise LeaseLost(f"finance request {request.id}: lease lost before recording the refusal")
        claims.release_reference(conn, request.integration_id, request.reference)
    return Outcome(state, message)


def _retry_later(
    engine: sa.Engine,
    settings: Settings,
    request: FinanceRequest,
    error: str,
    *,
    at: dt.datetime | None = None,
    give_up: bool = True,
) -> Outcome:
    if give_up and request.attempts >= settings.max_module_attempts:
        # nothing Books holds under the reference was found by this attempt's look-up; the transactions poll
        # claims anything Books made after all
        return _refuse(engine, request, f"{error} (gave up after {request.attempts} attempts)", state="failed")
    step = BACKOFF_SECONDS[min(request.attempts, len(BACKOFF_SECONDS)) - 1]
    retry_at = at or utcnow() + dt.timedelta(seconds=step * settings.retry_backoff_seconds)
    if not requests_db.release(engine, request, retry_at=retry_at, error=f"attempt {request.attempts}: {error}"):
        raise LeaseLost(f"finance request {request.id}: lease lost before the retry was noted")
    return Outcome("queued", f"retry at {retry_at.isoformat()}: {error}")
