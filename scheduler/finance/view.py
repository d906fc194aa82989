"""The Finance view of one synced project: its transactions, its requests, what is unbilled, and totals.

Transactions and requests come from the database (what Books confirmed); unbilled time is read from Books
(hours and rates are Books'), unbilled expenses from the transactions table. When Books cannot be reached the
rest of the view still answers, with ``unbilled_time`` null and ``books_error`` saying why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from scheduler.finance import items as billable
from scheduler.finance.create import Refused, target
from scheduler.finance.zoho import books_client
from shared import finance_requests as requests_db
from shared.config import Settings
from shared.db import claims, links, transactions
from shared.db.integrations import Integration
from shared.db.schema import billing_claims, finance_requests
from shared.db.schema import transactions as table
from shared.finance_requests import FinanceRequest
from shared.zoho.errors import ZohoError

ZERO = Decimal("0.00")


def _num(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


@dataclass
class FinanceView:
    integration: Integration
    projects_project_id: str
    books_project_id: str
    name: str | None
    customer_id: str | None = None
    customer_name: str | None = None
    currency_code: str | None = None
    transactions: list[sa.Row] = field(default_factory=list)
    requests: list[FinanceRequest] = field(default_factory=list)
    time: list[billable.TimeItem] | None = None
    expenses: list[billable.ExpenseItem] = field(default_factory=list)
    books_error: str | None = None
    # completed tasks an invoice claimed (never invoiced again), with the Books task name when Books was read
    invoiced_tasks: list[claims.Claim] = field(default_factory=list)
    task_names: dict[str, str] = field(default_factory=dict)

    def invoiced_tasks_json(self) -> list[dict[str, Any]]:
        return [
            {
                "task_id": c.item_id,
                "task_name": self.task_names.get(c.item_id),
                "invoice": c.invoice_number or c.invoice_reference or c.books_invoice_id,
                "books_invoice_id": c.books_invoice_id,
                "side": c.side,
                "state": c.state,
                "held_by": c.describe(),
            }
            for c in self.invoiced_tasks
        ]

    def of_kind(self, kind: str) -> list[sa.Row]:
        return [t for t in self.transactions if t.kind == kind]

    @property
    def unbilled_hours(self) -> Decimal | None:
        return None if self.time is None else sum((t.hours for t in self.time), ZERO)

    @property
    def unbilled_time_amount(self) -> Decimal | None:
        return None if self.time is None else sum((t.amount for t in self.time), ZERO)

    @property
    def unbilled_expenses_amount(self) -> Decimal:
        return sum((e.amount for e in self.expenses), ZERO)

    @property
    def totals(self) -> dict[str, float | None]:
        invoices = [t for t in self.of_kind("invoice") if t.status not in ("void", "draft")]
        time_amount = self.unbilled_time_amount
        return {
            "invoiced": _num(sum((t.total or ZERO for t in invoices), ZERO)),
            "outstanding": _num(sum((t.balance or ZERO for t in invoices), ZERO)),
            "quoted": _num(sum((t.total or ZERO for t in self.of_kind("quote")), ZERO)),
            "expenses": _num(sum((t.total or ZERO for t in self.of_kind("expense")), ZERO)),
            "unbilled_time": _num(time_amount),
            "unbilled_expenses": _num(self.unbilled_expenses_amount),
            "unbilled": _num((time_amount or ZERO) + self.unbilled_expenses_amount),
        }

    @property
    def drafts(self) -> list[FinanceRequest]:
        return [r for r in self.requests if r.state == "draft"]

    def as_json(self) -> dict[str, Any]:
        return {
            "integration_id": self.integration.id,
            "integration": self.integration.name,
            "project": {
                "projects_id": self.projects_project_id,
                "books_id": self.books_project_id,
                "name": self.name,
                "customer_id": self.customer_id,
                "customer_name": self.customer_name,
                "currency_code": self.currency_code,
            },
            "transactions": [transaction_json(t) for t in self.transactions],
            "requests": [r.as_json() for r in self.requests],
            "unbilled_time": None
            if self.time is None
            else {
                "entries": len(self.time),
                "hours": _num(self.unbilled_hours),
                "amount": _num(self.unbilled_time_amount),
                "items": [t.as_json() for t in self.time],
            },
            "unbilled_expenses": {
                "count": len(self.expenses),
                "amount": _num(self.unbilled_expenses_amount),
                "items": [e.as_json() for e in self.expenses],
            },
            "invoiced_tasks": self.invoiced_tasks_json(),
            "totals": self.totals,
            "books_error": self.books_error,
        }


def transaction_json(row: sa.Row) -> dict[str, Any]:
    return {
        "kind": row.kind,
        "books_id": row.books_id,
        "number": row.number,
        "date": row.date.isoformat() if row.date else None,
        "customer_id": row.customer_id,
        "customer_name": row.customer_name,
        "status": row.status,
        "total": _num(row.total),
        "balance": _num(row.balance),
        "currency_code": row.currency_code,
        "reference_number": row.reference_number,
        "origin": row.origin,
    }


def finance_view(engine: sa.Engine, settings: Settings, ref: int | str, project_id: str) -> FinanceView:
    """The project's Finance view; Refused (404) for a project that is not synced."""
    t = target(engine, ref, project_id)
    iid = t.integration.id
    with engine.connect() as conn:
        link = links.get_link(conn, iid, "project", t.projects_project_id)
        view = FinanceView(
            t.integration,
            t.projects_project_id,
            t.books_project_id,
            (link.attributes or {}).get("books_name") if link else None,
            transactions=_project_transactions(conn, iid, t.projects_project_id, t.books_project_id),
            requests=requests_db.of_project(conn, iid, t.projects_project_id),
            expenses=billable.unbilled_expenses(conn, iid, t.books_project_id),
            invoiced_tasks=invoiced_tasks(conn, iid, t.projects_project_id),
        )
        try:
            books = books_client(settings, t.integration)
            project = books.get_project(t.books_project_id)
            view.customer_id, view.customer_name = project.customer_id or None, project.customer_name or None
            view.currency_code = project.currency_code or None
            view.name = project.project_name or view.name
            view.time = billable.unbilled_time(books, conn, iid, project)
            names = {task.task_id: task.task_name for task in project.tasks}
            for claim in view.invoiced_tasks:
                books_task = links.books_id_of(conn, iid, "task", claim.item_id) or links.books_id_of(
                    conn, iid, "bug", claim.item_id
                )
                if books_task in names:
                    view.task_names[claim.item_id] = names[books_task]
        except ZohoError as exc:
            view.books_error = f"unbilled time could not be read from Zoho Books: {exc}"
    return view


def invoiced_tasks(conn: sa.Connection, iid: int, projects_project_id: str) -> list[claims.Claim]:
    """The project's completed tasks an invoice holds. Only the project side claims tasks (Books invoices time
    entries, not tasks): a task claim belongs to a request of this project."""
    ids = conn.execute(
        sa.select(billing_claims.c.item_id)
        .join(finance_requests, finance_requests.c.id == billing_claims.c.request_id)
        .where(
            billing_claims.c.integration_id == iid,
            billing_claims.c.item_type == "task",
            finance_requests.c.projects_project_id == projects_project_id,
        )
    ).scalars()
    return claims.holders(conn, iid, [("task", i) for i in ids])


def _project_transactions(conn: sa.Connection, iid: int, projects_id: str, books_id: str) -> list[sa.Row]:
    rows = {r.id: r for r in transactions.of_project(conn, iid, projects_id)}
    # rows known only by the Books project id (e.g. an expense the poll saw before the project's link)
    extra = conn.execute(
        sa.select(table).where(
            table.c.integration_id == iid, table.c.books_project_id == books_id, table.c.deleted_at.is_(None)
        )
    ).all()
    rows.update({r.id: r for r in extra})
    return sorted(rows.values(), key=lambda r: (r.date is not None, r.date, r.id), reverse=True)


__all__ = ["FinanceView", "Refused", "finance_view"]
