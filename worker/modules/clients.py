"""clients: Projects client companies -> Books customers.

Matched by link, then by email and normalized name ("Acme Ltd" = "ACME Ltd."); the contact-duplication
preference then decides: ``merge`` links the existing customer, ``clone`` creates a new one beside it.
"""

from __future__ import annotations

from typing import Any

from shared.db import links
from shared.db.sync_errors import Problem
from shared.zoho.projects_models import ClientCompany
from worker.matching import normalize_company, normalize_email
from worker.modules.base import ProblemError, Record, SourcePage, SyncContext, SyncModule, note_intent
from worker.modules.customer_index import CustomerIndex, books_customers


def customers(ctx: SyncContext) -> CustomerIndex:
    """Books customers for this slice; the list is read from Books once per sync, not per slice (customer_index)."""

    def build() -> CustomerIndex:
        index = books_customers(ctx)
        with ctx.engine.connect() as conn:
            index.taken = links.claimed_books_ids(conn, ctx.integration.id, "client")
        return index

    return ctx.remember("customers", build)


def currency_ids(ctx: SyncContext) -> dict[str, str]:
    return ctx.remember("currencies", lambda: {c.currency_code: c.currency_id for c in ctx.books.iter_currencies()})


def _pages(ctx: SyncContext, cursor: dict[str, Any] | None) -> SourcePage:
    page = ctx.projects.clients_page((cursor or {}).get("page"))
    return SourcePage(page.items, {"page": page.next_cursor} if page.next_cursor else None)


def _record(_ctx: SyncContext, client: ClientCompany) -> Record:
    fields = {"name": client.name, "email": normalize_email(client.email), "currency": client.currency_code}
    return Record(client.id, client.name, fields, source=client)


def _find(ctx: SyncContext, record: Record, link: links.Link, _parent: str | None) -> str | None:
    index = customers(ctx)
    intended = link.attributes.get("books_name")
    if intended:  # a create was started before a crash: adopt what it made, if it got that far
        return _made_before(ctx, index, intended)
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


def _made_before(ctx: SyncContext, index: CustomerIndex, intended: str) -> str | None:
    # Asked of Books by name rather than of the index: the attempt that may have created it is not in the index
    # when it failed after the POST (a 5xx, a lost answer) in this very process.
    named = ctx.books.iter_contacts(contact_type="customer", contact_name=intended)
    made = [c for c in index.free(list(named)) if c.contact_name == intended]
    if not made:
        return None
    index.add(made[0])
    return made[0].contact_id


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
    own = index.by_id.get(books_id)
    # a name Books holds is free for us when it is this customer's own (a retry after the rename landed)
    free = record.name not in index.names or (own is not None and own.contact_name == record.name)
    name = record.name if free else ctx.link.attributes["books_name"]
    ctx.books.update_contact(books_id, {"contact_name": name, "company_name": record.name})
    if own is not None:
        index.merge([own.model_copy(update={"contact_name": name, "company_name": record.name})])
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
