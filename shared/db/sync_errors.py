"""Sync errors: one row per failing record, updated in place; resolved when the record syncs.

Error Summary = open errors grouped by module and reason; Error Details = the rows. A child blocked by a
failed parent points at the parent's error (``blocked_by``) and is retried on every later run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
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
    values = _columns(module, source_name, problem, module_run_id, now)
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


def _columns(
    module: str, source_name: str | None, problem: Problem, module_run_id: int | None, now: Any
) -> dict[str, Any]:
    """What a failure writes on its record's error row (open again, seen now)."""
    return {
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


def resolve(conn: sa.Connection, integration_id: int, entity_type: str, source_id: str) -> None:
    resolve_many(conn, integration_id, entity_type, [source_id])


@dataclass(frozen=True)
class Failure:
    """One record's failure, for ``record_many``."""

    module: str
    source_id: str
    source_name: str | None
    problem: Problem


@dataclass
class _Row:
    """What a page's failures leave of one record's error row, worked out before it is written."""

    id: int | None  # None: inserted by this batch
    open: bool
    module: str
    module_run_id: int | None
    reopened: bool = False  # a resolved row opened again: its first_seen_at and attempts start over
    attempts: int = 0  # new, reopened: the row's attempts; else: added to its attempts
    values: dict[str, Any] | None = None  # None: untouched by the batch
    stored: tuple[Any, ...] | None = None  # the row's CONTENT as read (None: inserted by this batch)


# What a failure says of its record; a row seen again saying the same only counts the sighting (_write).
CONTENT = ("module", "source_name", "reason_code", "message", "hint", "blocked_by")


def record_many(
    conn: sa.Connection,
    integration_id: int,
    entity_type: str,
    failures: Sequence[Failure],
    *,
    module_run_id: int,
) -> list[bool]:
    """``record`` for a page's failures, in order, in a few statements (one read, one write per kind of row).

    Returns, for each failure, whether it is the first of its record in this module run (not open from
    this module run already): the same failure met again (a record listed twice, a page re-read) is counted once.
    """
    if not failures:
        return []
    now = utcnow()
    found = conn.execute(
        sa.select(
            sync_errors.c.id,
            sync_errors.c.source_id,
            sync_errors.c.resolved_at,
            sync_errors.c.module_run_id,
            *(sync_errors.c[name] for name in CONTENT),
        ).where(
            sync_errors.c.integration_id == integration_id,
            sync_errors.c.entity_type == entity_type,
            sync_errors.c.source_id.in_(sorted({f.source_id for f in failures})),
        )
    )
    rows = {
        r.source_id: _Row(r.id, r.resolved_at is None, r.module, r.module_run_id, stored=tuple(r[4:])) for r in found
    }
    firsts: list[bool] = []
    deltas: Counter[str] = Counter()
    for failure in failures:
        row = rows.get(failure.source_id)
        firsts.append(row is None or not row.open or row.module_run_id != module_run_id)
        if row is None or not row.open:
            deltas[failure.module] += 1
        elif row.module != failure.module:  # the record's error moved to another module: it is counted there now
            deltas[row.module] -= 1
            deltas[failure.module] += 1
        if row is None:
            row = rows[failure.source_id] = _Row(None, True, failure.module, module_run_id, attempts=1)
        elif not row.open:
            row.reopened, row.attempts = True, 1
        else:
            row.attempts += 1
        row.open, row.module, row.module_run_id = True, failure.module, module_run_id
        row.values = _columns(failure.module, failure.source_name, failure.problem, module_run_id, now)
    for module in sorted(deltas):  # one order in every transaction: counts of two modules never wait on each other
        if deltas[module]:
            module_states.open_errors_changed(conn, integration_id, module, deltas[module])
    _write(conn, integration_id, entity_type, rows, now)
    return firsts


def _write(conn: sa.Connection, integration_id: int, entity_type: str, rows: dict[str, _Row], now: Any) -> None:
    written = {source_id: row for source_id, row in rows.items() if row.values is not None}
    new = [
        {
            "integration_id": integration_id,
            "entity_type": entity_type,
            "source_id": source_id,
            "attempts": row.attempts,
            "first_seen_at": now,
            **(row.values or {}),
        }
        for source_id, row in written.items()
        if row.id is None
    ]
    if new:
        conn.execute(sync_errors.insert(), new)
    # An open error seen again saying the same (a child blocked by its failed parent, run after run: most of what an
    # unchanged incremental run writes) only counts the sighting: one statement for all of them, not one each.
    seen: dict[tuple[int, Any], list[int]] = {}
    for row in written.values():
        if row.id is not None and not row.reopened and row.values is not None and row.stored == _content(row.values):
            seen.setdefault((row.attempts, row.values["module_run_id"]), []).append(row.id)
    for (added, run_id), ids in sorted(seen.items()):
        conn.execute(
            sync_errors.update()
            .where(sync_errors.c.id.in_(sorted(ids)))
            .values(attempts=sync_errors.c.attempts + added, last_seen_at=now, module_run_id=run_id, resolved_at=None)
        )
    counted = {row_id for ids in seen.values() for row_id in ids}
    # executemany binds must not take a SET column's name
    for reopened in (True, False):
        params = [
            {"row_id": row.id, "added": row.attempts, **{f"new_{k}": v for k, v in (row.values or {}).items()}}
            for row in written.values()
            if row.id is not None and row.reopened is reopened and row.id not in counted
        ]
        if not params:
            continue
        values: dict[str, Any] = {k[4:]: sa.bindparam(k) for k in params[0] if k.startswith("new_")}
        if reopened:
            values |= {"first_seen_at": now, "attempts": sa.bindparam("added")}
        else:
            values["attempts"] = sync_errors.c.attempts + sa.bindparam("added")
        conn.execute(sync_errors.update().where(sync_errors.c.id == sa.bindparam("row_id")).values(values), params)


def _content(values: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(values[name] for name in CONTENT)


def resolve_many(conn: sa.Connection, integration_id: int, entity_type: str, source_ids: Collection[str]) -> None:
    """The open errors of these records resolved, in one statement."""
    if not source_ids:
        return
    # counted only if this transaction resolved it (a concurrent resolve of the same record waits, then finds none)
    resolved = conn.execute(
        sync_errors.update()
        .where(
            sync_errors.c.integration_id == integration_id,
            sync_errors.c.entity_type == entity_type,
            sync_errors.c.source_id.in_(sorted(set(source_ids))),
            sync_errors.c.resolved_at.is_(None),
        )
        .values(resolved_at=utcnow())
        .returning(sync_errors.c.module)
    )
    for module, count in sorted(Counter(r.module for r in resolved).items()):
        module_states.open_errors_changed(conn, integration_id, module, -count)


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
