"""``/recurringinvoices``: invoice profiles that repeat every N days/weeks/months/years until stopped."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from starlette.responses import Response

from sandbox.books import records, rules
from sandbox.books.billing import customer_of
from sandbox.books.dispatch import BooksCall, endpoint
from sandbox.books.envelope import bad_request, invalid_value, required, success
from sandbox.books.formats import date_text, parse_date, parse_number, timestamp
from sandbox.books.lineitems import parse_line_items, render_line_items, sub_total
from sandbox.books.listing import ListSpec, matches_id, page_of
from sandbox.world import RecurringInvoice, World

FREQUENCIES = ("days", "weeks", "months", "years")

LIST = ListSpec(
    report_name="Recurring Invoices",
    sort_keys={
        "recurrence_name": lambda r: r.recurrence_name,
        "start_date": lambda r: r.start_date or dt.date.min,
        "created_time": lambda r: r.created_time,
    },
    default_sort="created_time",
    default_order="D",
    filters={
        "Status.All": lambda r: True,
        "Status.Active": lambda r: r.status == "active",
        "Status.Stopped": lambda r: r.status == "stopped",
        "Status.Expired": lambda r: r.status == "expired",
    },
    default_filter="Status.All",
)


def next_invoice_date(profile: RecurringInvoice, today: dt.date) -> dt.date | None:
    """The first occurrence on or after today (None when stopped or past the end date)."""
    if profile.status != "active" or profile.start_date is None:
        return None
    occurrence, n = profile.start_date, 0
    while occurrence < today:
        n += 1
        occurrence = _nth(profile, n)
    return None if profile.end_date and occurrence > profile.end_date else occurrence


def _nth(profile: RecurringInvoice, n: int) -> dt.date:
    start, step = profile.start_date or dt.date.min, profile.repeat_every * n
    if profile.recurrence_frequency == "days":
        return start + dt.timedelta(days=step)
    if profile.recurrence_frequency == "weeks":
        return start + dt.timedelta(weeks=step)
    months = step * (12 if profile.recurrence_frequency == "years" else 1)
    year, month = divmod(start.month - 1 + months, 12)
    day = min(start.day, 28)  # keeps the arithmetic simple; Books clamps to the month's end
    return dt.date(start.year + year, month + 1, day)


def render_row(world: World, profile: RecurringInvoice) -> dict[str, Any]:
    return {
        "recurring_invoice_id": profile.recurring_invoice_id,
        "recurrence_name": profile.recurrence_name,
        "customer_name": records.contact_name(world, profile.customer_id),
        "customer_id": profile.customer_id,
        **records.currency_fields(world, profile.organization_id, profile.currency_id),
        "status": profile.status,
        "recurrence_frequency": profile.recurrence_frequency,
        "repeat_every": profile.repeat_every,
        "start_date": date_text(profile.start_date),
        "end_date": date_text(profile.end_date),
        "last_sent_date": "",
        "next_invoice_date": date_text(next_invoice_date(profile, world.today())),
        "total": sub_total(profile.line_items),
        "created_time": timestamp(profile.created_time),
        "last_modified_time": timestamp(profile.last_modified_time),
    }


def render(world: World, profile: RecurringInvoice) -> dict[str, Any]:
    return render_row(world, profile) | {
        "reference_number": profile.reference_number,
        "project_id": profile.project_id,
        "line_items": render_line_items(world, profile.line_items),
    }


def _apply(world: World, profile: RecurringInvoice, body: dict[str, Any]) -> None:
    org_id = profile.organization_id
    if "recurrence_name" in body:
        name = str(body["recurrence_name"] or "").strip()
        if not name or len(name) > 100:
            raise invalid_value("recurrence_name")
        profile.recurrence_name = name
    if "customer_id" in body:
        customer = customer_of(world, org_id, body["customer_id"])
        profile.customer_id, profile.currency_id = customer.contact_id, customer.currency_id
    if "recurrence_frequency" in body:
        if body["recurrence_frequency"] not in FREQUENCIES:
            raise invalid_value("recurrence_frequency")
        profile.recurrence_frequency = body["recurrence_frequency"]
    if "repeat_every" in body:
        profile.repeat_every = int(parse_number(body["repeat_every"], "repeat_every"))
        if profile.repeat_every < 1:
            raise invalid_value("repeat_every")
    for field in ("start_date", "end_date"):
        if body.get(field):
            setattr(profile, field, parse_date(body[field], field))
    if profile.start_date and profile.end_date and profile.end_date < profile.start_date:
        raise invalid_value("end_date")
    if "reference_number" in body:
        profile.reference_number = str(body["reference_number"] or "")
    if "line_items" in body:
        profile.line_items = parse_line_items(world, org_id, body["line_items"], billable=False)
        projects = {line.project_id for line in profile.line_items if line.project_id}
        profile.project_id = min(projects) if projects else ""


def create_recurring_invoice(world: World, org_id: str, body: dict[str, Any]) -> RecurringInvoice:
    for field in ("recurrence_name", "customer_id", "recurrence_frequency"):
        if not body.get(field):
            raise required(field)
    now = world.now_ms()
    profile = RecurringInvoice(
        world.books_id(), org_id, "", "", "", start_date=world.today(), created_time=now, last_modified_time=now
    )
    _apply(world, profile, body)
    world.recurring_invoices[profile.recurring_invoice_id] = profile
    return profile


def _profile(call: BooksCall) -> RecurringInvoice:
    return records.find(
        call.world.recurring_invoices, call.path["recurring_invoice_id"], call.org_id, "Recurring invoice"
    )


def list_recurring(call: BooksCall) -> Response:
    world = call.world
    rows = [
        r
        for r in records.in_org(world.recurring_invoices, call.org_id)
        if matches_id(call.query, "customer_id", r.customer_id)
    ]
    by_name = {**LIST.sort_keys, "customer_name": lambda r: records.contact_name(world, r.customer_id)}
    page, context = page_of(
        call.query, rows, dataclasses.replace(LIST, sort_keys=by_name), lambda r: r.recurring_invoice_id
    )
    return success(recurring_invoices=[render_row(world, r) for r in page], page_context=context)


def get_recurring(call: BooksCall) -> Response:
    return success(recurring_invoice=render(call.world, _profile(call)))


def post_recurring(call: BooksCall) -> Response:
    profile = create_recurring_invoice(call.world, call.org_id, call.body)
    rendered = render(call.world, profile)
    call.emit("recurring_invoice.created", {"organization_id": call.org_id, "recurring_invoice": rendered})
    return success("The recurring invoice has been created.", status=201, recurring_invoice=rendered)


def put_recurring(call: BooksCall) -> Response:
    profile = _profile(call)
    staged = dataclasses.replace(profile, line_items=list(profile.line_items))
    _apply(call.world, staged, call.body)
    staged.last_modified_time = call.world.now_ms()
    call.world.recurring_invoices[profile.recurring_invoice_id] = staged
    rendered = render(call.world, staged)
    call.emit("recurring_invoice.updated", {"organization_id": call.org_id, "recurring_invoice": rendered})
    return success("Recurring invoice information has been updated.", recurring_invoice=rendered)


def delete_recurring(call: BooksCall) -> Response:
    profile = _profile(call)
    del call.world.recurring_invoices[profile.recurring_invoice_id]
    call.emit(
        "recurring_invoice.deleted",
        {"organization_id": call.org_id, "recurring_invoice_id": profile.recurring_invoice_id},
    )
    return success("The recurring invoice has been deleted.")


def _mark(status: str, was: str, message: str):
    def mark(call: BooksCall) -> Response:
        profile = _profile(call)
        if profile.status != was:
            raise bad_request(rules.CODE_NOT_ALLOWED_IN_STATE, f"The recurring invoice is {profile.status}, not {was}.")
        profile.status = status
        profile.last_modified_time = call.world.now_ms()
        call.emit(
            "recurring_invoice.updated",
            {"organization_id": call.org_id, "recurring_invoice": render(call.world, profile)},
        )
        return success(message)

    return mark


routes = [
    endpoint("/recurringinvoices", get=list_recurring, post=post_recurring),
    endpoint(
        "/recurringinvoices/{recurring_invoice_id}", get=get_recurring, put=put_recurring, delete=delete_recurring
    ),
    endpoint(
        "/recurringinvoices/{recurring_invoice_id}/status/stop",
        post=_mark("stopped", "active", "The recurring invoice has been stopped."),
    ),
    endpoint(
        "/recurringinvoices/{recurring_invoice_id}/status/resume",
        post=_mark("active", "stopped", "The recurring invoice has been activated."),
    ),
]
