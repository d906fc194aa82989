"""clients: Projects client companies -> Books customers.

Matched by link, then by email and normalized name ("Acme Ltd" = "ACME Ltd."); the contact-duplication
preference then decides: ``merge`` links the existing customer, ``clone`` creates a new one beside it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from shared.db import links
from shared.db.sync_errors import Problem
from shared.matching import normalize_company, normalize_email
from shared.zoho.books_models import Contact
from shared.zoho.projects_models import ClientCompany
from worker.modules.base import ProblemError, Record, SourcePage, SyncContext, SyncModule, note_intent


class CustomerIndex:
    """Books customers by normalized name and by email, minus those already linked to another client."""

    def __init__(self, contacts: list[Contact], taken: set[str]) -> None:
        self.by_name: dict[str, list[Contact]] = defaultdict(list)
        self.by_email: dict[str, list[Contact]] = defaultdict(list)
        self.by_id = {c.contact_id: c for c in contacts}
        self.names = {c.contact_name for c in contacts}
        self.taken = taken
        for contact in contacts:
            self.by_name[normalize_company(contact.contact_name)].append(contact)
            if contact.email:
                self.by_email[normalize_email(contact.email)].append(contact)

    def free(self, found: list[Contact]) -> list[Contact]:
        return [c for c in found if c.contact_id not in self.taken]

    def add(self, contact: Contact) -> None:
        self.by_name[normalize_company(contact.contact_name)].append(contact)
        self.by_id[contact.contact_id] = contact
        self.names.add(contact.contact_name)
        self.taken.add(contact.contact_id)


def customers(ctx: SyncContext) -> CustomerIndex:
    def build() -> CustomerIndex:
        with ctx.engine.connect() as conn:
            taken = links.claimed_books_ids(conn, ctx.integration.id, "client")
        return CustomerIndex(list(ctx.books.iter_contacts(contact_type="customer")), taken)

    return ctx.remember("customers", build)


def currency_ids(ctx: SyncContext) -> dict[str, str]:
    return ctx.remember("currencies", lambda: {c.currency_code: c.currency_id for c in ctx.books.iter_currencies()})


def _pages(ctx: SyncContext, _cursor: dict[str, Any] | None) -> SourcePage:
    return SourcePage(list(ctx.projects.iter_clients()), None)


def _record(_ctx: SyncContext, client: ClientCompany) -> Record:
    fields = {"name": client.name, "email": normalize_email(client.email), "currency": client.currency_code}
    return Record(client.id, client.name, fields, source=client)


def _find(ctx: SyncContext, record: Record, link: links.Link, _parent: str | None) -> str | None:
    index = customers(ctx)
    intended = link.attributes.get("books_name")
    if intended:  # a create was started before a crash: adopt what it made, if it got that far
        made = [c for c in index.free(index.by_name[normalize_company(intended)]) if c.contact_name == intended]
        return made[0].contact_id if made else None
    if ctx.integration.contact_duplication == "clone":
        return None
    # merge: several Projects clients may become one Books customer (same company), so linked ones still count
    named = index.by_name[normalize_company(record.name)]
    emailed = index.by_email.get(record.fields["email"], []) if record.fields["email"] else []
    if len(emailed) > 1:  # a shared mailbox (ap@, billing@) narrows the match but doesn't decide it
        emailed = [c for c in emailed if c in named]
    candidates = emailed or named
    if len(candidates) > 1:
        exact = [c for c in candidates if c.contact_name == record.name]
        if len(exact) != 1:
            names = ", ".join(f"'{c.contact_name}' ({c.contact_id})" for c in candidates)
            raise ProblemError(
                Problem(
                    "ambiguous_customer",
                    f"Client '{record.name}' matches {len(candidates)} Books customers: {names}.",
                    "Rename or merge the duplicate customers in Zoho Books (or give the client the email of one of "
                    "them), then retry.",
                )
            )
        candidates = exact
    if candidates:
        index.taken.add(candidates[0].contact_id)
        return candidates[0].contact_id
    return None


def _books_name(index: CustomerIndex, record: Record) -> str:
    if not index.by_name[normalize_company(record.name)] and record.name not in index.names:
        return record.name
    # clone: Books refuses a second contact with the same display name, so the copy carries the client's id
    return f"{record.name} ({record.projects_id[-6:]})"


def _payload(ctx: SyncContext, record: Record) -> dict[str, Any]:
    payload: dict[str, Any] = {"contact_name": record.name, "company_name": record.name, "contact_type": "customer"}
    currency = record.fields["currency"]
    if currency:
        if currency not in currency_ids(ctx):
            raise ProblemError(
                Problem(
                    "currency_not_enabled",
                    f"Client '{record.name}' uses {currency}, which is not enabled in Zoho Books.",
                    f"Add {currency} under Settings > Currencies in Zoho Books, or change the client's currency.",
                )
            )
        payload["currency_id"] = currency_ids(ctx)[currency]
    if record.fields["email"]:
        payload["contact_persons"] = [
            {"email": record.fields["email"], "is_primary_contact": True, "first_name": record.name[:100]}
        ]
    return payload


def _create(ctx: SyncContext, record: Record, _parent: str | None) -> str:
    index = customers(ctx)
    name = _books_name(index, record)
    payload = _payload(ctx, record) | {"contact_name": name}
    note_intent(ctx, books_name=name)
    contact = ctx.books.create_contact(payload)
    index.add(contact)
    return contact.contact_id


def _update(ctx: SyncContext, record: Record, books_id: str, _parent: str | None) -> None:
    # A customer we created follows the client's name; a merged one belonged to Books first and keeps its own.
    # Currency is never rewritten (Books refuses it once a customer has transactions): a mismatch surfaces as a
    # project error with a hint instead.
    assert ctx.link is not None
    if "books_name" not in ctx.link.attributes:
        return
    index = customers(ctx)
    index.taken.discard(books_id)
    name = record.name if record.name not in index.names else ctx.link.attributes["books_name"]
    ctx.books.update_contact(books_id, {"contact_name": name, "company_name": record.name})
    note_intent(ctx, books_name=name)


CLIENTS = SyncModule(
    name="clients",
    entity_type="client",
    pages=_pages,
    to_record=_record,
    create=_create,
    update=_update,
    find_existing=_find,
)
