"""A completed task invoiced once is never invoiced again — and when Books does it anyway, that is reported.

The project side claims a completed task it invoices (``billing_claims`` item ``task``), so it never invoices that
task again. Books has nothing documented to mark on its side: a Books task carries ``status`` and
``is_billable`` only in what Books returns, and its update request takes ``task_name``, ``description``, ``rate``
and ``budget_hours`` (reference: tasks.yml). So nothing is written to Books; instead, when an invoice made in
Books bills time of such a task (its time entries are logs of the task: the timesheet links' parent), the
transactions module records a ``billed_twice`` sync error naming both invoices. It clears when that invoice stops
billing the task's time (edited, voided or deleted).
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from shared.db import claims, sync_errors
from shared.db.schema import entity_links

ENTITY = "billed_task"
CLAIM_ITEM = "task"  # billing_claims.item_type of a completed task an invoice claimed
TIMESHEET_ENTITY = "timesheet"


def tasks_of(conn: sa.Connection, integration_id: int, items: Iterable[tuple[str, str]]) -> set[str]:
    """The Projects tasks (or issues) whose logs are the given Books time entries."""
    entry_ids = sorted({i for t, i in items if t == "time_entry"})
    if not entry_ids:
        return set()
    rows = conn.execute(
        sa.select(entity_links.c.parent_projects_id).where(
            entity_links.c.integration_id == integration_id,
            entity_links.c.entity_type == TIMESHEET_ENTITY,
            entity_links.c.books_id.in_(entry_ids),
        )
    )
    return {r.parent_projects_id for r in rows if r.parent_projects_id}


def report(
    conn: sa.Connection,
    integration_id: int,
    *,
    module: str,
    invoice_id: str,
    number: str,
    items: set[tuple[str, str]],
    previous: set[tuple[str, str]],
) -> int:
    """Flag the claimed completed tasks whose time the Books invoice bills; clear those it no longer bills."""
    billed = tasks_of(conn, integration_id, items)
    for task_id in sorted(tasks_of(conn, integration_id, previous) - billed):
        sync_errors.resolve(conn, integration_id, ENTITY, task_id)
    flagged = 0
    for holder in claims.holders(conn, integration_id, [(CLAIM_ITEM, t) for t in billed]):
        if holder.books_invoice_id == invoice_id:
            continue
        flagged += 1
        sync_errors.record(
            conn,
            integration_id,
            module=module,
            entity_type=ENTITY,
            source_id=holder.item_id,
            source_name=f"task {holder.item_id} on invoice {number}",
            problem=sync_errors.Problem(
                "billed_twice",
                f"Zoho Books invoice {number!r} bills time of task {holder.item_id}, a completed task that "
                f"{holder.describe()} already invoiced: a completed task that is invoiced is not invoiced again.",
                f"remove that time from invoice {number!r} in Zoho Books (or void it), or void the earlier invoice "
                "if the task is to be billed this way; the next pull clears this error",
            ),
            module_run_id=None,
        )
    return flagged


def clear(conn: sa.Connection, integration_id: int, items: set[tuple[str, str]]) -> None:
    """The invoice was voided or deleted: its time no longer bills any task."""
    for task_id in sorted(tasks_of(conn, integration_id, items)):
        sync_errors.resolve(conn, integration_id, ENTITY, task_id)
