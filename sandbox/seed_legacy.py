"""What Zoho's legacy (pre-October-2018) Books - Projects integration left in Books, for ``bpsync migrate``.

``generate(..., legacy=True)`` adds, in the main organization: a Books project for a few active Projects projects
with a primary client (named as in Projects, for that client's customer), a Books task per Projects task and bug
(bugs as "KEY: title", as the sync names them), a time entry per billable, approved log of a Books user, and an
invoice per project billing some of those entries. The awkward cases (``world.awkward``):

- ``legacy_no_primary_client_project``: a Projects project without a primary client whose legacy Books project
  (under a customer of its own) has an invoice (``legacy_no_primary_client_invoices``);
- ``legacy_renamed_project``: renamed in Projects since the legacy integration made it (Books has the old name);
- ``legacy_merged_customer``: the customer the legacy integration made for a client was merged by hand into
  another customer, whose name and email match nothing in Projects (the project now points at the survivor);
- ``legacy_unlinked_task``: a Projects task the legacy integration never copied (the sync creates it).

Inferred: the legacy integration's public API is not documented. We assume it kept the Projects project id in a
Books project custom field (api name ``cf_zp_project_id``; Books projects do carry custom fields, reference:
"Update a project using a custom field's unique value") and nothing on tasks or time entries.
"""

from __future__ import annotations

import datetime as dt

from sandbox.books import billing
from sandbox.seed_projects import DAY_MS, awkward
from sandbox.world import BooksProject, BooksProjectUser, BooksTask, Contact, Project, TimeEntry, World

STORED_ID_FIELD = "cf_zp_project_id"
LEGACY_PROJECTS = 3  # with a primary client


def seed_legacy(world: World, now: int) -> None:
    org = next(o for o in world.organizations.values() if o.name == "Zylker Consulting")
    chosen = _candidates(world, org.organization_id)
    # the hand-merged customer is one the legacy integration made (a customer the generator placed for another
    # case stays as it is); the renamed project is another one
    merged = next((n for n, (_, _, made_here) in enumerate(chosen) if made_here), 0)
    renamed = next((n for n in range(len(chosen)) if n != merged), None)
    for n, (project, customer, made_here) in enumerate(chosen):
        if n == merged:
            customer = _merged_by_hand(world, org.organization_id, customer, made_here, now)
        books_project = _books_project(world, org.organization_id, project, customer.contact_id, now)
        if n == renamed:
            books_project.project_name = f"{project.name} (2018 contract)"[:100]
            awkward(world, "legacy_renamed_project", project.id)
        awkward(world, "legacy_projects", project.id)
        _work(world, books_project, project, skip_last_task=n == 0)
        invoice = _invoice(world, org.organization_id, books_project)
        if invoice:
            awkward(world, "legacy_invoices", invoice)
    orphan = next((world.projects[i] for i in world.awkward.get("no_primary_client", [])), None)
    if orphan is not None:
        customer = _contact(world, org.organization_id, f"{orphan.name} Sponsor", orphan.currency_code, now)
        books_project = _books_project(world, org.organization_id, orphan, customer.contact_id, now)
        _work(world, books_project, orphan, skip_last_task=False)
        invoice = _invoice(world, org.organization_id, books_project)
        awkward(world, "legacy_no_primary_client_project", orphan.id)
        if invoice:
            awkward(world, "legacy_no_primary_client_invoices", invoice)


def _candidates(world: World, org_id: str) -> list[tuple[Project, Contact, bool]]:
    """Active projects with a primary client, each with the same-name customer the legacy integration used
    (made here when the generator placed none; True then)."""
    found = []
    for project in sorted(world.projects.values(), key=lambda p: p.id):
        client = world.clients.get(project.primary_client_id or "")
        if project.status != "active" or client is None:
            continue
        named = [c for c in world.contacts.values() if c.organization_id == org_id and c.contact_name == client.name]
        if named and _currency(world, named[0]) == project.currency_code:
            found.append((project, named[0], False))
        elif not named:
            made = _contact(world, org_id, client.name, project.currency_code, 0, client.email)
            found.append((project, made, True))
        if len(found) == LEGACY_PROJECTS:
            break
    return found


def _currency(world: World, contact: Contact) -> str:
    currency = world.currencies.get(contact.currency_id)
    return currency.currency_code if currency else ""


def _contact(world: World, org_id: str, name: str, code: str, now: int, email: str = "") -> Contact:
    currency_id = next(
        c.currency_id for c in world.currencies.values() if c.organization_id == org_id and c.currency_code == code
    )
    contact = Contact(
        contact_id=world.books_id(),
        organization_id=org_id,
        contact_name=name,
        company_name=name,
        currency_id=currency_id,
        email=email,
        created_time=now - 900 * DAY_MS,
        last_modified_time=now - 300 * DAY_MS,
    )
    world.contacts[contact.contact_id] = contact
    return contact


def _merged_by_hand(world: World, org_id: str, legacy: Contact, made_here: bool, now: int) -> Contact:
    """A person merged the legacy customer into another: only the survivor is left, under its own name (a
    customer the generator placed for other cases stays, so those cases keep their meaning)."""
    code = _currency(world, legacy)
    if made_here:
        del world.contacts[legacy.contact_id]
    survivor = _contact(world, org_id, "Consolidated Accounts Receivable Group", code, now)
    awkward(world, "legacy_merged_customer", survivor.contact_id)
    awkward(world, "legacy_merged_customer_was", legacy.contact_id)
    return survivor


def _books_project(world: World, org_id: str, project: Project, customer_id: str, now: int) -> BooksProject:
    staff = {u.zuid: u.user_id for u in world.books_users.values() if u.organization_id == org_id}
    books_project = BooksProject(
        project_id=world.books_id(),
        organization_id=org_id,
        project_name=project.name[:100],
        customer_id=customer_id,
        currency_id=world.contacts[customer_id].currency_id,
        description=project.description[:500],
        users=[BooksProjectUser(user_id=staff[z]) for z in project.user_ids if z in staff],
        created_time=now - 700 * DAY_MS,
        last_modified_time=now - 200 * DAY_MS,
        custom_fields=[
            {
                "customfield_id": world.books_id(),
                "api_name": STORED_ID_FIELD,
                "label": "Zoho Projects ID",
                "value": project.id,
            }
        ],
    )
    world.books_projects[books_project.project_id] = books_project
    return books_project


def _work(world: World, books_project: BooksProject, project: Project, *, skip_last_task: bool) -> None:
    """Books tasks for the project's tasks and bugs, and a time entry per qualifying log of a Books user."""
    org_id = books_project.organization_id
    tasks = sorted(world.tasks.where("project_id", project.id), key=lambda t: t.id)
    if skip_last_task and tasks:
        awkward(world, "legacy_unlinked_task", tasks[-1].id)
        tasks = tasks[:-1]
    books_task_of: dict[str, str] = {}
    named = [(t.id, t.name) for t in tasks] + [
        (b.id, f"{b.key}: {b.title}" if b.key else b.title)
        for b in sorted(world.bugs.where("project_id", project.id), key=lambda b: b.id)
    ]
    for source_id, name in named:
        task = BooksTask(world.books_id(), org_id, books_project.project_id, name[:100])
        world.books_tasks[task.task_id] = task
        books_task_of[source_id] = task.task_id
    staff = {u.zuid: u.user_id for u in world.books_users.values() if u.organization_id == org_id}
    members = {m.user_id for m in books_project.users}
    for log in sorted(world.timelogs.where("project_id", project.id), key=lambda lg: lg.id):
        task_id = books_task_of.get(log.task_id or log.bug_id or "")
        user_id = staff.get(log.owner_id)
        qualifies = log.bill_status == "Billable" and log.approval_status == "Approved"
        if not (task_id and user_id and qualifies):
            continue
        if user_id not in members:
            books_project.users.append(BooksProjectUser(user_id=user_id))
            members.add(user_id)
        entry = TimeEntry(
            time_entry_id=world.books_id(),
            organization_id=org_id,
            project_id=books_project.project_id,
            task_id=task_id,
            user_id=user_id,
            log_date=log.log_date,
            minutes=log.minutes,
            notes=log.notes[:500],
        )
        world.time_entries[entry.time_entry_id] = entry


def _invoice(world: World, org_id: str, books_project: BooksProject) -> str | None:
    """The legacy invoice of the project: the older half of its time entries, sent."""
    entries = sorted(world.time_entries.where("project_id", books_project.project_id), key=lambda e: e.log_date)
    billed = entries[: max(1, len(entries) // 2)] if entries else []
    if not billed:
        return None
    body = {
        "customer_id": books_project.customer_id,
        "date": (min(e.log_date for e in billed) + dt.timedelta(days=30)).isoformat(),
        "line_items": [
            {
                "name": f"Time of {books_project.project_name}"[:100],
                "project_id": books_project.project_id,
                "time_entry_ids": [e.time_entry_id for e in billed],
                "rate": 80,
                "quantity": round(sum(e.minutes for e in billed) / 60, 2),
            }
        ],
    }
    return billing.create_invoice(world, org_id, body, send=True).invoice_id
