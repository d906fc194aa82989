"""The migration plan (pure: no Zoho, no database): what to adopt, what the sync will create, what is skipped.

A dry run prints the plan; the real run plans again from a fresh read and writes exactly the plan, so the dry
run's report is the real run's outcome whenever nothing changed in Zoho in between.

What is adopted, and how (our rules; the README lists them):
- a project: its paired legacy Books project, when it has a primary client (Zoho: "only the transactions that have
  been associated with a Primary Client will be migrated"); without one the project and its invoices are skipped;
- a client: the customer its adopted projects' Books projects point at, when they all point at one (a customer
  merged by hand in Books is found this way, whatever its name now is); otherwise the sync's own customer rule;
- a task or bug: the Books task of its adopted project with exactly its name, unique on both sides;
- a time log (billable, approved, not before the cutoff): the Books time entry of its project with its task,
  user (by email), date and duration; identical ones pair in order of notes and id, as nothing tells them apart;
- an invoice of an adopted project: into the Finance view's transactions, and the time entries it bills are
  claimed (side ``books``), so the project side can never bill them again.

Adopted links carry no fingerprint (the next sync compares and writes what differs, e.g. a renamed project's
name), except time entries: theirs is what Books holds, so an entry that already matches its log is left alone
(an invoiced one could not be changed anyway, and saying so would be an error about nothing).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from scheduler.migrate.pairing import Pair, already_linked
from scheduler.migrate.reading import Lists, ProjectDetail
from scheduler.migrate.report import ADOPTED, CREATED, SKIPPED, Entry
from shared.db.links import Link, fingerprint
from shared.db.transactions import TransactionRecord
from shared.zoho.books_models import BooksProject, Invoice, TimeEntry
from shared.zoho.projects_models import TimeLog

NOTES_LIMIT = 500  # as the timesheets module writes notes
NO_PRIMARY_CLIENT = "no_primary_client"
NO_LEGACY = "no_legacy_record"
AMBIGUOUS = "ambiguous_legacy"


@dataclass(frozen=True)
class LinkWrite:
    entity_type: str
    projects_id: str
    books_id: str
    parent_projects_id: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    fingerprint: str | None = None


@dataclass
class Plan:
    entries: list[Entry] = field(default_factory=list)
    links: list[LinkWrite] = field(default_factory=list)
    transactions: list[TransactionRecord] = field(default_factory=list)
    claims: dict[str, set[tuple[str, str]]] = field(default_factory=dict)  # Books invoice id -> items it bills


@dataclass(frozen=True)
class Known:
    """What the database already holds: links by entity type (Projects id -> Link)."""

    links: dict[str, dict[str, Link]]

    def of(self, entity_type: str) -> dict[str, Link]:
        return self.links.get(entity_type, {})

    def books_ids(self, *entity_types: str) -> set[str]:
        return {link.books_id for t in entity_types for link in self.of(t).values() if link.books_id}


def plan_migration(
    lists: Lists,
    pairs: list[Pair],
    pairing_entries: list[Entry],
    details: dict[str, ProjectDetail],
    known: Known,
    cutoff: dt.date | None,
) -> Plan:
    plan = Plan(entries=list(pairing_entries))
    customers: dict[str, set[tuple[str, str]]] = defaultdict(set)  # client id -> (customer id, customer name)
    seen_invoices: set[str] = set()
    for pair in sorted(pairs, key=lambda p: p.project.id):
        detail = details[pair.project.id]
        if detail.primary is None:
            _skip_project(plan, pair, detail, seen_invoices)
            continue
        _adopt_project(plan, pair)
        customers[detail.primary.id].add((pair.books_project.customer_id, pair.books_project.customer_name))
        books_task_of = _plan_tasks(plan, pair, detail, known)
        _plan_logs(plan, lists, pair, detail, known, books_task_of, cutoff)
        _plan_invoices(plan, pair, detail, seen_invoices)
    _plan_clients(plan, lists, customers, known)
    return plan


# ----------------------------------------------------------------------------------------------- projects
def _adopt_project(plan: Plan, pair: Pair) -> None:
    books = pair.books_project
    reason = f"legacy Books project {books.project_id} '{books.project_name}' (by {pair.how})"
    if books.project_name != pair.project.name[:100]:
        reason += f"; renamed since: the next sync names it '{pair.project.name[:100]}' in Books"
    plan.entries.append(Entry("project", pair.project.id, pair.project.name, ADOPTED, reason, books.project_id))
    plan.links.append(LinkWrite("project", pair.project.id, books.project_id))


def _skip_project(plan: Plan, pair: Pair, detail: ProjectDetail, seen_invoices: set[str]) -> None:
    books = pair.books_project
    why = "has no primary client (Zoho: only transactions associated with a primary client are migrated)"
    reason = (
        f"it {why}; its legacy Books project {books.project_id} '{books.project_name}' and its "
        f"{len(detail.invoices)} invoice(s) stay in Zoho Books as they are"
    )
    plan.entries.append(
        Entry("project", pair.project.id, pair.project.name, SKIPPED, reason, books.project_id, NO_PRIMARY_CLIENT)
    )
    for invoice in detail.invoices:
        if invoice.invoice_id in seen_invoices:
            continue
        seen_invoices.add(invoice.invoice_id)
        reason = f"its project '{pair.project.name}' {why}; the invoice stays in Zoho Books, outside the Finance view"
        plan.entries.append(
            Entry(
                "invoice",
                invoice.invoice_id,
                _number(invoice),
                SKIPPED,
                reason,
                invoice.invoice_id,
                NO_PRIMARY_CLIENT,
            )
        )


# ----------------------------------------------------------------------------------------------- clients
def _plan_clients(plan: Plan, lists: Lists, customers: dict[str, set[tuple[str, str]]], known: Known) -> None:
    linked = known.of("client")
    for client in sorted(lists.clients, key=lambda c: c.id):
        if client.id in linked:
            plan.entries.append(already_linked("client", client.id, client.name, linked[client.id]))
            continue
        found = sorted(customers.get(client.id, set()))
        if len(found) == 1:
            customer_id, customer_name = found[0]
            reason = f"the customer its legacy project(s) bill: {customer_id} '{customer_name}'"
            plan.entries.append(Entry("client", client.id, client.name, ADOPTED, reason, customer_id))
            # the evidence is kept on the link: the clients module then never reports it as made by e-mail alone
            evidence = f"migrated: the customer its legacy project(s) bill ('{customer_name}')"
            plan.links.append(LinkWrite("client", client.id, customer_id, attributes={"matched_by": evidence}))
        elif found:
            names = ", ".join(f"{cid} '{name}'" for cid, name in found)
            reason = (
                f"its legacy projects bill several customers ({names}); none adopted, the sync's customer rule decides"
            )
            plan.entries.append(Entry("client", client.id, client.name, CREATED, reason, None, AMBIGUOUS))
        else:
            reason = (
                "no legacy project bills a customer for it: the next sync matches one by email or name, or creates it"
            )
            plan.entries.append(Entry("client", client.id, client.name, CREATED, reason, None, NO_LEGACY))


# ----------------------------------------------------------------------------------------------- tasks, bugs
def _plan_tasks(plan: Plan, pair: Pair, detail: ProjectDetail, known: Known) -> dict[str, str]:
    """Tasks and bugs of an adopted project; returns Projects task/bug id -> Books task id (adopted or linked)."""
    taken = known.books_ids("task", "bug")
    books_by_name: dict[str, list[str]] = defaultdict(list)
    for task in detail.books_tasks:
        if task.task_id not in taken:
            books_by_name[task.task_name.strip()].append(task.task_id)
    subjects = [("task", t.id, t.name, t.name[:100]) for t in detail.tasks] + [
        ("bug", b.id, b.title, (f"{b.key}: {b.title}" if b.key else b.title)[:100]) for b in detail.bugs
    ]
    named: dict[str, int] = defaultdict(int)
    for _, _, _, books_name in subjects:
        named[books_name.strip()] += 1
    books_task_of: dict[str, str] = {}
    for kind, source_id, name, books_name in sorted(subjects, key=lambda s: (s[0], s[1])):
        link = known.of(kind).get(source_id)
        if link is not None:
            plan.entries.append(already_linked(kind, source_id, name, link))
            if link.books_id:
                books_task_of[source_id] = link.books_id
            continue
        candidates = books_by_name.get(books_name.strip(), [])
        if len(candidates) == 1 and named[books_name.strip()] == 1:
            books_task_of[source_id] = candidates[0]
            reason = f"Books task {candidates[0]} '{books_name}' of legacy project {pair.books_project.project_id}"
            plan.entries.append(Entry(kind, source_id, name, ADOPTED, reason, candidates[0]))
            plan.links.append(LinkWrite(kind, source_id, candidates[0], pair.project.id))
        elif candidates:
            reason = f"{len(candidates)} legacy Books tasks and {named[books_name.strip()]} {kind}(s) share its name; "
            reason += "none adopted on a guess, the next sync creates its own"
            plan.entries.append(Entry(kind, source_id, name, CREATED, reason, None, AMBIGUOUS))
        else:
            reason = "no legacy Books task of its project has its name: the next sync creates it"
            plan.entries.append(Entry(kind, source_id, name, CREATED, reason, None, NO_LEGACY))
    return books_task_of


# ----------------------------------------------------------------------------------------------- time logs
def _qualifies(log: TimeLog, cutoff: dt.date | None) -> bool:
    # the timesheets module's rule: billable AND approved, not before the cutoff date (general logs: see README)
    if log.component not in ("task", "bug") or not log.billable or log.approval_status.lower() != "approved":
        return False
    return cutoff is None or log.log_date >= cutoff


def log_name(log: TimeLog) -> str:
    """As the timesheets module names a log in errors and on its link."""
    hours = f"{log.minutes // 60}:{log.minutes % 60:02d}"
    who = f" by {log.owner_name}" if log.owner_name else ""
    return f"{log.name or log.component} — {log.log_date.isoformat()}, {hours}{who}"


Key = tuple[str, str, dt.date, int]  # Books task, Books user, date, minutes


def _plan_logs(
    plan: Plan,
    lists: Lists,
    pair: Pair,
    detail: ProjectDetail,
    known: Known,
    books_task_of: dict[str, str],
    cutoff: dt.date | None,
) -> None:
    linked = known.of("timesheet")
    taken = known.books_ids("timesheet")
    entries_by_key: dict[Key, list[TimeEntry]] = defaultdict(list)
    for entry in detail.entries:
        if entry.log_date is not None and entry.time_entry_id not in taken:
            entries_by_key[(entry.task_id, entry.user_id, entry.log_date, entry.minutes)].append(entry)
    logs_by_key: dict[Key, list[TimeLog]] = defaultdict(list)
    for log in sorted(detail.logs, key=lambda lg: lg.id):
        if not _qualifies(log, cutoff):
            continue
        if log.id in linked:
            plan.entries.append(already_linked("timesheet", log.id, log_name(log), linked[log.id]))
            continue
        task_id = books_task_of.get(str(log.task_id if log.component == "task" else log.bug_id))
        user_id = lists.books_user_by_email.get(lists.owner_email.get(log.owner_id or "", ""))
        if task_id is None or user_id is None:
            why = "its task is not adopted" if task_id is None else "its owner has no Books user (by email)"
            reason = f"no legacy time entry can match it ({why}): the next sync creates it"
            plan.entries.append(Entry("timesheet", log.id, log_name(log), CREATED, reason, None, NO_LEGACY))
            continue
        logs_by_key[(task_id, user_id, log.log_date, log.minutes)].append(log)
    for key in sorted(logs_by_key, key=lambda k: (k[2], k[0], k[1], k[3])):
        logs = sorted(logs_by_key[key], key=lambda lg: (lg.notes[:NOTES_LIMIT], lg.id))
        entries = sorted(entries_by_key.get(key, []), key=lambda e: (e.notes, e.time_entry_id))
        for n, log in enumerate(logs):
            if n >= len(entries):
                reason = "no legacy time entry has its task, user, date and duration: the next sync creates it"
                plan.entries.append(Entry("timesheet", log.id, log_name(log), CREATED, reason, None, NO_LEGACY))
                continue
            _adopt_log(plan, pair, log, entries[n])


def _adopt_log(plan: Plan, pair: Pair, log: TimeLog, entry: TimeEntry) -> None:
    billed = f", invoiced ({entry.invoice_id})" if entry.billed_status == "invoiced" else ""
    reason = f"legacy time entry {entry.time_entry_id}{billed}"
    plan.entries.append(Entry("timesheet", log.id, log_name(log), ADOPTED, reason, entry.time_entry_id))
    parent = str(log.task_id if log.component == "task" else log.bug_id)
    attributes = {"component": log.component, "log_date": log.log_date.isoformat(), "name": log_name(log)}
    plan.links.append(LinkWrite("timesheet", log.id, entry.time_entry_id, parent, attributes, _entry_print(log, entry)))


def _entry_print(log: TimeLog, entry: TimeEntry) -> str:
    """The fingerprint of what Books holds, in the timesheets module's field layout (worker/modules/timesheets.py
    ``_record``, plus the engine's ``_parent``): the next sync writes the entry only if its log differs."""
    assert entry.log_date is not None
    fields = {
        "component": log.component,
        "project": entry.project_id,
        "user": entry.user_id,
        "date": entry.log_date.isoformat(),
        "minutes": entry.minutes,
        "notes": entry.notes[:NOTES_LIMIT],
        "_parent": entry.task_id,
    }
    return fingerprint(fields)


# ----------------------------------------------------------------------------------------------- invoices
def _plan_invoices(plan: Plan, pair: Pair, detail: ProjectDetail, seen: set[str]) -> None:
    billed: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for entry in detail.entries:
        if entry.billed_status == "invoiced" and entry.invoice_id:
            billed[entry.invoice_id].add(("time_entry", entry.time_entry_id))
    for invoice in sorted(detail.invoices, key=lambda i: i.invoice_id):
        if invoice.invoice_id in seen:
            continue
        seen.add(invoice.invoice_id)
        items = billed.pop(invoice.invoice_id, set())
        reason = f"invoice of legacy project {pair.books_project.project_id}, into the Finance view"
        reason += (
            f"; the {len(items)} time entr{'y' if len(items) == 1 else 'ies'} it bills are claimed" if items else ""
        )
        plan.entries.append(Entry("invoice", invoice.invoice_id, _number(invoice), ADOPTED, reason, invoice.invoice_id))
        plan.transactions.append(_transaction(pair, invoice))
        plan.claims[invoice.invoice_id] = items
    for invoice_id, items in billed.items():  # billed by an invoice the project's list did not show: still billed
        plan.claims.setdefault(invoice_id, set()).update(items)


def _number(invoice: Invoice) -> str:
    return invoice.invoice_number or invoice.invoice_id


def _money(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _transaction(pair: Pair, invoice: Invoice) -> TransactionRecord:
    books: BooksProject = pair.books_project
    # last_modified_at stays empty: the transactions poll then reads the invoice whole (its lines) on its first pass
    return TransactionRecord(
        kind="invoice",
        books_id=invoice.invoice_id,
        books_project_id=books.project_id,
        projects_project_id=pair.project.id,
        number=invoice.invoice_number or None,
        date=invoice.date,
        customer_id=invoice.customer_id or None,
        customer_name=invoice.customer_name or None,
        status=invoice.status or None,
        total=_money(invoice.total),
        balance=_money(invoice.balance),
        currency_code=invoice.currency_code or None,
        reference_number=(invoice.reference_number or "").strip() or None,
    )
