"""Invoices from the project side: what they bill, claimed in the transaction that decides it.

- project + customer: the project's unbilled, billable, approved time (when the customer is the project's
  customer: Books bills a project's time only to it) and the project's unbilled expenses of that customer;
- task / milestone / task list: the unbilled time of that task (or of the tasks under the milestone or list);
  a completed task is claimed too (``task``), so it is never invoiced again from either side;
- blank customer: a draft; nothing is claimed or sent until ``choose_customer``.

Time bills at Books' rate for it (the project's billing type: project, task or staff hourly rate). Time Books
gives no rate bills at the request's ``rate`` when one is given; an invoice whose total is zero is refused, never
sent (ours: a zero invoice would still mark the time billed in Books).
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from celery import Celery

from scheduler.finance import items as billable
from scheduler.finance.create import (
    Refused,
    Target,
    _insert,
    _load,
    books_project,
    customer_of,
    parse_amount,
    parse_date,
    target,
)
from scheduler.finance.zoho import books_client, projects_client
from shared import finance_requests as requests_db
from shared.clock import utcnow
from shared.config import Settings
from shared.db import claims
from shared.db.schema import billing_claims, finance_requests
from shared.finance_requests import SCOPES, FinanceRequest
from shared.zoho.books import BooksClient
from shared.zoho.books_models import BooksProject, Contact


def request_invoice(
    engine: sa.Engine,
    settings: Settings,
    app: Celery,
    ref: int | str,
    project_id: str,
    *,
    customer_id: str | None = None,
    scope: str = "project",
    scope_id: str | None = None,
    date: Any = None,
    due_date: Any = None,
    notes: str | None = None,
    currency: str | None = None,
    rate: Any = None,
) -> FinanceRequest:
    """Claim and queue an invoice, or keep a draft when no customer is given.

    ``rate``: the hourly rate of time that Books gives no rate (refused unless a positive number)."""
    t = target(engine, ref, project_id)
    if scope not in SCOPES:
        raise Refused(f"scope: one of {', '.join(SCOPES)}, got {scope!r}")
    if scope != "project" and not str(scope_id or "").strip():
        raise Refused(f"{scope}: give the {scope}'s Zoho Projects id")
    day, due = parse_date(date, "date"), parse_date(due_date, "due_date")
    if day and due and due < day:
        raise Refused(f"due_date {due} is before date {day}")
    hourly = None if rate in (None, "") else parse_amount(rate, "rate")
    fields = {
        "date": day and day.isoformat(),
        "due_date": due and due.isoformat(),
        "notes": notes,
        "currency": currency,
        "rate": None if hourly is None else str(hourly),
    }
    scope_id = str(scope_id).strip() if scope != "project" else None
    if not str(customer_id or "").strip():
        with engine.begin() as conn:
            request_id = _insert(
                conn, t, "invoice", customer_id=None, state="draft", scope=scope, scope_id=scope_id, payload=fields
            )
        return _load(engine, request_id)
    books = books_client(settings, t.integration)
    project = books_project(books, t)
    customer = customer_of(books, str(customer_id).strip(), project, currency)
    return _bill(engine, settings, app, t, books, project, customer, scope, scope_id, fields, None)


def choose_customer(
    engine: sa.Engine,
    settings: Settings,
    app: Celery,
    ref: int | str,
    request_id: int,
    customer_id: str,
    *,
    currency: str | None = None,
) -> FinanceRequest:
    """Give a draft invoice its customer: its items are claimed and it is sent to Books at once."""
    with engine.connect() as conn:
        draft = requests_db.get(conn, request_id)
    if draft is None:
        raise Refused(f"no finance request {request_id}", 404)
    t = target(engine, ref, draft.projects_project_id)
    if draft.integration_id != t.integration.id:
        raise Refused(f"finance request {request_id} belongs to another integration", 404)
    if draft.state != "draft":
        raise Refused(f"finance request {request_id} is {draft.state}, not a draft waiting for its customer", 409)
    if not str(customer_id or "").strip():
        raise Refused("customer: choose one of the Zoho Books customers")
    books = books_client(settings, t.integration)
    project = books_project(books, t)
    customer = customer_of(books, str(customer_id).strip(), project, currency or draft.payload.get("currency"))
    return _bill(
        engine, settings, app, t, books, project, customer, draft.scope, draft.scope_id, draft.payload, draft.id
    )


def _bill(
    engine: sa.Engine,
    settings: Settings,
    app: Celery,
    t: Target,
    books: BooksClient,
    project: BooksProject,
    customer: Contact,
    scope: str,
    scope_id: str | None,
    fields: dict[str, Any],
    draft_id: int | None,
) -> FinanceRequest:
    iid = t.integration.id
    task_ids: set[str] | None = None
    completed: list[str] = []
    with engine.connect() as conn:
        if scope != "project":
            assert scope_id is not None
            try:
                task_ids, tasks = billable.scope_task_ids(
                    conn, projects_client(settings, t.integration), iid, t.projects_project_id, scope, scope_id
                )
            except ValueError as exc:
                raise Refused(str(exc), 404) from None
            completed = [task.id for task in tasks if task.completed]
            if scope != "task":  # a milestone/list skips its completed tasks already invoiced
                invoiced = {c.item_id for c in claims.holders(conn, iid, [("task", i) for i in completed])}
                completed = [i for i in completed if i not in invoiced]
        own_customer = customer.contact_id == project.customer_id
        held: list[claims.Claim] = []
        time = (
            billable.unbilled_time(books, conn, iid, project, books_task_ids=task_ids, held=held)
            if own_customer
            else []
        )
    with engine.begin() as conn:
        expenses = billable.unbilled_expenses(conn, iid, project.project_id, customer.contact_id, held)
        expenses = expenses if scope == "project" else []
        held = claims.holders(conn, iid, [("task", i) for i in completed])
        if held:  # an invoiced completed task is never invoiced again, even with time logged later
            raise Refused(f"not invoiced: {claims.AlreadyClaimed(held)}", 409)
        if not time and not expenses and held:
            # what looked unbilled is held by another invoice (e.g. claimed a moment ago): name it
            raise Refused(f"not invoiced: {claims.AlreadyClaimed(held)}", 409)
        if not time and not expenses:
            what = "project" if scope == "project" else f"{scope} {scope_id}"
            whose = "" if own_customer else f" for customer {customer.contact_name} (not the project's customer)"
            billed_time = (
                billable.invoiced_time(books, conn, iid, project, books_task_ids=task_ids) if own_customer else []
            )
            last = billed_time[0] if billed_time else _last_holder(conn, iid, t.projects_project_id)
            billed = f"; what it had is already billed by {last.describe()}" if last else ""
            raise Refused(
                f"nothing to invoice: the {what} has no unbilled billable time or expenses{whose}{billed}", 409
            )
        if fields.get("rate"):
            hourly = Decimal(str(fields["rate"]))
            time = [dataclasses.replace(i, rate=hourly) if not i.rate else i for i in time]
        lines = billable.invoice_lines(time, expenses)
        payload = {
            **fields,
            "line_items": lines,
            "total": sum(ln["rate"] * ln["quantity"] for ln in lines),
            "hours": float(sum(i.hours for i in time)),
            "customer_name": customer.contact_name,
        }
        payload["total"] = round(float(payload["total"]), 2)
        if payload["total"] <= 0:
            raise Refused(_zero_total(project, time), 409)
        if draft_id is None:
            request_id = _insert(
                conn,
                t,
                "invoice",
                customer_id=customer.contact_id,
                state="queued",
                scope=scope,
                scope_id=scope_id,
                payload=payload,
            )
        else:
            request_id = draft_id
            moved = conn.execute(
                finance_requests.update()
                .where(finance_requests.c.id == draft_id, finance_requests.c.state == "draft")
                .values(
                    state="queued",
                    customer_id=customer.contact_id,
                    payload=payload,
                    updated_at=utcnow(),
                    lease_until=utcnow(),
                )
            ).rowcount
            if not moved:
                raise Refused(f"finance request {draft_id} is no longer a draft", 409)
        reference = requests_db.reference_for(iid, request_id)
        items = [("time_entry", i.time_entry_id) for i in time] + [("expense", e.expense_id) for e in expenses]
        items += [("task", task_id) for task_id in completed]
        try:
            claims.claim(conn, iid, items, side="projects", state="pending", reference=reference, request_id=request_id)
        except claims.AlreadyClaimed as exc:
            # the with-block rolls back: neither the request nor any claim is written
            raise Refused(f"not invoiced: {exc}", 409) from None
    requests_db.enqueue(app, request_id)
    return _load(engine, request_id)


def _zero_total(project: BooksProject, time: list[billable.TimeItem]) -> str:
    how = {
        "based_on_task_hours": "on task hours and these tasks have no rate in Zoho Books",
        "based_on_staff_hours": "on staff hours and these people have no rate in Zoho Books",
        "based_on_project_hours": "on project hours and the project has no rate in Zoho Books",
        "fixed_cost_for_project": "at a fixed cost, not by the hour",
    }.get(project.billing_type, f"as {project.billing_type or 'unknown'}")
    hours = sum((i.hours for i in time), Decimal(0))
    return (
        f"not invoiced: the total would be 0.00 ({hours} h of time; Zoho Books project {project.project_name!r} "
        f'bills {how}); give an hourly rate for that time (--rate, API "rate", the form\'s rate field) or set '
        "the rate in Zoho Books"
    )


def _last_holder(conn: sa.Connection, iid: int, projects_project_id: str) -> claims.Claim | None:
    """The invoice that most recently claimed items of this project from the project side."""
    row = conn.execute(
        sa.select(billing_claims.c.item_type, billing_claims.c.item_id)
        .join(finance_requests, finance_requests.c.id == billing_claims.c.request_id)
        .where(finance_requests.c.integration_id == iid, finance_requests.c.projects_project_id == projects_project_id)
        .order_by(billing_claims.c.claimed_at.desc(), billing_claims.c.id.desc())
        .limit(1)
    ).first()
    found = claims.holders(conn, iid, [(row.item_type, row.item_id)]) if row else []
    return found[0] if found else None
