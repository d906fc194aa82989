"""projects: Projects projects -> Books projects.

Only projects with a primary client sync, and that client's Books customer must use the project's currency
(the Zoho help page's troubleshooting rules, as product behaviour). After the first full sync a run fetches
only projects modified since the last successful one, plus every project that still has an open error; the
paging (project_pages.py) also fetches each project's clients and users, so a record is mapped without a call.
"""

from __future__ import annotations

from typing import Any

from shared.db import links
from shared.db.sync_errors import Problem
from shared.zoho.books_models import Contact
from shared.zoho.projects_models import ClientCompany
from worker.matching import describe_link, linked_by_email_alone, normalize_company
from worker.modules.base import Record, SyncContext, SyncModule, note_intent, slice_links
from worker.modules.clients import client_directory, customers, other_clients_of
from worker.modules.project_pages import ProjectPages, ProjectSource
from worker.modules.users import books_users_by_email

BILLING_TYPE = "based_on_task_hours"  # a project without a Projects rate: Books' task rates (set in Books)
RATE_BILLING_TYPE = "based_on_project_hours"  # a project with a Projects rate: billed at that rate per hour


def _record(ctx: SyncContext, item: ProjectSource) -> Record:
    project = item.project
    if project.status != "active" and not item.linked:
        return Record(project.id, project.name, {}, skip=True)
    primary = next((c for c in item.clients if c.is_primary), None)
    if primary is not None:  # its name and e-mail explain a currency mismatch without asking Projects again
        _primary_clients(ctx)[project.id] = primary
    member_ids = sorted(books_id for u in item.users if (books_id := item.user_books_ids.get(u.id)))
    fields = {
        "name": project.name,
        "description": project.description[:500],
        "active": project.status == "active",
        "currency": project.currency_code,
        "primary_client": primary.id if primary else None,
        "users": member_ids,
        "owner": item.user_books_ids.get(project.owner_id or ""),
        "rate": project.rate,
    }
    return Record(project.id, project.name, fields, parent=("client", primary.id) if primary else None, source=project)


def _check(ctx: SyncContext, record: Record) -> Problem | None:
    if record.fields["primary_client"] is None:
        return Problem(
            "no_primary_client",
            f"Project '{record.name}' couldn't be fetched: it has no primary client.",
            "Associate the project with a primary client in Zoho Projects; it syncs on the next run.",
        )
    link = slice_links(ctx, "client").get(record.fields["primary_client"])
    currency = record.fields["currency"]
    customer = customers(ctx).by_id.get(link.books_id or "") if link and not link.pending else None
    if link is None or customer is None or not currency or not customer.currency_code:
        return None
    if customer.currency_code == currency:
        return None
    client = _primary_clients(ctx).get(record.projects_id)
    return _currency_mismatch(ctx, record, link, customer, client)


def _primary_clients(ctx: SyncContext) -> dict[str, ClientCompany]:
    return ctx.remember("primary_clients", dict)


def _currency_mismatch(
    ctx: SyncContext, record: Record, link: links.Link, customer: Contact, client: ClientCompany | None
) -> Problem:
    """The error says how the client came to be that customer; the hint never suggests re-pricing a customer
    that other clients' projects use (the sister company's projects would break)."""
    currency, theirs = record.fields["currency"], customer.currency_code
    name, email = (client.name, client.email) if client else (customer.contact_name, customer.email)
    created = "books_name" in link.attributes
    same_name = len(customers(ctx).by_name[normalize_company(name)])
    recorded = link.attributes.get("matched_by")  # a rule that kept its evidence says how itself
    how = str(recorded) if recorded else describe_link(name, email, customer, created=created, same_name=same_name)
    directory = client_directory(ctx)
    others = [directory[p].name for p in other_clients_of(ctx, customer.contact_id, link.projects_id) if p in directory]
    message = (
        f"Project '{record.name}' couldn't be fetched: it uses {currency} but its primary client '{name}' is linked "
        f"to the Zoho Books customer '{customer.contact_name}' ({how}), which uses {theirs}."
    )
    keep = (
        f" Don't change the currency of '{customer.contact_name}': it is also the customer of "
        + ", ".join(f"'{n}'" for n in others)
        + "."
        if others
        else ""
    )
    if not recorded and linked_by_email_alone(name, email, customer, created=created):
        hint = (
            f"Settle the client's link first (module clients, reason linked_by_email): if '{name}' is another "
            "company, `bpsync retry` that error with `--relink` and this project syncs to its own customer; if it is "
            f"the same company, rename one side so the names match, then change the project's currency to {theirs}."
            + keep
        )
    elif others:
        hint = f"Change the project's currency to {theirs} in Zoho Projects." + keep
    else:
        hint = (
            f"Change the project's currency to {theirs}, or change the customer's currency in Zoho Books to "
            f"{currency} (no other client uses that customer)."
        )
    return Problem("currency_mismatch", message, hint)


def _manager(ctx: SyncContext, record: Record) -> str:
    if record.fields["owner"]:
        return str(record.fields["owner"])
    admins = [u for u in books_users_by_email(ctx).values() if u.user_role == "admin" and u.status == "active"]
    return admins[0].user_id if admins else ""


def _find(ctx: SyncContext, _record: Record, link: links.Link, customer_id: str | None) -> str | None:
    """After a crash between the POST and the link: the project we were creating, if Books has it.

    A Books project already linked to another project is never adopted, nor one this page linked a moment ago (its
    link waits for the page's checkpoint): after a crash, two same-name projects of one customer and one page both
    come back pending with an intent, and each must get its own (else the second link is refused, again and again).
    """
    intended = link.attributes.get("books_name")
    if not intended:
        return None
    with ctx.engine.connect() as conn:
        taken = links.claimed_books_ids(conn, ctx.integration.id, "project") | ctx.page_books_ids
    for project in ctx.books.iter_projects(customer_id=customer_id):
        if project.project_name == intended and project.project_id not in taken:
            return project.project_id
    return None


def _billing(record: Record) -> dict[str, Any]:
    """How Books bills the project's time, set when the project is created there (ours: Zoho's help page says
    nothing of rates). With the Projects project's hourly rate (``project_rate``): project hours at that rate, so
    invoices bill time at it; without one: task hours, whose rates are set in Books. An existing Books project's
    billing is never changed: an accountant may have set it up otherwise."""
    rate = record.fields.get("rate")
    if rate:
        return {"billing_type": RATE_BILLING_TYPE, "rate": rate}
    return {"billing_type": BILLING_TYPE}


def _create(ctx: SyncContext, record: Record, customer_id: str | None) -> str:
    assert customer_id is not None
    manager = _manager(ctx, record)
    users = [{"user_id": u} for u in record.fields["users"] if u != manager]
    payload = {
        "project_name": record.name[:100],
        "customer_id": customer_id,
        **_billing(record),
        "description": record.fields["description"],
        "user_id": manager,
        "users": users,
    }
    note_intent(ctx, **_intent(record))
    return ctx.books.create_project(payload).project_id


def _intent(record: Record) -> dict[str, Any]:
    """The Books name a retry looks the project up by (_find)."""
    return {"books_name": record.name[:100]}


def _update(ctx: SyncContext, record: Record, books_id: str, customer_id: str | None) -> None:
    assert customer_id is not None
    ctx.books.update_project(
        books_id,
        {"project_name": record.name[:100], "customer_id": customer_id, "description": record.fields["description"]},
    )
    assigned = {u.user_id for u in ctx.books.iter_project_users(books_id)}
    missing = [u for u in record.fields["users"] if u not in assigned]
    if missing:
        ctx.books.assign_project_users(books_id, missing)
    if record.fields["active"]:
        ctx.books.mark_project_active(books_id)
    else:
        ctx.books.mark_project_inactive(books_id)


PROJECTS = SyncModule(
    name="projects",
    entity_type="project",
    paging=ProjectPages(),
    to_record=_record,
    create=_create,
    update=_update,
    check=_check,
    find_existing=_find,
    parent_label="primary client",
    intent_first=True,  # create notes its intent before the POST (the manager read before it writes nothing)
    intent=_intent,  # _find only finds what an interrupted create posted
)
