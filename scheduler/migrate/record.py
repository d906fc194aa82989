"""Writing a migration: the whole plan in ONE database transaction, recorded as a sync run (trigger ``migrate``).

Nothing is half-written: the run, its module runs (one per record kind, carrying the counts), the adopted links,
the transactions, the billing claims and the skipped records' errors commit together or not at all. The run is
written already finished, so the sweeper and the status badges never see it in progress; it is history only.

The one-way rule is the existence of that run: the check and the write happen under the integration's row lock,
so two migrations started at once cannot both pass it.

Counts of a migrate module run: ``fetched`` records considered, ``updated`` adopted (a link was written; nothing
is written to Zoho), ``created`` left for the next sync to create, ``skipped`` not migrated (each an open error).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from scheduler.migrate.pairing import ALREADY_LINKED
from scheduler.migrate.plan import Plan
from scheduler.migrate.report import ADOPTED, CREATED, KINDS, MODULE_OF, SKIPPED, Entry
from shared.clock import utcnow
from shared.db import claims, sync_errors, transactions
from shared.db.engine import inserted_id
from shared.db.schema import entity_links, integrations, module_runs, sync_runs
from shared.db.sync_errors import Problem

TRIGGER = "migrate"
# the sync module each record kind belongs to: a skipped record's error sits beside the sync's own errors
SYNC_MODULE = {
    "client": "clients",
    "project": "projects",
    "task": "tasks",
    "bug": "bugs",
    "timesheet": "timesheets",
    "invoice": "transactions",
}
HINTS = {
    "no_primary_client": {
        "project": "Migration runs once. Give the project a primary client in Zoho Projects: the next sync creates it "
        "in Zoho Books (a new Books project; the legacy one is left as it is).",
        "invoice": "Nothing to do here: the invoice stays in Zoho Books as it is. Invoices of the project made after "
        "it is synced (once it has a primary client) show in its Finance view.",
    },
}


class MigrateRefused(Exception):
    """The migration may not run (already migrated, a sync in progress, the integration enabled); one line."""


def migrate_run(conn: sa.Connection, integration_id: int) -> sa.Row[Any] | None:
    return conn.execute(
        sa.select(sync_runs)
        .where(sync_runs.c.integration_id == integration_id, sync_runs.c.trigger == TRIGGER)
        .order_by(sync_runs.c.id)
        .limit(1)
    ).first()


def refusal(conn: sa.Connection, integration_id: int, *, writing: bool) -> str | None:
    """Why a migration cannot run now (None: it can). A dry run is refused only once migrated."""
    row = conn.execute(sa.select(integrations).where(integrations.c.id == integration_id)).one()
    done = migrate_run(conn, integration_id)
    if done is not None:
        when = done.finished_at.strftime("%Y-%m-%d %H:%M UTC") if done.finished_at else "earlier"
        return (
            f"integration {row.name!r} was already migrated from the legacy integration (run #{done.id}, {when}); "
            f"migration is one way and runs once: see `bpsync history {row.name}` and `bpsync errors {row.name}`"
        )
    if not writing:
        return None
    if row.state != "disabled":
        return (
            f"integration {row.name!r} is enabled: disable it first (bpsync disable {row.name}) so no sync writes "
            f"while links are adopted, migrate, then enable it (bpsync enable {row.name}): that sync creates the rest"
        )
    busy = conn.execute(
        sa.select(sync_runs.c.id, sync_runs.c.status).where(
            sync_runs.c.integration_id == integration_id, sync_runs.c.status.in_(("queued", "running"))
        )
    ).first()
    if busy is not None:
        return (
            f"run #{busy.id} of {row.name!r} is still {busy.status} (it stops at its next slice now that the "
            f"integration is disabled); try again when `bpsync status {row.name}` shows nothing in progress"
        )
    return None


def record_migration(engine: sa.Engine, integration_id: int, plan: Plan, started_at: dt.datetime) -> int:
    """Write the plan and its run; MigrateRefused (and nothing written) if the migration may not run now."""
    with engine.begin() as conn:
        conn.execute(sa.select(integrations.c.id).where(integrations.c.id == integration_id).with_for_update())
        refused = refusal(conn, integration_id, writing=True)
        if refused:
            raise MigrateRefused(refused)
        run_id, module_run_of = _run_rows(conn, integration_id, plan.entries, started_at)
        _links(conn, integration_id, plan, module_run_of)
        for record in plan.transactions:
            transactions.upsert(conn, integration_id, record, origin="books")
        for invoice_id, items in sorted(plan.claims.items()):
            held = {(c.item_type, c.item_id) for c in claims.holders(conn, integration_id, items)}
            free = sorted(items - held)  # an item some invoice already holds stays with it: billed either way
            claims.claim(conn, integration_id, free, side="books", books_invoice_id=invoice_id)
        for entry in plan.entries:
            if entry.outcome == SKIPPED and entry.reason_code != ALREADY_LINKED:
                _error(conn, integration_id, entry, module_run_of[entry.kind])
        return run_id


def _run_rows(
    conn: sa.Connection, integration_id: int, entries: list[Entry], started_at: dt.datetime
) -> tuple[int, dict[str, int]]:
    now = utcnow()
    statuses = {kind: _status(entries, kind) for kind in KINDS}
    status = "partial" if "partial" in statuses.values() else "succeeded"
    run_id = inserted_id(
        conn.execute(
            sync_runs.insert().values(
                integration_id=integration_id,
                trigger=TRIGGER,
                modules=[MODULE_OF[k] for k in KINDS],
                status=status,
                requested_at=started_at,
                started_at=started_at,
                finished_at=now,
            )
        )
    )
    module_run_of = {}
    for position, kind in enumerate(KINDS):
        mine = [e for e in entries if e.kind == kind]
        module_run_of[kind] = inserted_id(
            conn.execute(
                module_runs.insert().values(
                    sync_run_id=run_id,
                    integration_id=integration_id,
                    module=MODULE_OF[kind],
                    position=position,
                    status=statuses[kind],
                    fetched=len(mine),
                    updated=sum(e.outcome == ADOPTED for e in mine),
                    created=sum(e.outcome == CREATED for e in mine),
                    skipped=sum(e.outcome == SKIPPED for e in mine),
                    started_at=started_at,
                    finished_at=now,
                    heartbeat_at=now,
                )
            )
        )
    return run_id, module_run_of


def _status(entries: list[Entry], kind: str) -> str:
    skipped = any(e.kind == kind and e.outcome == SKIPPED and e.reason_code != ALREADY_LINKED for e in entries)
    return "partial" if skipped else "succeeded"


def _links(conn: sa.Connection, integration_id: int, plan: Plan, module_run_of: dict[str, int]) -> None:
    now = utcnow()
    rows = [
        {
            "integration_id": integration_id,
            "entity_type": link.entity_type,
            "projects_id": link.projects_id,
            "books_id": link.books_id,
            "state": "linked",
            "fingerprint": link.fingerprint,
            "parent_projects_id": link.parent_projects_id,
            "attributes": link.attributes,
            "last_synced_at": now,
            "created_at": now,
            "module_run_id": module_run_of[link.entity_type],
        }
        for link in plan.links
    ]
    if not rows:
        return
    try:
        with conn.begin_nested():
            conn.execute(entity_links.insert(), rows)
    except sa.exc.IntegrityError:
        raise MigrateRefused(
            "a link the migration was about to write exists already (a sync ran meanwhile?); nothing was written — "
            "run the migration again"
        ) from None


def _error(conn: sa.Connection, integration_id: int, entry: Entry, module_run_id: int) -> None:
    hint = HINTS.get(entry.reason_code, {}).get(entry.kind, "Migration runs once; this record stays as it is.")
    sync_errors.record(
        conn,
        integration_id,
        module=SYNC_MODULE[entry.kind],
        entity_type=entry.kind,
        source_id=entry.source_id,
        source_name=entry.name[:500],
        problem=Problem(entry.reason_code, f"Not migrated from the legacy integration: {entry.reason}.", hint),
        module_run_id=module_run_id,
    )
