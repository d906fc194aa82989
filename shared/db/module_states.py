"""Keeping ``module_states``, ``open_error_counts`` and ``sync_run_totals`` current (issue 19).

Status, /metrics and retention read these rows instead of aggregating the whole history, so their cost grows
with the number of integrations, not with the number of runs. Every function here runs in the caller's
transaction, the one that changes the module runs (or errors) it reports, so the rows are never behind.

Lock order: a writer of ``module_states``/``sync_run_totals`` first takes the integration's row lock (as run
creation does), so two transactions never wait on each other's state rows in opposite orders. Error counts
live in their own table and take no integration lock (a worker's page transaction writes them).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from shared.clock import as_utc
from shared.db.schema import (
    MODULE_RUN_TOTALS,
    integrations,
    module_runs,
    module_states,
    open_error_counts,
    sync_errors,
    sync_run_totals,
    sync_runs,
)

UNFINISHED = ("queued", "running")
WORKING = ("succeeded", "partial")
RUN_STATUSES = ("succeeded", "partial", "failed", "skipped", "blocked")
ENDED = RUN_STATUSES

CALLS = ("api_calls", "projects_calls", "books_calls", "throttled_calls")


def _lock(conn: sa.Connection, integration_id: int) -> None:
    conn.execute(sa.select(integrations.c.id).where(integrations.c.id == integration_id).with_for_update())


def _ensure(conn: sa.Connection, table: sa.Table, **key: Any) -> None:
    """Insert the row with defaults unless it exists (concurrent inserts of one key never fail)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(table).values(**key).on_conflict_do_nothing())


def _state_key(integration_id: int, module: str) -> tuple[sa.ColumnElement[bool], ...]:
    return (module_states.c.integration_id == integration_id, module_states.c.module == module)


def _current(conn: sa.Connection, integration_id: int, module: str) -> int | None:
    # the running sync's module run comes before a queued follow-up's (lower sync run id)
    return conn.execute(
        sa.select(module_runs.c.id)
        .join(sync_runs, sync_runs.c.id == module_runs.c.sync_run_id)
        .where(
            module_runs.c.integration_id == integration_id,
            module_runs.c.module == module,
            module_runs.c.status.in_(UNFINISHED),
            sync_runs.c.status.in_(UNFINISHED),
        )
        .order_by(module_runs.c.sync_run_id, module_runs.c.id)
        .limit(1)
    ).scalar()


def module_run_added(conn: sa.Connection, integration_id: int, module: str, module_run_id: int) -> None:
    """A queued module run was created: it is the module's current one unless an older one still runs."""
    _lock(conn, integration_id)
    _ensure(conn, module_states, integration_id=integration_id, module=module)
    conn.execute(
        module_states.update()
        .where(*_state_key(integration_id, module), module_states.c.current_module_run_id.is_(None))
        .values(current_module_run_id=module_run_id)
    )


def module_runs_ended(conn: sa.Connection, module_run_ids: Iterable[int]) -> None:
    """These module runs just ended (finished, failed, skipped): last run, last success, totals, current."""
    ids = sorted(set(module_run_ids))
    if not ids:
        return
    rows = conn.execute(sa.select(module_runs).where(module_runs.c.id.in_(ids)).order_by(module_runs.c.id)).all()
    for integration_id in sorted({r.integration_id for r in rows}):
        _lock(conn, integration_id)
    for row in rows:
        if row.status in ENDED:
            _ended(conn, row)


def _ended(conn: sa.Connection, row: sa.Row[Any]) -> None:
    _ensure(conn, module_states, integration_id=row.integration_id, module=row.module)
    key = _state_key(row.integration_id, row.module)
    state = conn.execute(sa.select(module_states).where(*key)).one()
    values: dict[str, Any] = {f"runs_{row.status}": module_states.c[f"runs_{row.status}"] + 1}
    values |= {c: module_states.c[c] + int(row._mapping[c] or 0) for c in MODULE_RUN_TOTALS if row._mapping[c]}
    if state.last_module_run_id is None or row.id > state.last_module_run_id:
        values |= {"last_module_run_id": row.id, "last_status": row.status, "last_finished_at": row.finished_at}
    finished = as_utc(row.finished_at)
    if row.status in WORKING and finished is not None:
        best = as_utc(state.last_success_at)
        if best is None or finished >= best:
            values |= {"last_success_module_run_id": row.id, "last_success_at": row.finished_at}
    if state.current_module_run_id is None or state.current_module_run_id == row.id:
        values["current_module_run_id"] = _current(conn, row.integration_id, row.module)
    conn.execute(module_states.update().where(*key).values(**values))


def calls_after_end(conn: sa.Connection, module_run_id: int, calls: dict[str, int]) -> None:
    """Zoho calls counted on a module run that already ended (a worker that lost its lease): into the totals."""
    row = conn.execute(
        sa.select(module_runs.c.integration_id, module_runs.c.module, module_runs.c.status).where(
            module_runs.c.id == module_run_id
        )
    ).first()
    deltas = {k: module_states.c[k] + v for k, v in calls.items() if v and k in CALLS}
    if row is None or row.status not in ENDED or not deltas:
        return
    _lock(conn, row.integration_id)
    conn.execute(module_states.update().where(*_state_key(row.integration_id, row.module)).values(**deltas))


def sync_run_ended(conn: sa.Connection, integration_id: int, status: str) -> None:
    _lock(conn, integration_id)
    _ensure(conn, sync_run_totals, integration_id=integration_id, status=status)
    conn.execute(
        sync_run_totals.update()
        .where(sync_run_totals.c.integration_id == integration_id, sync_run_totals.c.status == status)
        .values(runs=sync_run_totals.c.runs + 1)
    )


def open_errors_changed(conn: sa.Connection, integration_id: int, module: str, delta: int) -> None:
    """An error of this module opened (+1) or was resolved or moved to another module (-1)."""
    _ensure(conn, open_error_counts, integration_id=integration_id, module=module)
    conn.execute(
        open_error_counts.update()
        .where(open_error_counts.c.integration_id == integration_id, open_error_counts.c.module == module)
        .values(open_errors=open_error_counts.c.open_errors + delta)
    )


def rebuild(conn: sa.Connection, integration_id: int) -> None:
    """Recompute one integration's rows from its history (rows written around this module, e.g. by hand).

    Costs the integration's whole history; the upkeep above is what keeps the rows current otherwise.
    """
    _lock(conn, integration_id)
    for table in (module_states, open_error_counts, sync_run_totals):
        conn.execute(table.delete().where(table.c.integration_id == integration_id))
    rows = conn.execute(
        sa.select(module_runs).where(module_runs.c.integration_id == integration_id).order_by(module_runs.c.id)
    ).all()
    for row in rows:
        _ensure(conn, module_states, integration_id=integration_id, module=row.module)
        if row.status in ENDED:
            _ended(conn, row)
    for module in sorted({r.module for r in rows}):
        conn.execute(
            module_states.update()
            .where(*_state_key(integration_id, module))
            .values(current_module_run_id=_current(conn, integration_id, module))
        )
    opened = conn.execute(
        sa.select(sync_errors.c.module, sa.func.count())
        .where(sync_errors.c.integration_id == integration_id, sync_errors.c.resolved_at.is_(None))
        .group_by(sync_errors.c.module)
    ).all()
    for module, count in opened:
        open_errors_changed(conn, integration_id, module, int(count))
    ended_runs = conn.execute(
        sa.select(sync_runs.c.status, sa.func.count())
        .where(sync_runs.c.integration_id == integration_id, sync_runs.c.status.not_in(UNFINISHED))
        .group_by(sync_runs.c.status)
    ).all()
    for status, count in ended_runs:
        _ensure(conn, sync_run_totals, integration_id=integration_id, status=status)
        conn.execute(
            sync_run_totals.update()
            .where(sync_run_totals.c.integration_id == integration_id, sync_run_totals.c.status == status)
            .values(runs=int(count))
        )
