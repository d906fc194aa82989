"""clients: Projects client companies -> Books customers.

Matched by link, then by normalized name ("Acme Ltd" = "ACME Ltd."), e-mail only breaking a tie between
same-name customers (worker/matching.py); the contact-duplication preference then decides: ``merge`` links the
same-name customer, ``clone`` creates a new one beside it. A link an earlier version made by e-mail alone is
reported on every run until an admin settles it, never relinked behind their back.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from shared.db import links
from shared.db.sync_errors import Problem
from shared.zoho.projects_models import ClientCompany
from worker.matching import (
    CREATED,
    AmbiguousMatch,
    linked_by_email_alone,
    match_by_name,
    normalize_company,
    normalize_email,
)
from worker.modules.base import ProblemError, Record, SyncContext, SyncModule, note_intent, slice_links
from worker.modules.customer_index import CustomerIndex, books_customers
from worker.modules.paging import FlatList


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


def _record(_ctx: SyncContext, client: ClientCompany) -> Record:
    fields = {"name": client.name, "email": normalize_email(client.email), "currency": client.currency_code}
    return Record(client.id, client.name, fields, source=client)


def client_directory(ctx: SyncContext) -> dict[str, ClientCompany]:
    """Every client of the portal by id, read from Projects only when a rule needs another client's name."""
    return ctx.remember("client_directory", lambda: {c.id: c for c in ctx.projects.iter_clients()})


def other_clients_of(ctx: SyncContext, books_id: str, client_id: str) -> list[str]:
    """Projects ids of the other clients linked to a Books customer (as the slice started)."""
    return sorted(
        pid
        for pid, link in slice_links(ctx, "client").items()
        if link.books_id == books_id and not link.pending and pid != client_id
    )


def _counterparts(ctx: SyncContext, index: CustomerIndex, record: Record) -> dict[str, list[str]]:
    """Names of the other clients linked to each same-name customer; Projects is asked only if one is linked.

    A link written earlier in this slice needs no name: the rule only ever links a customer to same-name clients.
    A client deleted in Projects is nobody's counterpart any more.
    """
    named = index.by_name[normalize_company(record.name)]
    if not any(c.contact_id in index.taken for c in named):
        return {}
    found: dict[str, list[str]] = defaultdict(list)
    directory = client_directory(ctx)
    for contact in named:
        for pid in other_clients_of(ctx, contact.contact_id, record.projects_id):
            if pid in directory:
                found[contact.contact_id].append(directory[pid].name)
    return found


def _find(ctx: SyncContext, record: Record, link: links.Link, _parent: str | None) -> str | None:
    index = customers(ctx)
    intended = link.attributes.get("books_name")
    if intended:  # a create was started before a crash: adopt what it made, if it got that far
        return _made_before(ctx, index, intended)
    if ctx.integration.contact_duplication == "clone":
        return None
    # merge: several same-name Projects clients may become one Books customer (Zoho's rule), never others
    named = index.by_name[normalize_company(record.name)]
    try:
        match = match_by_name(record.name, record.fields["email"], named, _counterparts(ctx, index, record))
    except AmbiguousMatch as exc:
        names = ", ".join(f"'{c.contact_name}' ({c.contact_id})" for c in exc.candidates)
        raise ProblemError(
            Problem(
                "ambiguous_customer",
                f"Client '{record.name}' matches {len(exc.candidates)} Books customers by name: {names}; "
                f"nothing tells them apart ({exc.how}).",
                "Rename or merge the duplicate customers in Zoho Books, or give the one that is this company the "
                "client's e-mail (e-mail only breaks a tie between same-name customers), then retry.",
            )
        ) from exc
    ctx.memo.setdefault("match_how", {})[record.projects_id] = match.how
    if match.contact is None:
        return None
    index.taken.add(match.contact.contact_id)
    return match.contact.contact_id


def _check(ctx: SyncContext, record: Record) -> Problem | None:
    """A link an earlier version made by e-mail alone is reported, and kept, until an admin settles it."""
    link = slice_links(ctx, "client").get(record.projects_id)
    if link is None or link.pending or not link.books_id or _explained(link):
        return None
    if not record.fields["email"]:
        return None  # nothing but a name could have made this link: no need to read the customers
    customer = customers(ctx).by_id.get(link.books_id)
    if customer is None or not linked_by_email_alone(record.name, record.fields["email"], customer, created=False):
        return None
    directory = client_directory(ctx)
    others = [directory[p].name for p in other_clients_of(ctx, link.books_id, record.projects_id) if p in directory]
    shared = f" It is also the customer of {_quoted(others)}." if others else ""
    return Problem(
        "linked_by_email",
        f"Client '{record.name}' is linked to the Books customer '{customer.contact_name}' by e-mail alone "
        f"({record.fields['email']}): an earlier version matched by e-mail first, but the names differ and a shared "
        f"mailbox is no evidence of one company.{shared} The link is kept, and its projects still sync to that "
        "customer, until you decide.",
        "Same company: rename the client in Zoho Projects or the customer in Zoho Books so the names match; the "
        "next sync keeps the link and clears this error. Different companies: `bpsync retry` this error with "
        "`--relink`: the client is matched again by name (or gets a customer of its own) and its Books projects "
        "move to that customer.",
    )


def _explained(link: links.Link) -> bool:
    """A link that says how it was made: created by us, or by a rule that records its evidence (``matched_by``,
    e.g. the customer the legacy integration's projects bill) rather than a shared mailbox."""
    return "books_name" in link.attributes or "matched_by" in link.attributes


def _quoted(names: list[str]) -> str:
    return ", ".join(f"'{n}'" for n in names)


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


def _how_created(ctx: SyncContext, record: Record) -> str:
    if ctx.integration.contact_duplication == "clone":
        return f"{CREATED}: the clone preference gives every client a customer of its own"
    return str(ctx.memo.get("match_how", {}).get(record.projects_id, CREATED))


def _payload(ctx: SyncContext, record: Record) -> dict[str, Any]:
    payload: dict[str, Any] = {"contact_name": record.name, "company_name": record.name, "contact_type": "customer"}
    currency = record.fields["currency"]
    if currency:
        if currency not in currency_ids(ctx):
            raise ProblemError(
                Problem(
                    "currency_not_enabled",
                    f"Client '{record.name}' uses {currency}, which is not enabled in Zoho Books; its customer would "
                    f"be {_how_created(ctx, record)}.",
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
    paging=FlatList(lambda ctx, cursor: ctx.projects.clients_page(cursor)),
    to_record=_record,
    create=_create,
    update=_update,
    check=_check,
    find_existing=_find,
)
