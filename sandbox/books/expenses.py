"""``/expenses``: money spent, optionally re-billable to a customer (and project) until invoiced."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from starlette.responses import Response

from sandbox.books import records, rules
from sandbox.books.dispatch import BooksCall, endpoint
from sandbox.books.envelope import bad_request, invalid_value, required, success
from sandbox.books.formats import date_text, money, parse_bool, parse_date, parse_number, timestamp
from sandbox.books.listing import ListSpec, matches_id, matches_text, page_of
from sandbox.world import Expense, World

_STATUS_PARAM = {  # the list's ``status`` values → the record's status (note "non-billable" vs "nonbillable")
    "unbilled": lambda e: e.status == "unbilled",
    "invoiced": lambda e: e.status == "invoiced",
    "reimbursed": lambda e: e.status == "reimbursed",
    "non-billable": lambda e: not e.is_billable,
    "billable": lambda e: e.is_billable,
}
LIST = ListSpec(
    report_name="Expenses",
    sort_keys={
        "date": lambda e: e.date,
        "account_name": lambda e: e.account_name,
        "total": lambda e: e.amount,
        "bcy_total": lambda e: e.amount,
        "reference_number": lambda e: e.reference_number,
        "created_time": lambda e: e.created_time,
    },
    default_sort="date",
    default_order="D",
    filters={
        "Status.All": lambda e: True,
        "Status.Billable": _STATUS_PARAM["billable"],
        "Status.Nonbillable": _STATUS_PARAM["non-billable"],
        "Status.Reimbursed": _STATUS_PARAM["reimbursed"],
        "Status.Invoiced": _STATUS_PARAM["invoiced"],
        "Status.Unbilled": _STATUS_PARAM["unbilled"],
    },
    default_filter="Status.All",
)


def render_row(world: World, expense: Expense) -> dict[str, Any]:
    return {
        "expense_id": expense.expense_id,
        "date": date_text(expense.date),
        "account_name": expense.account_name,
        "description": expense.description,
        **records.currency_fields(world, expense.organization_id, expense.currency_id),
        "bcy_total": money(expense.amount),
        "total": money(expense.amount),
        "is_billable": expense.is_billable,
        "reference_number": expense.reference_number,
        "customer_id": expense.customer_id,
        "customer_name": records.contact_name(world, expense.customer_id),
        "status": expense.status,
        "created_time": timestamp(expense.created_time),
        "last_modified_time": timestamp(expense.last_modified_time),
        "expense_receipt_name": "",
        "expense_type": "non-mileage",
    }


def render(world: World, expense: Expense) -> dict[str, Any]:
    invoice = world.invoices.get(expense.invoice_id)
    return render_row(world, expense) | {
        "account_id": expense.account_id,
        "paid_through_account_id": expense.paid_through_account_id,
        "paid_through_account_name": "Petty Cash",
        "exchange_rate": 1.0,
        "sub_total": money(expense.amount),
        "amount": money(expense.amount),
        "is_personal": False,
        "is_itemized_expense": False,
        "invoice_id": expense.invoice_id,
        "invoice_number": invoice.invoice_number if invoice else "",
        "project_id": expense.project_id,
        "project_name": records.project_name(world, expense.project_id),
    }


def _apply(world: World, expense: Expense, body: dict[str, Any]) -> None:
    org_id = expense.organization_id
    for field in ("account_id", "paid_through_account_id"):
        if field in body:
            if not str(body[field] or "").strip():
                raise invalid_value(field)
            setattr(expense, field, str(body[field]))
    if "date" in body:
        expense.date = parse_date(body["date"], "date")
    if "amount" in body:
        expense.amount = parse_number(body["amount"], "amount")
        if expense.amount <= 0:
            raise invalid_value("amount")
    for field, limit in (("description", 100), ("reference_number", 100)):
        if field in body:
            value = str(body[field] or "")
            if len(value) > limit:
                raise invalid_value(field)
            setattr(expense, field, value)
    if "is_billable" in body:
        expense.is_billable = parse_bool(body["is_billable"], "is_billable")
    if "customer_id" in body:
        customer_id = str(body["customer_id"] or "")
        if customer_id and records.find_or_none(world.contacts, customer_id, org_id) is None:
            raise invalid_value("customer_id")
        expense.customer_id = customer_id
    if "project_id" in body:
        expense.project_id = str(body["project_id"] or "")
    if body.get("currency_id"):
        if records.find_or_none(world.currencies, str(body["currency_id"]), org_id) is None:
            raise invalid_value("currency_id")
        expense.currency_id = str(body["currency_id"])
    _check_billing(world, expense)


def _check_billing(world: World, expense: Expense) -> None:
    if expense.is_billable and not expense.customer_id:
        raise bad_request(rules.CODE_INVALID_VALUE, "A billable expense needs a customer (customer_id).")
    if expense.project_id:
        project = records.find_or_none(world.books_projects, expense.project_id, expense.organization_id)
        if project is None or project.customer_id != expense.customer_id:
            raise invalid_value("project_id")
    expense.status = "unbilled" if expense.is_billable else rules.EXPENSE_NONBILLABLE_STATUS


def create_expense(world: World, org_id: str, body: dict[str, Any]) -> Expense:
    """Shared by ``POST /expenses`` and the sandbox acts."""
    for field in ("date", "account_id", "amount", "paid_through_account_id"):
        if body.get(field) in (None, ""):
            raise required(field)
    now = world.now_ms()
    expense = Expense(world.books_id(), org_id, "", "", dt.date.min, 0.0, created_time=now, last_modified_time=now)
    base = records.base_currency(world, org_id)
    expense.currency_id = base.currency_id if base else ""
    _apply(world, expense, body)
    world.expenses[expense.expense_id] = expense
    return expense


def refuse_if_invoiced(expense: Expense, action: str) -> None:
    if expense.status == "invoiced":
        raise bad_request(
            rules.CODE_ALREADY_INVOICED,
            f"The expense {expense.expense_id} has been invoiced and cannot be {action}. Delete the invoice first.",
        )


def _expense(call: BooksCall) -> Expense:
    return records.find(call.world.expenses, call.path["expense_id"], call.org_id, "Expense")


def _matches(world: World, query: dict[str, str], expense: Expense) -> bool:
    status = query.get("status")
    if status and not _STATUS_PARAM[status](expense):
        return False
    dates = {"date": lambda d: expense.date == d, "date_start": lambda d: expense.date >= d,
             "date_end": lambda d: expense.date <= d, "date_after": lambda d: expense.date > d,
             "date_before": lambda d: expense.date < d}  # fmt: skip
    if not all(check(parse_date(query[n], n)) for n, check in dates.items() if query.get(n)):
        return False
    search = query.get("search_text", "").casefold()
    return (
        matches_id(query, "customer_id", expense.customer_id)
        and matches_text(query, "reference_number", expense.reference_number)
        and matches_text(query, "description", expense.description)
        and matches_text(query, "customer_name", records.contact_name(world, expense.customer_id))
        and (not search or search in f"{expense.description} {expense.reference_number}".casefold())
    )


def list_expenses(call: BooksCall) -> Response:
    world, query = call.world, call.query
    if query.get("status") and query["status"] not in _STATUS_PARAM:
        raise invalid_value("status")
    rows = [e for e in records.in_org(world.expenses, call.org_id) if _matches(world, query, e)]
    by_name = {**LIST.sort_keys, "customer_name": lambda e: records.contact_name(world, e.customer_id)}
    page, context = page_of(query, rows, dataclasses.replace(LIST, sort_keys=by_name), lambda e: e.expense_id)
    return success(expenses=[render_row(world, e) for e in page], page_context=context)


def get_expense(call: BooksCall) -> Response:
    return success(expense=render(call.world, _expense(call)))


def post_expense(call: BooksCall) -> Response:
    expense = create_expense(call.world, call.org_id, call.body)
    rendered = render(call.world, expense)
    call.emit("expense.created", {"organization_id": call.org_id, "expense": rendered})
    return success("The expense has been recorded.", status=201, expense=rendered)


def put_expense(call: BooksCall) -> Response:
    expense = _expense(call)
    refuse_if_invoiced(expense, "edited")
    staged = dataclasses.replace(expense)
    _apply(call.world, staged, call.body)
    staged.last_modified_time = call.world.now_ms()
    call.world.expenses[expense.expense_id] = staged
    rendered = render(call.world, staged)
    call.emit("expense.updated", {"organization_id": call.org_id, "expense": rendered})
    return success("The expense has been updated.", expense=rendered)


def delete_expense(call: BooksCall) -> Response:
    expense = _expense(call)
    refuse_if_invoiced(expense, "deleted")
    del call.world.expenses[expense.expense_id]
    call.emit("expense.deleted", {"organization_id": call.org_id, "expense_id": expense.expense_id})
    return success("The expense has been deleted.")


routes = [
    endpoint("/expenses", get=list_expenses, post=post_expense),
    endpoint("/expenses/{expense_id}", get=get_expense, put=put_expense, delete=delete_expense),
]
