"""Books-side acts for ``POST /_sandbox/act``: what a person does in the Books UI, through the same code
as the API (``billing``, ``expenses``, ``estimates``, ``contacts``), so the same rules hold.

Params name the organization (``organization_id``; defaults to the world's only organization) and the
record fields as the API body would carry them, e.g.::

    {"action": "create_invoice", "customer_id": "...", "line_items": [{"name": "Work", "rate": 90,
     "quantity": 2, "project_id": "...", "time_entry_ids": ["..."]}]}
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandbox.acts import act, emit
from sandbox.books import billing, contacts, estimates, expenses, records, recurring
from sandbox.books.envelope import BooksError
from sandbox.books.events import deleted_event, record_event
from sandbox.world import World


def _org_id(world: World, params: dict[str, Any]) -> str:
    org_id = params.get("organization_id")
    if org_id:
        if org_id not in world.organizations:
            raise ValueError(f"unknown organization_id {org_id!r}")
        return str(org_id)
    if len(world.organizations) != 1:
        raise ValueError("organization_id is required when the world has several organizations")
    return next(iter(world.organizations))


def _body(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k not in ("action", "organization_id")}


def _as_act(fn: Callable[[World, str, dict[str, Any]], dict[str, Any]]) -> Callable[[World, dict], dict]:
    """Run under the world lock; a Books validation error becomes the ValueError acts promise."""

    def run(world: World, params: dict[str, Any]) -> dict[str, Any]:
        with world.lock:
            try:
                return fn(world, _org_id(world, params), _body(params))
            except BooksError as error:
                raise ValueError(f"{error.message} (Books code {error.code})") from None

    run.__name__ = run.__qualname__ = fn.__name__
    run.__module__ = fn.__module__
    return run


def _create_invoice(world: World, org_id: str, body: dict[str, Any]) -> dict[str, Any]:
    ignore = bool(body.pop("ignore_auto_number_generation", False))
    send = bool(body.pop("send", False))
    invoice = billing.create_invoice(world, org_id, body, ignore_auto_number=ignore, send=send)
    record_event(emit, world, org_id, "invoice", "created", invoice)
    return {"invoice_id": invoice.invoice_id, "invoice_number": invoice.invoice_number}


def _edit_invoice(world: World, org_id: str, body: dict[str, Any]) -> dict[str, Any]:
    invoice = records.find(world.invoices, str(body.pop("invoice_id", "")), org_id, "Invoice")
    ignore = bool(body.pop("ignore_auto_number_generation", False))
    billing.update_invoice(world, invoice, body, ignore_auto_number=ignore)
    record_event(emit, world, org_id, "invoice", "updated", invoice)
    return {"invoice_id": invoice.invoice_id, "invoice_number": invoice.invoice_number}


def _void_invoice(world: World, org_id: str, body: dict[str, Any]) -> dict[str, Any]:
    invoice = records.find(world.invoices, str(body.get("invoice_id", "")), org_id, "Invoice")
    billing.mark_status(world, invoice, "void")
    record_event(emit, world, org_id, "invoice", "voided", invoice)
    return {"invoice_id": invoice.invoice_id, "status": invoice.status}


def _delete_invoice(world: World, org_id: str, body: dict[str, Any]) -> dict[str, Any]:
    invoice = records.find(world.invoices, str(body.get("invoice_id", "")), org_id, "Invoice")
    billing.delete_invoice(world, invoice)
    deleted_event(emit, org_id, "invoice", invoice.invoice_id)
    return {"invoice_id": invoice.invoice_id}


def _create_expense(world: World, org_id: str, body: dict[str, Any]) -> dict[str, Any]:
    expense = expenses.create_expense(world, org_id, body)
    record_event(emit, world, org_id, "expense", "created", expense)
    return {"expense_id": expense.expense_id}


def _create_quote(world: World, org_id: str, body: dict[str, Any]) -> dict[str, Any]:
    estimate = estimates.create_estimate(world, org_id, body)
    record_event(emit, world, org_id, "estimate", "created", estimate)
    return {"estimate_id": estimate.estimate_id, "estimate_number": estimate.estimate_number}


def _create_recurring_invoice(world: World, org_id: str, body: dict[str, Any]) -> dict[str, Any]:
    profile = recurring.create_recurring_invoice(world, org_id, body)
    record_event(emit, world, org_id, "recurring_invoice", "created", profile)
    return {"recurring_invoice_id": profile.recurring_invoice_id}


def _generate_recurring_invoice(world: World, org_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """A recurring profile's next invoice, as Books creates it on the schedule (``recurring_invoice_id`` set)."""
    profile = records.find(
        world.recurring_invoices, str(body.get("recurring_invoice_id", "")), org_id, "Recurring invoice"
    )
    lines = [
        {"name": li.name, "description": li.description, "rate": li.rate, "quantity": li.quantity,
         "project_id": li.project_id, "unit": li.unit}
        for li in profile.line_items
    ]  # fmt: skip
    invoice = billing.create_invoice(
        world,
        org_id,
        {"customer_id": profile.customer_id, "line_items": lines, "recurring_invoice_id": profile.recurring_invoice_id},
        send=True,
    )
    record_event(emit, world, org_id, "invoice", "created", invoice)
    return {"invoice_id": invoice.invoice_id, "invoice_number": invoice.invoice_number}


def _contact(world: World, org_id: str, body: dict[str, Any]):
    return records.find(world.contacts, str(body.get("contact_id", "")), org_id, "Contact")


def _change_contact_currency(world: World, org_id: str, body: dict[str, Any]) -> dict[str, Any]:
    contact = _contact(world, org_id, body)
    code = body.get("currency_code")
    currency_id = body.get("currency_id") or next(
        (c.currency_id for c in records.in_org(world.currencies, org_id) if c.currency_code == code), None
    )
    if not currency_id:
        raise ValueError(f"no currency {code!r} in organization {org_id}")
    contacts.update_contact(world, contact, {"currency_id": currency_id})
    return {"contact_id": contact.contact_id, "currency_id": contact.currency_id}


def _rename_contact(world: World, org_id: str, body: dict[str, Any]) -> dict[str, Any]:
    contact = _contact(world, org_id, body)
    contacts.update_contact(world, contact, {"contact_name": body.get("contact_name", "")})
    return {"contact_id": contact.contact_id, "contact_name": contact.contact_name}


act("create_invoice")(_as_act(_create_invoice))
act("edit_invoice")(_as_act(_edit_invoice))
act("void_invoice")(_as_act(_void_invoice))
act("delete_invoice")(_as_act(_delete_invoice))
act("create_expense")(_as_act(_create_expense))
act("create_quote")(_as_act(_create_quote))
act("create_recurring_invoice")(_as_act(_create_recurring_invoice))
act("generate_recurring_invoice")(_as_act(_generate_recurring_invoice))
act("change_contact_currency")(_as_act(_change_contact_currency))
act("rename_contact")(_as_act(_rename_contact))
