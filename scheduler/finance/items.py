"""What a project has to bill: unbilled billable time and unbilled expenses, not held by any invoice.

Time: the project's Books time entries that Books lists as unbilled, that the timesheets module wrote (a linked
time log — so billable AND approved in Zoho Projects) and that no billing claim holds. Hours and rates come
from Books (the project's billing type: project, task or staff hourly rate).

Expenses: the project's expenses the transactions table knows (kind ``expense``, from Books' webhooks/poll or
created here) for one customer, billable and unbilled, that no claim holds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from shared.db import claims, links
from shared.db.schema import transactions
from shared.zoho.books import BooksClient
from shared.zoho.books_models import BooksProject
from shared.zoho.projects import ProjectsClient
from shared.zoho.projects_models import Task

TIMESHEET_ENTITY = "timesheet"
CENT = Decimal("0.01")


def money(value: float | Decimal | None) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT)


@dataclass(frozen=True)
class TimeItem:
    time_entry_id: str
    task_id: str
    task_name: str
    log_date: dt.date | None
    minutes: int
    rate: Decimal

    @property
    def hours(self) -> Decimal:
        return (Decimal(self.minutes) / 60).quantize(CENT)

    @property
    def amount(self) -> Decimal:
        return (self.rate * Decimal(self.minutes) / 60).quantize(CENT)

    def as_json(self) -> dict[str, object]:
        return {
            "time_entry_id": self.time_entry_id,
            "task_id": self.task_id,
            "task_name": self.task_name,
            "log_date": self.log_date.isoformat() if self.log_date else None,
            "hours": float(self.hours),
            "rate": float(self.rate),
            "amount": float(self.amount),
        }


@dataclass(frozen=True)
class ExpenseItem:
    expense_id: str
    date: dt.date | None
    description: str
    customer_id: str | None
    amount: Decimal

    def as_json(self) -> dict[str, object]:
        return {
            "expense_id": self.expense_id,
            "date": self.date.isoformat() if self.date else None,
            "description": self.description,
            "customer_id": self.customer_id,
            "amount": float(self.amount),
        }


def _rate(project: BooksProject, task_id: str, user_id: str) -> Decimal:
    if project.billing_type == "based_on_project_hours":
        return money(project.rate)
    if project.billing_type == "based_on_task_hours":
        return money(next((t.rate for t in project.tasks if t.task_id == task_id), 0))
    if project.billing_type == "based_on_staff_hours":
        return money(next((u.rate for u in project.users if u.user_id == user_id), 0))
    return money(0)  # fixed cost: the hours are billed at no rate


def unclaimed(
    conn: sa.Connection, integration_id: int, item_type: str, ids: Iterable[str], held: list[claims.Claim] | None = None
) -> set[str]:
    """The ids no claim holds; the holders of the others are added to ``held`` (to name them in a refusal)."""
    wanted = [(item_type, i) for i in ids]
    holders = claims.holders(conn, integration_id, wanted)
    if held is not None:
        held.extend(holders)
    return {i for _, i in wanted} - {c.item_id for c in holders}


def unbilled_time(
    books: BooksClient,
    conn: sa.Connection,
    integration_id: int,
    project: BooksProject,
    *,
    books_task_ids: set[str] | None = None,
    held: list[claims.Claim] | None = None,
) -> list[TimeItem]:
    """The project's billable time no invoice holds (only the given Books tasks' when ``books_task_ids``)."""
    linked = links.claimed_books_ids(conn, integration_id, TIMESHEET_ENTITY)
    entries = [
        e
        for e in books.iter_time_entries(project_id=project.project_id, filter_by="Status.Unbilled")
        if e.time_entry_id in linked
        and e.is_billable
        and e.billed_status != "invoiced"
        and (books_task_ids is None or e.task_id in books_task_ids)
    ]
    free = unclaimed(conn, integration_id, "time_entry", [e.time_entry_id for e in entries], held)
    names = {t.task_id: t.task_name for t in project.tasks}
    return sorted(
        (
            TimeItem(
                e.time_entry_id,
                e.task_id,
                names.get(e.task_id, ""),
                e.log_date,
                e.minutes,
                _rate(project, e.task_id, e.user_id),
            )
            for e in entries
            if e.time_entry_id in free
        ),
        key=lambda t: (t.log_date or dt.date.min, t.time_entry_id),
    )


def invoiced_time(
    books: BooksClient,
    conn: sa.Connection,
    integration_id: int,
    project: BooksProject,
    *,
    books_task_ids: set[str] | None = None,
) -> list[claims.Claim]:
    """Who bills the project's linked time entries that Books lists as invoiced (for a refusal to name them).

    The claim when one holds the entry; otherwise Books' own word (the entry's ``invoice_id``), which the
    transactions poll turns into a claim on its next round (worker/finance/billed.py)."""
    linked = links.claimed_books_ids(conn, integration_id, TIMESHEET_ENTITY)
    entries = [
        e
        for e in books.iter_time_entries(project_id=project.project_id, filter_by="Status.Invoiced")
        if e.time_entry_id in linked and (books_task_ids is None or e.task_id in books_task_ids)
    ]
    held = claims.holders(conn, integration_id, [("time_entry", e.time_entry_id) for e in entries])
    known = {c.item_id for c in held}
    said = [
        claims.Claim("time_entry", e.time_entry_id, "books", claims.BILLED, None, e.invoice_id or None, None)
        for e in entries
        if e.time_entry_id not in known
    ]
    return held + said


def unbilled_expenses(
    conn: sa.Connection,
    integration_id: int,
    books_project_id: str,
    customer_id: str | None = None,
    held: list[claims.Claim] | None = None,
) -> list[ExpenseItem]:
    """The project's billable, unbilled expenses no invoice holds (one customer's when ``customer_id``)."""
    query = sa.select(transactions).where(
        transactions.c.integration_id == integration_id,
        transactions.c.kind == "expense",
        transactions.c.books_project_id == books_project_id,
        transactions.c.deleted_at.is_(None),
        transactions.c.status == "unbilled",
    )
    if customer_id is not None:
        query = query.where(transactions.c.customer_id == customer_id)
    rows = [r for r in conn.execute(query.order_by(transactions.c.date, transactions.c.id)).all()]
    rows = [r for r in rows if (r.payload or {}).get("is_billable", True) and r.customer_id]
    free = unclaimed(conn, integration_id, "expense", [r.books_id for r in rows], held)
    return [
        ExpenseItem(r.books_id, r.date, str((r.payload or {}).get("description") or ""), r.customer_id, money(r.total))
        for r in rows
        if r.books_id in free
    ]


def scope_task_ids(
    conn: sa.Connection,
    projects: ProjectsClient,
    integration_id: int,
    projects_project_id: str,
    scope: str,
    scope_id: str,
) -> tuple[set[str], list[Task]]:
    """The Books task ids a task/milestone/tasklist scope bills, and the Projects tasks under it.

    ValueError names a scope id the project does not have (or a task that is not synced).
    """
    tasks = list(projects.iter_tasks(projects_project_id))
    if scope == "task":
        books_id = links.books_id_of(conn, integration_id, "task", scope_id) or links.books_id_of(
            conn, integration_id, "bug", scope_id
        )
        if books_id is None:
            raise ValueError(f"task {scope_id} is not a synced task of project {projects_project_id}")
        return {books_id}, [t for t in tasks if t.id == scope_id]
    tasklists = list(projects.iter_tasklists(projects_project_id))
    if scope == "tasklist":
        if scope_id not in {t.id for t in tasklists}:
            raise ValueError(f"task list {scope_id} is not in project {projects_project_id}")
        wanted = {scope_id}
    else:
        if scope_id not in {m.id for m in projects.iter_milestones(projects_project_id)}:
            raise ValueError(f"milestone {scope_id} is not in project {projects_project_id}")
        wanted = {t.id for t in tasklists if t.milestone_id == scope_id}
    under = [t for t in tasks if t.tasklist_id in wanted]
    books_ids = {b for t in under if (b := links.books_id_of(conn, integration_id, "task", t.id))}
    return books_ids, under


def invoice_lines(time: list[TimeItem], expenses: list[ExpenseItem]) -> list[dict[str, Any]]:
    """One line per task and rate (its time entries), one per expense; the worker adds the project to each."""
    groups: dict[tuple[str, Decimal], list[TimeItem]] = {}
    for item in time:
        groups.setdefault((item.task_id, item.rate), []).append(item)
    lines: list[dict[str, object]] = []
    for (_task, rate), items in groups.items():
        minutes = sum(i.minutes for i in items)
        lines.append(
            {
                "name": (items[0].task_name or "Time")[:100],
                "description": f"{len(items)} time entr{'y' if len(items) == 1 else 'ies'}, {minutes / 60:.2f} h",
                "rate": float(rate),
                "quantity": round(minutes / 60, 2),
                "time_entry_ids": [i.time_entry_id for i in items],
            }
        )
    for expense in expenses:
        lines.append(
            {
                "name": (f"Expense: {expense.description}" if expense.description else "Expense")[:100],
                "rate": float(expense.amount),
                "quantity": 1,
                "expense_id": expense.expense_id,
            }
        )
    return lines
