"""``/invoices`` routes: list (incl. the ``last_modified_time`` filter), CRUD, sent/void/draft.

The billing rules live in ``sandbox.books.billing``; this module is request parsing and rendering.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from starlette.responses import Response

from sandbox.books import billing, records, rules
from sandbox.books.dispatch import BooksCall, endpoint
from sandbox.books.envelope import invalid_value, success
from sandbox.books.events import record_event
from sandbox.books.formats import date_text, parse_bool, parse_date, parse_timestamp, timestamp
from sandbox.books.lineitems import render_line_items, sub_total
from sandbox.books.listing import ListSpec, matches_id, matches_text, page_of
from sandbox.world import Invoice, World

_STATUSES = ("sent", "draft", "overdue", "paid", "void", "unpaid", "partially_paid", "viewed")

LIST = ListSpec(
    report_name="Invoices",
    sort_keys={
        "invoice_number": lambda i: i.invoice_number,
        "date": lambda i: i.date,
        "due_date": lambda i: i.due_date,
        "total": lambda i: sub_total(i.line_items),
        "balance": lambda i: sub_total(i.line_items),
        "created_time": lambda i: i.created_time,
        "last_modified_time": lambda i: i.last_modified_time,
    },
    default_sort="created_time",
    default_order="D",
    default_filter="Status.All",
)


def shown_status(world: World, invoice: Invoice) -> str:
    """Books shows a sent invoice past its due date as ``overdue`` (there are no payments here)."""
    if invoice.status == "sent" and invoice.due_date and invoice.due_date < world.today():
        return "overdue"
    return invoice.status


def _in_status(world: World, invoice: Invoice, status: str) -> bool:
    shown = shown_status(world, invoice)
    if status == "unpaid":
        return shown in ("sent", "overdue")
    return shown == status


def render_row(world: World, invoice: Invoice) -> dict[str, Any]:
    total = sub_total(invoice.line_items)
    return {
        "invoice_id": invoice.invoice_id,
        "ach_payment_initiated": False,
        "customer_name": records.contact_name(world, invoice.customer_id),
        "customer_id": invoice.customer_id,
        "status": shown_status(world, invoice),
        "invoice_number": invoice.invoice_number,
        "reference_number": invoice.reference_number,
        "date": date_text(invoice.date),
        "due_date": date_text(invoice.due_date),
        **records.currency_fields(world, invoice.organization_id, invoice.currency_id),
        "is_viewed_by_client": False,
        "has_attachment": False,
        "client_viewed_time": "",
        "total": total,
        "balance": 0.0 if invoice.status in ("void", "draft") else total,
        "recurring_invoice_id": invoice.recurring_invoice_id,
        "created_time": timestamp(invoice.created_time),
        "last_modified_time": timestamp(invoice.last_modified_time),
        "is_emailed": False,
        "adjustment": 0,
        "exchange_rate": 1.0,
    }


def render(world: World, invoice: Invoice) -> dict[str, Any]:
    total = sub_total(invoice.line_items)
    return render_row(world, invoice) | {
        "payment_terms": (invoice.due_date - invoice.date).days if invoice.due_date else 0,
        "payment_terms_label": "Custom",
        "discount": 0,
        "discount_type": "entity_level",
        "invoiced_estimate_id": invoice.invoiced_estimate_id,
        "line_items": render_line_items(world, invoice.line_items),
        "sub_total": total,
        "tax_total": 0,
        "payment_made": 0,
        "credits_applied": 0,
        "allow_partial_payments": False,
        "price_precision": 2,
        "notes": invoice.notes,
        "terms": invoice.terms,
        "can_send_in_mail": True,
    }


def _matches(world: World, query: dict[str, str], invoice: Invoice) -> bool:
    if not (matches_text(query, "invoice_number", invoice.invoice_number)
            and matches_text(query, "reference_number", invoice.reference_number)
            and matches_id(query, "customer_id", invoice.customer_id)
            and matches_id(query, "recurring_invoice_id", invoice.recurring_invoice_id)):  # fmt: skip
        return False
    if "customer_name" in query and not matches_text(
        query, "customer_name", records.contact_name(world, invoice.customer_id)
    ):
        return False
    if query.get("status") and not _in_status(world, invoice, query["status"]):
        return False
    if query.get("last_modified_time"):
        since = parse_timestamp(query["last_modified_time"], "last_modified_time")
        after = (
            invoice.last_modified_time >= since
            if rules.LAST_MODIFIED_FILTER_INCLUSIVE
            else invoice.last_modified_time > since
        )
        if not after:
            return False
    if not _in_dates(query, invoice):
        return False
    search = query.get("search_text", "").casefold()
    haystack = f"{invoice.invoice_number} {invoice.reference_number} {records.contact_name(world, invoice.customer_id)}"
    return not search or search in haystack.casefold()


def _in_dates(query: dict[str, str], invoice: Invoice) -> bool:
    checks = {"date": lambda d: invoice.date == d, "date_start": lambda d: invoice.date >= d,
              "date_end": lambda d: invoice.date <= d, "date_after": lambda d: invoice.date > d,
              "date_before": lambda d: invoice.date < d}  # fmt: skip
    return all(check(parse_date(query[name], name)) for name, check in checks.items() if query.get(name))


def _filters(world: World) -> dict[str, Any]:
    filters: dict[str, Any] = {"Status.All": lambda i: True}
    for status in _STATUSES:
        label = "".join(part.capitalize() for part in status.split("_"))
        filters[f"Status.{label}"] = lambda i, s=status: _in_status(world, i, s)
    filters["Status.OverDue"] = filters.pop("Status.Overdue")
    return filters


def list_invoices(call: BooksCall) -> Response:
    world, query = call.world, call.query
    if query.get("status") and query["status"] not in _STATUSES:
        raise invalid_value("status")
    rows = [i for i in records.in_org(world.invoices, call.org_id) if _matches(world, query, i)]
    by_name = {**LIST.sort_keys, "customer_name": lambda i: records.contact_name(world, i.customer_id)}
    spec = dataclasses.replace(LIST, sort_keys=by_name, filters=_filters(world))
    page, context = page_of(query, rows, spec, lambda i: i.invoice_id)
    return success(invoices=[render_row(world, i) for i in page], page_context=context)


def list_project_invoices(call: BooksCall) -> Response:
    world = call.world
    project = records.find(world.books_projects, call.path["project_id"], call.org_id, "Project")
    rows = [
        i
        for i in records.in_org(world.invoices, call.org_id)
        if any(li.project_id == project.project_id for li in i.line_items)
    ]
    spec = dataclasses.replace(LIST, report_name="Projects", default_filter="")
    page, context = page_of(call.query, rows, spec, lambda i: i.invoice_id)
    return success(invoices=[render_row(world, i) for i in page], page_context=context)


def _invoice(call: BooksCall) -> Invoice:
    return records.find(call.world.invoices, call.path["invoice_id"], call.org_id, "Invoice")


def _flag(call: BooksCall, name: str) -> bool:
    return parse_bool(call.query[name], name) if name in call.query else False


def get_invoice(call: BooksCall) -> Response:
    return success(invoice=render(call.world, _invoice(call)))


def post_invoice(call: BooksCall) -> Response:
    invoice = billing.create_invoice(
        call.world, call.org_id, call.body,
        ignore_auto_number=_flag(call, "ignore_auto_number_generation"), send=_flag(call, "send"),
    )  # fmt: skip
    rendered = render(call.world, invoice)
    call.emit("invoice.created", {"organization_id": call.org_id, "invoice": rendered})
    return success("The invoice has been created.", status=201, invoice=rendered)


def put_invoice(call: BooksCall) -> Response:
    invoice = _invoice(call)
    billing.update_invoice(
        call.world, invoice, call.body, ignore_auto_number=_flag(call, "ignore_auto_number_generation")
    )
    rendered = render(call.world, invoice)
    call.emit("invoice.updated", {"organization_id": call.org_id, "invoice": rendered})
    return success("Invoice information has been updated.", invoice=rendered)


def delete_invoice(call: BooksCall) -> Response:
    invoice = _invoice(call)
    billing.delete_invoice(call.world, invoice)
    call.emit("invoice.deleted", {"organization_id": call.org_id, "invoice_id": invoice.invoice_id})
    return success("The invoice has been deleted.")


def _mark(status: str, message: str):
    def mark(call: BooksCall) -> Response:
        invoice = _invoice(call)
        billing.mark_status(call.world, invoice, status)
        record_event(
            call.emit, call.world, call.org_id, "invoice", "voided" if status == "void" else "updated", invoice
        )
        return success(message)

    return mark


routes = [
    endpoint("/invoices", get=list_invoices, post=post_invoice),
    endpoint("/invoices/{invoice_id}", get=get_invoice, put=put_invoice, delete=delete_invoice),
    endpoint("/invoices/{invoice_id}/status/sent", post=_mark("sent", "Invoice status has been changed to Sent.")),
    endpoint("/invoices/{invoice_id}/status/void", post=_mark("void", "Invoice status has been changed to Void.")),
    endpoint(
        "/invoices/{invoice_id}/status/draft", post=_mark("draft", "Status of invoice changed from void to draft")
    ),
    endpoint("/projects/{project_id}/invoices", get=list_project_invoices),
]
