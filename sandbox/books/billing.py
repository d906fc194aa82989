"""Invoices as a ledger of billed work: one place creates, edits, voids and deletes an invoice and keeps
time entries and expenses in step (``billed_status``/``status`` = invoiced, ``invoice_id``).

Shared by the ``/invoices`` routes and the ``/_sandbox/act`` acts, so a person invoicing in the UI and
the product invoicing over the API hit the same rules (an item is billed at most once).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any

from sandbox.books import records, rules
from sandbox.books.envelope import bad_request, invalid_value, required
from sandbox.books.formats import parse_date, parse_number
from sandbox.books.lineitems import parse_line_items
from sandbox.world import Contact, Expense, Invoice, LineItem, TimeEntry, World

_NUMBER = re.compile(rf"^{re.escape(rules.INVOICE_NUMBER_PREFIX)}(\d+)$")


def create_invoice(
    world: World, org_id: str, body: dict[str, Any], *, ignore_auto_number: bool = False, send: bool = False
) -> Invoice:
    if not body.get("customer_id"):
        raise required("customer_id")
    if "line_items" not in body:
        raise required("line_items")
    now = world.now_ms()
    invoice = Invoice(world.books_id(), org_id, "", "", world.today(), created_time=now, last_modified_time=now)
    _apply(world, invoice, body, ignore_auto_number=ignore_auto_number)
    if not invoice.invoice_number:
        invoice.invoice_number = next_number(world, org_id)
    claim(world, invoice, invoice.line_items)
    invoice.status = "sent" if send else "draft"
    world.invoices[invoice.invoice_id] = invoice
    estimate = world.estimates.get(invoice.invoiced_estimate_id)
    if estimate is not None and estimate.organization_id == org_id:
        estimate.status = "invoiced"
        estimate.last_modified_time = now
    return invoice


def update_invoice(world: World, invoice: Invoice, body: dict[str, Any], *, ignore_auto_number: bool = False) -> None:
    staged = dataclasses.replace(invoice, line_items=list(invoice.line_items))
    _apply(world, staged, body, ignore_auto_number=ignore_auto_number)
    billing = invoice.status != "void" or not rules.VOID_RELEASES_BILLED_ITEMS
    if billing:
        release(world, invoice)
        try:
            claim(world, staged, staged.line_items)
        except Exception:
            claim(world, invoice, invoice.line_items)  # put the old billing back; the edit is refused
            raise
    staged.last_modified_time = world.now_ms()
    for field in dataclasses.fields(Invoice):
        setattr(invoice, field.name, getattr(staged, field.name))


def delete_invoice(world: World, invoice: Invoice) -> None:
    """Deleting an invoice frees its time entries and expenses to be billed again."""
    release(world, invoice)
    del world.invoices[invoice.invoice_id]


def mark_status(world: World, invoice: Invoice, status: str) -> None:
    allowed = {"sent": {"draft"}, "void": {"draft", "sent"}, "draft": {"void"}}[status]
    if invoice.status not in allowed:
        raise bad_request(
            rules.CODE_NOT_ALLOWED_IN_STATE, f"The invoice status cannot be changed from {invoice.status} to {status}."
        )
    if rules.VOID_RELEASES_BILLED_ITEMS and status == "void":
        release(world, invoice)
    if rules.VOID_RELEASES_BILLED_ITEMS and invoice.status == "void":
        claim(world, invoice, invoice.line_items)
    invoice.status = status
    invoice.last_modified_time = world.now_ms()


def next_number(world: World, org_id: str) -> str:
    highest = 0
    for invoice in records.in_org(world.invoices, org_id):
        match = _NUMBER.match(invoice.invoice_number)
        if match:
            highest = max(highest, int(match.group(1)))
    return f"{rules.INVOICE_NUMBER_PREFIX}{highest + 1:0{rules.NUMBER_DIGITS}d}"


def _apply(world: World, invoice: Invoice, body: dict[str, Any], *, ignore_auto_number: bool) -> None:
    org_id = invoice.organization_id
    if "customer_id" in body:
        customer = customer_of(world, org_id, body["customer_id"])
        invoice.customer_id = customer.contact_id
        invoice.currency_id = customer.currency_id
    customer = world.contacts[invoice.customer_id]
    if body.get("currency_id"):
        if rules.INVOICE_CURRENCY_MUST_MATCH_CUSTOMER and str(body["currency_id"]) != customer.currency_id:
            raise invalid_value("currency_id")
        invoice.currency_id = str(body["currency_id"])
    if ignore_auto_number:
        number = str(body.get("invoice_number") or invoice.invoice_number).strip()
        if not number:
            raise required("invoice_number")
        _check_unique_number(world, org_id, number, invoice.invoice_id)
        invoice.invoice_number = number
    for field in ("reference_number", "notes", "terms", "recurring_invoice_id", "invoiced_estimate_id"):
        if field in body:
            setattr(invoice, field, str(body[field] or ""))
    if len(invoice.reference_number) > 100:
        raise invalid_value("reference_number")
    if body.get("date"):
        invoice.date = parse_date(body["date"], "date")
    if body.get("due_date"):
        invoice.due_date = parse_date(body["due_date"], "due_date")
    elif body.get("payment_terms") not in (None, ""):
        invoice.due_date = invoice.date + dt.timedelta(days=int(parse_number(body["payment_terms"], "payment_terms")))
    if invoice.due_date is None or invoice.due_date < invoice.date:
        invoice.due_date = invoice.date
    if "line_items" in body:
        invoice.line_items = parse_line_items(world, org_id, body["line_items"], billable=True)


def customer_of(world: World, org_id: str, customer_id: Any) -> Contact:
    """The customer a document is for (vendors cannot be invoiced or quoted)."""
    contact = world.contacts.get(str(customer_id or ""))
    if contact is None or contact.organization_id != org_id or contact.contact_type != "customer":
        raise invalid_value("customer_id")
    return contact


def _check_unique_number(world: World, org_id: str, number: str, own_id: str) -> None:
    for other in records.in_org(world.invoices, org_id):
        if other.invoice_id != own_id and other.invoice_number == number:
            raise bad_request(rules.CODE_DUPLICATE, f'Invoice "{number}" already exists.')


def claim(world: World, invoice: Invoice, lines: list[LineItem]) -> None:
    """Bill every time entry and expense on ``lines`` to ``invoice``; all or nothing."""
    entries, expenses = _billable_items(world, invoice, lines)
    for entry in entries:
        entry.billed_status = "invoiced"
        entry.invoice_id = invoice.invoice_id
    for expense in expenses:
        expense.status = "invoiced"
        expense.invoice_id = invoice.invoice_id


def release(world: World, invoice: Invoice) -> None:
    for entry in world.time_entries.values():
        if entry.invoice_id == invoice.invoice_id:
            entry.billed_status = "unbilled"
            entry.invoice_id = ""
    for expense in world.expenses.values():
        if expense.invoice_id == invoice.invoice_id:
            expense.status = "unbilled"
            expense.invoice_id = ""


def _billable_items(world: World, invoice: Invoice, lines: list[LineItem]) -> tuple[list[TimeEntry], list[Expense]]:
    entries: list[TimeEntry] = []
    expenses: list[Expense] = []
    for line in lines:
        for entry_id in line.time_entry_ids:
            entry = world.time_entries.get(entry_id)
            if entry is None or entry.organization_id != invoice.organization_id:
                raise invalid_value("line_items.time_entry_ids")
            _check_time_entry(world, invoice, line, entry)
            entries.append(entry)
        if line.expense_id:
            expense = world.expenses.get(line.expense_id)
            if expense is None or expense.organization_id != invoice.organization_id:
                raise invalid_value("line_items.expense_id")
            _check_expense(invoice, expense)
            expenses.append(expense)
    if len({e.time_entry_id for e in entries}) < len(entries) or len({e.expense_id for e in expenses}) < len(expenses):
        raise bad_request(
            rules.CODE_ALREADY_INVOICED, "The same time entry or expense is billed twice on this invoice."
        )
    return entries, expenses


def _check_time_entry(world: World, invoice: Invoice, line: LineItem, entry: TimeEntry) -> None:
    if entry.billed_status == "invoiced" and entry.invoice_id != invoice.invoice_id:
        raise bad_request(
            rules.CODE_ALREADY_INVOICED,
            f"The time entry {entry.time_entry_id} has already been invoiced (invoice {entry.invoice_id}).",
        )
    if not entry.is_billable:
        raise bad_request(rules.CODE_NOT_ALLOWED_IN_STATE, f"The time entry {entry.time_entry_id} is not billable.")
    if line.project_id and entry.project_id != line.project_id:
        raise invalid_value("line_items.time_entry_ids")
    project = world.books_projects.get(entry.project_id)
    if rules.INVOICE_ITEMS_MUST_MATCH_CUSTOMER and (project is None or project.customer_id != invoice.customer_id):
        raise bad_request(
            rules.CODE_NOT_ALLOWED_IN_STATE,
            f"The time entry {entry.time_entry_id} belongs to another customer's project.",
        )


def _check_expense(invoice: Invoice, expense: Expense) -> None:
    if expense.status == "invoiced" and expense.invoice_id != invoice.invoice_id:
        raise bad_request(
            rules.CODE_ALREADY_INVOICED,
            f"The expense {expense.expense_id} has already been invoiced (invoice {expense.invoice_id}).",
        )
    if not expense.is_billable:
        raise bad_request(rules.CODE_NOT_ALLOWED_IN_STATE, f"The expense {expense.expense_id} is not billable.")
    if rules.INVOICE_ITEMS_MUST_MATCH_CUSTOMER and expense.customer_id != invoice.customer_id:
        raise bad_request(
            rules.CODE_NOT_ALLOWED_IN_STATE, f"The expense {expense.expense_id} was incurred for another customer."
        )
