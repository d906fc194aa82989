"""Creating invoices, quotes, expenses and recurring invoices from the project side (web form, API, CLI).

Bad input is refused before anything is written or sent (``Refused`` names the field). A valid request is one
``finance_requests`` row; for an invoice, the SAME transaction claims every item it bills (time entries,
expenses, completed tasks) in ``billing_claims`` — a second claim fails on the unique constraint and the
refusal names the invoice that holds the item. After the commit the worker task sends it to Books at once.

An invoice without a customer is a draft: nothing is claimed or sent until ``choose_customer`` sets one.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from celery import Celery

from scheduler.finance.zoho import books_client
from shared import finance_requests as requests_db
from shared.clock import utcnow
from shared.config import Settings
from shared.db import links
from shared.db.integrations import Integration, get_integration
from shared.db.schema import finance_requests
from shared.finance_requests import FinanceRequest
from shared.zoho.books import BooksClient
from shared.zoho.books_models import BooksProject, Contact
from shared.zoho.errors import NotFound, ValidationFailed

FREQUENCIES = ("days", "weeks", "months", "years")


class Refused(Exception):
    """The request is not created; ``message`` says why (a 400, 404 or 409 for the API)."""

    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


@dataclass(frozen=True)
class Target:
    integration: Integration
    projects_project_id: str
    books_project_id: str


# ----------------------------------------------------------------------------------------------- parsing
def parse_date(value: Any, field: str, *, default: dt.date | None = None) -> dt.date | None:
    if value in (None, ""):
        return default
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise Refused(f"{field}: {value!r} is not a date (use YYYY-MM-DD)") from None


def parse_amount(value: Any, field: str, *, positive: bool = True) -> Decimal:
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise Refused(f"{field}: {value!r} is not a number") from None
    if not amount.is_finite() or amount < 0 or (positive and amount == 0):
        raise Refused(f"{field}: must be {'more than' if positive else 'at least'} 0, got {value}")
    return amount.quantize(Decimal("0.01"))


def parse_lines(raw: Any) -> list[dict[str, Any]]:
    """Line items as ``[{"name", "rate", "quantity"?, "description"?}]`` or CLI strings ``NAME:RATE[:QTY]``."""
    if not isinstance(raw, list | tuple) or not raw:
        raise Refused('line_items: give at least one line (name and rate, e.g. "Design work:1200")')
    lines = []
    for n, item in enumerate(raw, start=1):
        if isinstance(item, str):
            item = _line_of_text(item)
        if not isinstance(item, dict) or not str(item.get("name") or "").strip():
            raise Refused(f'line_items[{n}]: needs a name and a rate (e.g. "Design work:1200" or {{"name", "rate"}})')
        name = str(item["name"]).strip()
        if len(name) > 100:
            raise Refused(f"line_items[{n}]: the name is longer than 100 characters")
        line = {
            "name": name,
            "rate": float(parse_amount(item.get("rate", ""), f"line_items[{n}].rate", positive=False)),
            "quantity": float(parse_amount(item.get("quantity", 1), f"line_items[{n}].quantity")),
        }
        if item.get("description"):
            line["description"] = str(item["description"])[:2000]
        lines.append(line)
    return lines


def _line_of_text(text: str) -> dict[str, Any]:
    """``NAME:RATE`` or ``NAME:RATE:QUANTITY`` (the name may hold colons: the numbers are taken from the end)."""
    parts = text.split(":")
    if len(parts) >= 3 and _is_number(parts[-1]) and _is_number(parts[-2]):
        return {"name": ":".join(parts[:-2]), "rate": parts[-2], "quantity": parts[-1]}
    if len(parts) >= 2:
        return {"name": ":".join(parts[:-1]), "rate": parts[-1]}
    return {"name": text, "rate": ""}


def _is_number(text: str) -> bool:
    try:
        Decimal(text.strip())
    except InvalidOperation:
        return False
    return True


# ----------------------------------------------------------------------------------------------- checks
def target(engine: sa.Engine, ref: int | str, projects_project_id: str) -> Target:
    integration = get_integration(engine, ref)
    if integration.state != "active":
        raise Refused(f"integration {integration.name!r} is disabled; enable it first", 409)
    with engine.connect() as conn:
        link = links.get_link(conn, integration.id, "project", str(projects_project_id))
    if link is None or link.pending or not link.books_id:
        raise Refused(
            f"project {projects_project_id} is not a synced project of {integration.name!r} (list them with: "
            f"bpsync projects {integration.name})",
            404,
        )
    return Target(integration, link.projects_id, link.books_id)


def books_project(books: BooksClient, t: Target) -> BooksProject:
    try:
        return books.get_project(t.books_project_id)
    except NotFound:
        raise Refused(f"project {t.projects_project_id} is no longer in Zoho Books (refresh projects)", 409) from None


def customer_of(books: BooksClient, customer_id: str, project: BooksProject, currency: str | None) -> Contact:
    """A Books customer whose currency is the project's (and ``currency``, when one is given)."""
    try:
        contact = books.get_contact(str(customer_id))
    except (NotFound, ValidationFailed):
        raise Refused(f"customer {customer_id!r} is not a Zoho Books customer") from None
    if contact.contact_type and contact.contact_type != "customer":
        raise Refused(f"customer {customer_id!r} ({contact.contact_name}) is a {contact.contact_type}, not a customer")
    if currency and contact.currency_code and currency.upper() != contact.currency_code.upper():
        raise Refused(
            f"currency {currency.upper()} does not match customer {contact.contact_name}'s currency "
            f"{contact.currency_code}"
        )
    if project.currency_code and contact.currency_code and contact.currency_code != project.currency_code:
        raise Refused(
            f"customer {contact.contact_name} bills in {contact.currency_code}, the project in "
            f"{project.currency_code}; choose a customer in {project.currency_code}"
        )
    return contact


def customers(settings: Settings, integration: Integration) -> list[Contact]:
    """The Books customers to choose from (the draft picker)."""
    books = books_client(settings, integration)
    found = [c for c in books.iter_contacts(contact_type="customer") if c.contact_type in ("", "customer")]
    return sorted((c for c in found if c.status != "inactive"), key=lambda c: c.contact_name.lower())


# ----------------------------------------------------------------------------------------------- writes
def _insert(
    conn: sa.Connection,
    t: Target,
    kind: str,
    *,
    customer_id: str | None,
    state: str,
    scope: str = "project",
    scope_id: str | None = None,
    payload: dict[str, Any],
) -> int:
    now = utcnow()
    request_id = conn.execute(
        finance_requests.insert()
        .values(
            integration_id=t.integration.id,
            kind=kind,
            projects_project_id=t.projects_project_id,
            books_project_id=t.books_project_id,
            customer_id=customer_id,
            scope=scope,
            scope_id=scope_id,
            payload=payload,
            reference=f"new-{uuid.uuid4().hex}",
            state=state,
            attempts=0,
            lease_until=now + dt.timedelta(seconds=requests_db.REQUEUE_SECONDS),
            created_at=now,
            updated_at=now,
        )
        .returning(finance_requests.c.id)
    ).scalar_one()
    conn.execute(
        finance_requests.update()
        .where(finance_requests.c.id == request_id)
        .values(reference=requests_db.reference_for(t.integration.id, request_id))
    )
    return int(request_id)


def _load(engine: sa.Engine, request_id: int) -> FinanceRequest:
    with engine.connect() as conn:
        request = requests_db.get(conn, request_id)
    assert request is not None
    return request


def _simple(
    engine: sa.Engine, app: Celery, t: Target, kind: str, customer_id: str | None, payload: dict[str, Any]
) -> FinanceRequest:
    with engine.begin() as conn:
        request_id = _insert(conn, t, kind, customer_id=customer_id, state="queued", payload=payload)
    requests_db.enqueue(app, request_id)
    return _load(engine, request_id)


def request_quote(
    engine: sa.Engine,
    settings: Settings,
    app: Celery,
    ref: int | str,
    project_id: str,
    *,
    line_items: Any,
    customer_id: str | None = None,
    date: Any = None,
    expiry_date: Any = None,
    notes: str | None = None,
    currency: str | None = None,
) -> FinanceRequest:
    """A quote (Books estimate) for the project, to its customer unless another one is given."""
    t = target(engine, ref, project_id)
    lines = parse_lines(line_items)
    day, expiry = parse_date(date, "date"), parse_date(expiry_date, "expiry_date")
    if day and expiry and expiry < day:
        raise Refused(f"expiry_date {expiry} is before date {day}")
    books = books_client(settings, t.integration)
    project = books_project(books, t)
    customer = customer_of(books, customer_id or project.customer_id, project, currency)
    payload = {
        "line_items": lines,
        "notes": notes,
        "date": day and day.isoformat(),
        "expiry_date": expiry and expiry.isoformat(),
        "total": _total(lines),
    }
    return _simple(engine, app, t, "quote", customer.contact_id, payload)


def request_expense(
    engine: sa.Engine,
    settings: Settings,
    app: Celery,
    ref: int | str,
    project_id: str,
    *,
    amount: Any,
    account_id: str | None,
    paid_through_account_id: str | None,
    date: Any = None,
    description: str | None = None,
    customer_id: str | None = None,
    currency: str | None = None,
) -> FinanceRequest:
    """A billable expense of the project, for its customer (it shows as unbilled until invoiced)."""
    t = target(engine, ref, project_id)
    value = parse_amount(amount, "amount")
    day = parse_date(date, "date", default=dt.date.today())
    for field, given in (("account_id", account_id), ("paid_through_account_id", paid_through_account_id)):
        if not str(given or "").strip():
            raise Refused(f"{field}: required (the Books expense account and the account it was paid through)")
    if description and len(description) > 100:
        raise Refused("description: longer than 100 characters")
    books = books_client(settings, t.integration)
    project = books_project(books, t)
    customer = customer_of(books, customer_id or project.customer_id, project, currency)
    if customer.contact_id != project.customer_id:
        raise Refused(f"customer {customer.contact_name}: a project's expense is billed to the project's customer")
    payload = {
        "amount": float(value),
        "date": day and day.isoformat(),
        "account_id": account_id,
        "paid_through_account_id": paid_through_account_id,
        "description": description or "",
        "total": float(value),
    }
    return _simple(engine, app, t, "expense", customer.contact_id, payload)


def request_recurring_invoice(
    engine: sa.Engine,
    settings: Settings,
    app: Celery,
    ref: int | str,
    project_id: str,
    *,
    name: str,
    frequency: str,
    line_items: Any,
    repeat_every: Any = 1,
    start_date: Any = None,
    end_date: Any = None,
    customer_id: str | None = None,
    currency: str | None = None,
) -> FinanceRequest:
    """A recurring invoice profile for the project (Books bills it every ``repeat_every`` ``frequency``)."""
    t = target(engine, ref, project_id)
    if not str(name or "").strip() or len(name) > 100:
        raise Refused("name: required, at most 100 characters (the recurring invoice's profile name)")
    if frequency not in FREQUENCIES:
        raise Refused(f"frequency: one of {', '.join(FREQUENCIES)}, got {frequency!r}")
    try:
        every = int(str(repeat_every))
    except ValueError:
        every = 0
    if every < 1:
        raise Refused(f"repeat_every: a whole number of {frequency} of at least 1, got {repeat_every!r}")
    lines = parse_lines(line_items)
    start = parse_date(start_date, "start_date", default=dt.date.today())
    end = parse_date(end_date, "end_date")
    if start and end and end < start:
        raise Refused(f"end_date {end} is before start_date {start}")
    books = books_client(settings, t.integration)
    project = books_project(books, t)
    customer = customer_of(books, customer_id or project.customer_id, project, currency)
    payload = {
        "recurrence_name": name.strip(),
        "recurrence_frequency": frequency,
        "repeat_every": every,
        "start_date": start and start.isoformat(),
        "end_date": end and end.isoformat(),
        "line_items": lines,
        "total": _total(lines),
    }
    return _simple(engine, app, t, "recurring_invoice", customer.contact_id, payload)


def _total(lines: list[dict[str, Any]]) -> float:
    return float(
        sum((Decimal(str(ln["rate"])) * Decimal(str(ln["quantity"])) for ln in lines), Decimal(0)).quantize(
            Decimal("0.01")
        )
    )
