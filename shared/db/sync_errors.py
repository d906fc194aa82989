"""Sync errors: one row per failing record, updated in place; resolved when the record syncs.

Error Summary = open errors grouped by module and reason; Error Details = the rows. A child blocked by a
failed parent points at the parent's error (``blocked_by``) and is retried on every later run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from shared.clock import utcnow
from shared.db import module_states
from shared.db.engine import inserted_id
from shared.db.schema import sync_errors


@dataclass(frozen=True)
class Problem:
    """What went wrong with one record, in words an admin can act on."""

    reason_code: str
    message: str
    hint: str | None = None
    blocked_by: int | None = None


def record(
    conn: sa.Connection,
    integration_id: int,
    *,
    module: str,
    entity_type: str,
    source_id: str,
    source_name: str | None,
    problem: Problem,
    module_run_id: int | None,
) -> int:
    now = utcnow()
    key = (
        sync_errors.c.integration_id == integration_id,
        sync_errors.c.entity_type == entity_type,
        sync_errors.c.source_id == source_id,
    )
    existing = conn.execute(
        sa.select(sync_errors.c.id, sync_errors.c.resolved_at, sync_errors.c.module).where(*key)
    ).first()
    values: dict[str, Any] = {
        "module": module,
        "source_name": source_name,
        "reason_code": problem.reason_code,
        "message": problem.message,
        "hint": problem.hint,
        "blocked_by": problem.blocked_by,
        "module_run_id": module_run_id,
        "last_seen_at": now,
        "resolved_at": None,
    }
    if existing is None or existing.resolved_at is not None:
        module_states.open_errors_changed(conn, integration_id, module, +1)
    elif existing.module != module:  # the record's error moved to another module: it is counted there now
        module_states.open_errors_changed(conn, integration_id, existing.module, -1)
        module_states.open_errors_changed(conn, integration_id, module, +1)
    if existing is None:
        return inserted_id(
            conn.execute(
                sync_errors.insert().values(
                    integration_id=integration_id,
                    entity_type=entity_type,
                    source_id=source_id,
                    attempts=1,
                    first_seen_at=now,
                    **values,
                )
            )
        )
    if existing.resolved_at is not None:
        values["first_seen_at"] = now
        values["attempts"] = 1
    else:
        values["attempts"] = sync_errors.c.attempts + 1
    conn.execute(sync_errors.update().where(sync_errors.c.id == existing.id).values(**values))
    return int(existing.id)


def seen_in_run(conn: sa.Connection, integration_id: int, entity_type: str, source_id: str, module_run_id: int) -> bool:
    """Whether this module run already recorded an open error for the record (and counted it)."""
    return (
        conn.execute(
            sa.select(sync_errors.c.id).where(
                sync_errors.c.integration_id == integration_id,
                sync_errors.c.entity_type == entity_type,
                sync_errors.c.source_id == source_id,
                sync_errors.c.module_run_id == module_run_id,
                sync_errors.c.resolved_at.is_(None),
            )
        ).first()
        is not None
    )


def resolve(conn: sa.Connection, integration_id: int, entity_type: str, source_id: str) -> None:
    is_open = (
        sync_errors.c.integration_id == integration_id,
        sync_errors.c.entity_type == entity_type,
        sync_errors.c.source_id == source_id,
        sync_errors.c.resolved_at.is_(None),
    )
    found = conn.execute(sa.select(sync_errors.c.id, sync_errors.c.module).where(*is_open)).first()
    if found is None:
        return
    # counted only if this transaction resolved it (a concurrent resolve of the same record waits, then finds none)
    if conn.execute(sync_errors.update().where(*is_open).values(resolved_at=utcnow())).rowcount:
        module_states.open_errors_changed(conn, integration_id, found.module, -1)


def open_error_ids(conn: sa.Connection, integration_id: int, entity_type: str) -> dict[str, int]:
    """source id -> open error id, for blocking children of failed parents."""
    rows = conn.execute(
        sa.select(sync_errors.c.source_id, sync_errors.c.id).where(
            sync_errors.c.integration_id == integration_id,
            sync_errors.c.entity_type == entity_type,
            sync_errors.c.resolved_at.is_(None),
        )
    )
    return {r.source_id: r.id for r in rows}
