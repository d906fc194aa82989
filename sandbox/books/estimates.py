"""``/estimates``: quotes for a customer (draft → sent → accepted/declined; invoiced once converted)."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from starlette.responses import Response

from sandbox.books import records, rules
from sandbox.books.billing import customer_of
from sandbox.books.dispatch import BooksCall, endpoint
from sandbox.books.envelope import bad_request, invalid_value, required, success
from sandbox.books.formats import date_text, parse_bool, parse_date, timestamp
from sandbox.books.lineitems import parse_line_items, render_line_items, sub_total
from sandbox.books.listing import ListSpec, matches_id, matches_text, page_of
from sandbox.world import Estimate, World

_STATUSES = ("draft", "sent", "invoiced", "accepted", "declined", "expired")
_NUMBER = re.compile(rf"^{re.escape(rules.ESTIMATE_NUMBER_PREFIX)}(\d+)$")
# which status each status-change endpoint may leave
_TRANSITIONS = {"sent": {"draft"}, "accepted": {"sent", "declined"}, "declined": {"sent", "accepted"}}

LIST = ListSpec(
    report_name="Estimates",
    sort_keys={
        "estimate_number": lambda e: e.estimate_number,
        "date": lambda e: e.date,
        "total": lambda e: sub_total(e.line_items),
        "created_time": lambda e: e.created_time,
    },
    default_sort="created_time",
    default_order="D",
    filters={
        "Status.All": lambda e: True,
        **{f"Status.{s.capitalize()}": (lambda e, s=s: e.status == s) for s in _STATUSES},
    },
    default_filter="Status.All",
)


def render_row(world: World, estimate: Estimate) -> dict[str, Any]:
    return {
        "estimate_id": estimate.estimate_id,
        "customer_name": records.contact_name(world, estimate.customer_id),
        "customer_id": estimate.customer_id,
        "status": estimate.status,
        "estimate_number": estimate.estimate_number,
        "reference_number": estimate.reference_number,
        "date": date_text(estimate.date),
        **records.currency_fields(world, estimate.organization_id, estimate.currency_id),
        "total": sub_total(estimate.line_items),
        "created_time": timestamp(estimate.created_time),
        "last_modified_time": timestamp(estimate.last_modified_time),
        "accepted_date": "",
        "declined_date": "",
        "expiry_date": date_text(estimate.expiry_date),
        "has_attachment": False,
        "is_viewed_by_client": False,
        "client_viewed_time": "",
    }


def render(world: World, estimate: Estimate) -> dict[str, Any]:
    return render_row(world, estimate) | {
        "line_items": render_line_items(world, estimate.line_items),
        "sub_total": sub_total(estimate.line_items),
        "notes": estimate.notes,
        "exchange_rate": 1.0,
    }


def _apply(world: World, estimate: Estimate, body: dict[str, Any], ignore_auto_number: bool) -> None:
    if "customer_id" in body:
        customer = customer_of(world, estimate.organization_id, body["customer_id"])
        estimate.customer_id = customer.contact_id
        estimate.currency_id = customer.currency_id
    if ignore_auto_number:
        number = str(body.get("estimate_number") or estimate.estimate_number).strip()
        if not number:
            raise required("estimate_number")
        if any(o.estimate_number == number and o.estimate_id != estimate.estimate_id
               for o in records.in_org(world.estimates, estimate.organization_id)):  # fmt: skip
            raise bad_request(rules.CODE_DUPLICATE, f'Estimate "{number}" already exists.')
        estimate.estimate_number = number
    for field in ("reference_number", "notes"):
        if field in body:
            setattr(estimate, field, str(body[field] or ""))
    if body.get("date"):
        estimate.date = parse_date(body["date"], "date")
    if body.get("expiry_date"):
        estimate.expiry_date = parse_date(body["expiry_date"], "expiry_date")
    if "line_items" in body:
        estimate.line_items = parse_line_items(world, estimate.organization_id, body["line_items"], billable=False)


def create_estimate(world: World, org_id: str, body: dict[str, Any], *, ignore_auto_number: bool = False) -> Estimate:
    """Shared by ``POST /estimates`` and the "create quote" act."""
    for field in ("customer_id", "line_items"):
        if not body.get(field):
            raise required(field)
    now = world.now_ms()
    estimate = Estimate(world.books_id(), org_id, "", "", world.today(), created_time=now, last_modified_time=now)
    _apply(world, estimate, body, ignore_auto_number)
    if not estimate.estimate_number:
        highest = max((int(m.group(1)) for o in records.in_org(world.estimates, org_id)
                       if (m := _NUMBER.match(o.estimate_number))), default=0)  # fmt: skip
        estimate.estimate_number = f"{rules.ESTIMATE_NUMBER_PREFIX}{highest + 1:0{rules.NUMBER_DIGITS}d}"
    world.estimates[estimate.estimate_id] = estimate
    return estimate


def _estimate(call: BooksCall) -> Estimate:
    return records.find(call.world.estimates, call.path["estimate_id"], call.org_id, "Estimate")


def _ignore_auto_number(call: BooksCall) -> bool:
    name = "ignore_auto_number_generation"
    return parse_bool(call.query[name], name) if name in call.query else False


def list_estimates(call: BooksCall) -> Response:
    world, query = call.world, call.query
    if query.get("status") and query["status"] not in _STATUSES:
        raise invalid_value("status")
    rows = [
        e for e in records.in_org(world.estimates, call.org_id)
        if matches_id(query, "customer_id", e.customer_id) and matches_text(query, "estimate_number", e.estimate_number)
        and (not query.get("status") or e.status == query["status"])
    ]  # fmt: skip
    by_name = {**LIST.sort_keys, "customer_name": lambda e: records.contact_name(world, e.customer_id)}
    page, context = page_of(query, rows, dataclasses.replace(LIST, sort_keys=by_name), lambda e: e.estimate_id)
    return success(estimates=[render_row(world, e) for e in page], page_context=context)


def get_estimate(call: BooksCall) -> Response:
    return success(estimate=render(call.world, _estimate(call)))


def post_estimate(call: BooksCall) -> Response:
    estimate = create_estimate(call.world, call.org_id, call.body, ignore_auto_number=_ignore_auto_number(call))
    rendered = render(call.world, estimate)
    call.emit("estimate.created", {"organization_id": call.org_id, "estimate": rendered})
    return success("The estimate has been created", status=201, estimate=rendered)


def put_estimate(call: BooksCall) -> Response:
    estimate = _estimate(call)
    staged = dataclasses.replace(estimate, line_items=list(estimate.line_items))
    _apply(call.world, staged, call.body, _ignore_auto_number(call))
    staged.last_modified_time = call.world.now_ms()
    call.world.estimates[estimate.estimate_id] = staged
    rendered = render(call.world, staged)
    call.emit("estimate.updated", {"organization_id": call.org_id, "estimate": rendered})
    return success("Estimate has been updated.", estimate=rendered)


def delete_estimate(call: BooksCall) -> Response:
    estimate = _estimate(call)
    del call.world.estimates[estimate.estimate_id]
    call.emit("estimate.deleted", {"organization_id": call.org_id, "estimate_id": estimate.estimate_id})
    return success("The estimate has been deleted.")


def _mark(status: str):
    def mark(call: BooksCall) -> Response:
        estimate = _estimate(call)
        if estimate.status not in _TRANSITIONS[status]:
            raise bad_request(
                rules.CODE_NOT_ALLOWED_IN_STATE, f"The estimate cannot be marked as {status} from {estimate.status}."
            )
        estimate.status = status
        estimate.last_modified_time = call.world.now_ms()
        call.emit("estimate.updated", {"organization_id": call.org_id, "estimate": render(call.world, estimate)})
        return success(f"Estimate status has been changed to {status.capitalize()}.")

    return mark


routes = [
    endpoint("/estimates", get=list_estimates, post=post_estimate),
    endpoint("/estimates/{estimate_id}", get=get_estimate, put=put_estimate, delete=delete_estimate),
    *(endpoint(f"/estimates/{{estimate_id}}/status/{s}", post=_mark(s)) for s in _TRANSITIONS),
]
