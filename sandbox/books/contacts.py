"""``/contacts``: customers and vendors. The display name (``contact_name``) is unique per organization."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from sandbox.books import records, rules
from sandbox.books.dispatch import BooksCall, endpoint
from sandbox.books.envelope import bad_request, invalid_value, required, success
from sandbox.books.formats import timestamp
from sandbox.books.listing import ListSpec, matches_text, page_of
from sandbox.world import Contact, World

LIST = ListSpec(
    report_name="Contacts",
    sort_keys={
        "contact_name": lambda c: c.contact_name,
        "first_name": lambda c: c.first_name,
        "last_name": lambda c: c.last_name,
        "email": lambda c: c.email,
        "outstanding_receivable_amount": lambda c: 0,
        "created_time": lambda c: c.created_time,
        "last_modified_time": lambda c: c.last_modified_time,
    },
    default_sort="contact_name",
    default_order="A",
    filters={
        "Status.All": lambda c: True,
        "Status.Active": lambda c: c.status == "active",
        "Status.Inactive": lambda c: c.status == "inactive",
        "Status.PortalEnabled": lambda c: False,  # the sandbox has no customer portal
        "Status.PortalDisabled": lambda c: True,
        "Status.CreditLimitExceed": lambda c: False,
        "Status.Crm": lambda c: False,
    },
    default_filter="Status.All",
)
_TEXT_FILTERS = ("contact_name", "company_name", "first_name", "last_name", "email")


def render_row(world: World, contact: Contact) -> dict[str, Any]:
    return {
        "contact_id": contact.contact_id,
        "contact_name": contact.contact_name,
        "company_name": contact.company_name,
        "contact_type": contact.contact_type,
        "status": contact.status,
        "payment_terms": 0,
        "payment_terms_label": "Due on Receipt",
        **records.currency_fields(world, contact.organization_id, contact.currency_id),
        "outstanding_receivable_amount": 0,
        "unused_credits_receivable_amount": 0,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "email": contact.email,
        "phone": "",
        "mobile": "",
        "created_time": timestamp(contact.created_time),
        "last_modified_time": timestamp(contact.last_modified_time),
    }


def render(world: World, contact: Contact) -> dict[str, Any]:
    person = {
        "contact_person_id": contact.contact_id,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "email": contact.email,
        "is_primary_contact": True,
    }
    currency = records.currency(world, contact.organization_id, contact.currency_id)
    return render_row(world, contact) | {
        "has_transaction": has_transaction(world, contact.contact_id),
        "customer_sub_type": "business",
        "currency_symbol": currency.currency_symbol if currency else "",
        "notes": contact.notes,
        "contact_persons": [person] if (contact.email or contact.first_name or contact.last_name) else [],
        "custom_fields": [],
    }


def has_transaction(world: World, contact_id: str) -> bool:
    tables = (world.invoices, world.estimates, world.expenses, world.books_projects, world.recurring_invoices)
    return any(getattr(r, "customer_id", "") == contact_id for table in tables for r in table.values())


def check_unique_name(world: World, org_id: str, name: str, own_id: str = "") -> None:
    wanted = _name_key(name)
    for other in records.in_org(world.contacts, org_id):
        if other.contact_id != own_id and _name_key(other.contact_name) == wanted:
            raise bad_request(rules.CODE_DUPLICATE_CONTACT_NAME, f'The {other.contact_type} "{name}" already exists.')


def _name_key(name: str) -> str:
    name = name.strip()
    return name.casefold() if rules.CONTACT_NAME_UNIQUE_CASE_INSENSITIVE else name


def apply_fields(world: World, contact: Contact, body: dict[str, Any]) -> None:
    """Set writable fields from a create/update body (``email`` at the top level is output-only)."""
    if "contact_name" in body:
        name = str(body["contact_name"] or "").strip()
        if not name or len(name) > 200:
            raise invalid_value("contact_name")
        check_unique_name(world, contact.organization_id, name, contact.contact_id)
        contact.contact_name = name
    if "company_name" in body:
        contact.company_name = str(body["company_name"] or "")
    if "contact_type" in body:
        if body["contact_type"] not in ("customer", "vendor"):
            raise invalid_value("contact_type")
        contact.contact_type = body["contact_type"]
    if "currency_id" in body:
        set_currency(world, contact, str(body["currency_id"] or ""))
    if "notes" in body:
        contact.notes = str(body["notes"] or "")
    persons = body.get("contact_persons")
    if persons:
        if not isinstance(persons, list) or not all(isinstance(p, dict) for p in persons):
            raise invalid_value("contact_persons")
        primary = next((p for p in persons if p.get("is_primary_contact")), persons[0])
        contact.first_name = str(primary.get("first_name") or "")
        contact.last_name = str(primary.get("last_name") or "")
        contact.email = str(primary.get("email") or "")


def set_currency(world: World, contact: Contact, currency_id: str) -> None:
    if currency_id:
        found = world.currencies.get(currency_id)
        if found is None or found.organization_id != contact.organization_id:
            raise invalid_value("currency_id")
    contact.currency_id = currency_id


def create_contact(world: World, org_id: str, body: dict[str, Any]) -> Contact:
    """Shared by ``POST /contacts`` and the sandbox acts."""
    if not str(body.get("contact_name") or "").strip():
        raise required("contact_name")
    now = world.now_ms()
    contact = Contact(world.books_id(), org_id, "", created_time=now, last_modified_time=now)
    apply_fields(world, contact, body)
    if not contact.currency_id:
        base = records.base_currency(world, org_id)
        contact.currency_id = base.currency_id if base else ""
    world.contacts[contact.contact_id] = contact
    return contact


def update_contact(world: World, contact: Contact, body: dict[str, Any]) -> Contact:
    apply_fields(world, contact, body)
    contact.last_modified_time = world.now_ms()
    return contact


def _contact(call: BooksCall) -> Contact:
    return records.find(call.world.contacts, call.path["contact_id"], call.org_id, "Contact")


def _matches(query: dict[str, str], contact: Contact) -> bool:
    if "contact_type" in query and contact.contact_type != query["contact_type"]:
        return False
    for name in _TEXT_FILTERS:
        if not matches_text(query, name, getattr(contact, name)):
            return False
    search = query.get("search_text", "").casefold()
    return not search or search in contact.contact_name.casefold() or search in contact.notes.casefold()


def list_contacts(call: BooksCall) -> Response:
    if call.query.get("contact_type", "customer") not in ("customer", "vendor"):
        raise invalid_value("contact_type")
    rows = [c for c in records.in_org(call.world.contacts, call.org_id) if _matches(call.query, c)]
    page, context = page_of(call.query, rows, LIST, lambda c: c.contact_id)
    return success(contacts=[render_row(call.world, c) for c in page], page_context=context)


def get_contact(call: BooksCall) -> Response:
    return success(contact=render(call.world, _contact(call)))


def post_contact(call: BooksCall) -> Response:
    contact = create_contact(call.world, call.org_id, call.body)
    rendered = render(call.world, contact)
    call.emit("contact.created", {"organization_id": call.org_id, "contact": rendered})
    return success("The contact has been created", status=201, contact=rendered)


def put_contact(call: BooksCall) -> Response:
    contact = update_contact(call.world, _contact(call), call.body)
    rendered = render(call.world, contact)
    call.emit("contact.updated", {"organization_id": call.org_id, "contact": rendered})
    return success("Contact has been updated successfully", contact=rendered)


def delete_contact(call: BooksCall) -> Response:
    contact = _contact(call)
    if has_transaction(call.world, contact.contact_id):
        raise bad_request(
            rules.CODE_NOT_ALLOWED_IN_STATE,
            "The contact cannot be deleted as it is associated with transactions; mark it inactive instead.",
        )
    del call.world.contacts[contact.contact_id]
    call.emit("contact.deleted", {"organization_id": call.org_id, "contact_id": contact.contact_id})
    return success("The contact has been deleted.")


def _mark(status: str):
    def mark(call: BooksCall) -> Response:
        contact = _contact(call)
        contact.status = status
        contact.last_modified_time = call.world.now_ms()
        call.emit("contact.updated", {"organization_id": call.org_id, "contact": render(call.world, contact)})
        return success(f"The contact has been marked as {status}.")

    return mark


routes = [
    endpoint("/contacts", get=list_contacts, post=post_contact),
    endpoint("/contacts/{contact_id}", get=get_contact, put=put_contact, delete=delete_contact),
    endpoint("/contacts/{contact_id}/active", post=_mark("active")),
    endpoint("/contacts/{contact_id}/inactive", post=_mark("inactive")),
]
