"""Sync runs and module runs: the database is the source of truth for what runs, what ran and who holds what.

A run's modules execute one after another in MODULE_ORDER. The chain is kept here rather than in a static
Celery ``chain()`` because a refresh may join a running sync (coalescing adds modules to it) and because the
sweeper must be able to resume a run whose worker died; each module task enqueues the next module itself.
At most one run per integration is ``running``; a refresh that cannot join it waits as one ``queued`` run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from shared.clock import as_utc, utcnow
from shared.db.schema import integrations, module_runs, sync_runs
from shared.modules import MODULE_ORDER

FINISHED = ("succeeded", "partial", "failed", "skipped")
COUNTERS = ("fetched", "created", "updated", "unchanged", "skipped", "failed", "blocked", "api_calls")


@dataclass(frozen=True)
class RunRequest:
    run_id: int
    coalesced: bool  # joined (or waits behind) a sync that was already running
    start_module_run_id: int | None  # enqueue this now (None: the running sync will get to it)


@dataclass(frozen=True)
class ModuleRun:
    id: int
    sync_run_id: int
    integration_id: int
    module: str
    position: int
    status: str
    checkpoint: dict[str, Any] | None
    attempts: int

    @classmethod
    def from_row(cls, row: sa.Row) -> ModuleRun:
        m = row._mapping
        return cls(
            m["id"],
            m["sync_run_id"],
            m["integration_id"],
            m["module"],
            m["position"],
            m["status"],
            m["checkpoint"],
            m["attempts"],
        )


def _lock_integration(conn: sa.Connection, integration_id: int) -> None:
    # Serializes run creation per integration (PostgreSQL row lock; SQLite takes BEGIN IMMEDIATE anyway).
    conn.execute(sa.select(integrations.c.id).where(integrations.c.id == integration_id).with_for_update())


def _runs_in(conn: sa.Connection, integration_id: int, status: str) -> list[sa.Row]:
    return conn.execute(
        sa.select(sync_runs)
        .where(sync_runs.c.integration_id == integration_id, sync_runs.c.status == status)
        .order_by(sync_runs.c.id)
    ).all()


def _module_rows(conn: sa.Connection, run_id: int) -> list[sa.Row]:
    return conn.execute(
        sa.select(module_runs).where(module_runs.c.sync_run_id == run_id).order_by(module_runs.c.position)
    ).all()


def _add_modules(conn: sa.Connection, run: sa.Row, modules: list[str], now: dt.datetime) -> None:
    existing = {r.module: r for r in _module_rows(conn, run.id)}
    wanted = [m for m in MODULE_ORDER if m in set(modules) | set(existing)]
    for position, module in enumerate(wanted):
        if module in existing:
            conn.execute(module_runs.update().where(module_runs.c.id == existing[module].id).values(position=position))
        else:
            conn.execute(
                module_runs.insert().values(
                    sync_run_id=run.id,
                    integration_id=run.integration_id,
                    module=module,
                    position=position,
                    status="queued",
                    heartbeat_at=now,
                )
            )
    conn.execute(sync_runs.update().where(sync_runs.c.id == run.id).values(modules=wanted))


def request_run(
    conn: sa.Connection, integration_id: int, modules: list[str], trigger: str, now: dt.datetime | None = None
) -> RunRequest:
    """Start a run, or coalesce into the running one, or wait as the single queued follow-up run.

    Call inside a transaction (``engine.begin()``); enqueue ``start_module_run_id`` after it commits.
    """
    now = now or utcnow()
    _lock_integration(conn, integration_id)
    running = _runs_in(conn, integration_id, "running")
    if running:
        run = running[0]
        not_started = {r.module for r in _module_rows(conn, run.id) if r.status == "queued"}
        if set(modules) <= not_started:
            return RunRequest(run.id, True, None)
        waiting = _runs_in(conn, integration_id, "queued")
        if waiting:
            _add_modules(conn, waiting[0], modules, now)
            return RunRequest(waiting[0].id, True, None)
        return RunRequest(_create_run(conn, integration_id, modules, trigger, "queued", now), True, None)
    run_id = _create_run(conn, integration_id, modules, trigger, "running", now)
    first = _module_rows(conn, run_id)[0]
    return RunRequest(run_id, False, first.id)


def _create_run(
    conn: sa.Connection, integration_id: int, modules: list[str], trigger: str, status: str, now: dt.datetime
) -> int:
    ordered = [m for m in MODULE_ORDER if m in modules]
    run_id = conn.execute(
        sync_runs.insert().values(
            integration_id=integration_id,
            trigger=trigger,
            modules=ordered,
            status=status,
            requested_at=now,
            started_at=now if status == "running" else None,
        )
    ).inserted_primary_key[0]
    run = conn.execute(sa.select(sync_runs).where(sync_runs.c.id == run_id)).one()
    _add_modules(conn, run, ordered, now)
    return run_id


def claim_module(engine: sa.Engine, module_run_id: int, lease_seconds: float) -> ModuleRun | None:
    """Take the module run for one slice; None if another worker holds it or it is finished."""
    now = utcnow()
    with engine.begin() as conn:
        claimed = conn.execute(
            module_runs.update()
            .where(
                module_runs.c.id == module_run_id,
                module_runs.c.status.in_(("queued", "running")),
                sa.or_(module_runs.c.lease_until.is_(None), module_runs.c.lease_until < now),
            )
            .values(
                status="running",
                lease_until=now + dt.timedelta(seconds=lease_seconds),
                heartbeat_at=now,
                started_at=sa.func.coalesce(module_runs.c.started_at, now),
                waiting_until=None,
            )
        ).rowcount
        if not claimed:
            return None
        row = conn.execute(sa.select(module_runs).where(module_runs.c.id == module_run_id)).one()
    return ModuleRun.from_row(row)


def earlier_unfinished(engine: sa.Engine, module_run: ModuleRun) -> bool:
    with engine.connect() as conn:
        return bool(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(module_runs)
                .where(
                    module_runs.c.sync_run_id == module_run.sync_run_id,
                    module_runs.c.position < module_run.position,
                    module_runs.c.status.not_in(FINISHED),
                )
            ).scalar()
        )


def extend_lease(conn: sa.Connection, module_run_id: int, lease_seconds: float) -> None:
    now = utcnow()
    conn.execute(
        module_runs.update()
        .where(module_runs.c.id == module_run_id)
        .values(lease_until=now + dt.timedelta(seconds=lease_seconds), heartbeat_at=now)
    )


def add_counts(conn: sa.Connection, module_run_id: int, counts: dict[str, int]) -> None:
    deltas = {k: module_runs.c[k] + v for k, v in counts.items() if v}
    if deltas:
        conn.execute(module_runs.update().where(module_runs.c.id == module_run_id).values(**deltas))


def release(
    engine: sa.Engine,
    module_run_id: int,
    *,
    status: str = "running",
    error: str | None = None,
    waiting_until: dt.datetime | None = None,
) -> None:
    """End a slice and give the lease back (the cursor was committed page by page; finished stamps the end)."""
    now = utcnow()
    values: dict[str, Any] = {
        "lease_until": None,
        "heartbeat_at": now,
        "status": status,
        "waiting_until": waiting_until,
    }
    if error is not None:
        values["error"] = error
    if status in FINISHED:
        values["finished_at"] = now
        values["checkpoint"] = None
    with engine.begin() as conn:
        conn.execute(module_runs.update().where(module_runs.c.id == module_run_id).values(**values))


def module_status_from_counts(row: sa.Row) -> str:
    if row.failed or row.blocked:
        return "partial"
    return "succeeded"


def advance(engine: sa.Engine, run_id: int) -> int | None:
    """The next module run to enqueue, or None after finishing the run (and starting a waiting one)."""
    with engine.begin() as conn:
        rows = _module_rows(conn, run_id)
        for row in rows:
            if row.status not in FINISHED:
                return _handed_on(conn, int(row.id))
        statuses = {r.status for r in rows}
        status = "failed" if statuses & {"failed"} else "partial" if statuses & {"partial", "skipped"} else "succeeded"
        run = conn.execute(sa.select(sync_runs).where(sync_runs.c.id == run_id)).one()
        if run.status == "running":
            conn.execute(sync_runs.update().where(sync_runs.c.id == run_id).values(status=status, finished_at=utcnow()))
        return _start_waiting(conn, run.integration_id)


def _start_waiting(conn: sa.Connection, integration_id: int) -> int | None:
    _lock_integration(conn, integration_id)
    if _runs_in(conn, integration_id, "running"):
        return None
    waiting = _runs_in(conn, integration_id, "queued")
    if not waiting:
        return None
    conn.execute(
        sync_runs.update().where(sync_runs.c.id == waiting[0].id).values(status="running", started_at=utcnow())
    )
    return _handed_on(conn, int(_module_rows(conn, waiting[0].id)[0].id))


def _handed_on(conn: sa.Connection, module_run_id: int) -> int:
    # The module is about to be enqueued: that counts as a sign of life, or a sweep between now and a worker's
    # claim would take a module queued since the run began (hours ago) for a lost message and enqueue it twice.
    conn.execute(module_runs.update().where(module_runs.c.id == module_run_id).values(heartbeat_at=utcnow()))
    return module_run_id


def fail_remaining(engine: sa.Engine, run_id: int, error: str) -> None:
    """A fatal error (e.g. bad credentials): the run's unfinished modules are skipped with the reason."""
    with engine.begin() as conn:
        conn.execute(
            module_runs.update()
            .where(module_runs.c.sync_run_id == run_id, module_runs.c.status.not_in(FINISHED))
            .values(status="skipped", error=error, lease_until=None, finished_at=utcnow())
        )
        conn.execute(sync_runs.update().where(sync_runs.c.id == run_id).values(error=error))


def stale_module_runs(engine: sa.Engine, stale_after_seconds: float) -> list[int]:
    """Current modules of running runs that nobody holds and that showed no sign of life for a while.

    A killed worker leaves its lease to expire and a lost message leaves a queued module idle; either way
    the sweeper re-enqueues it (claim_module makes a duplicate delivery harmless).
    """
    now = utcnow()
    cutoff = now - dt.timedelta(seconds=stale_after_seconds)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(module_runs)
            .join(sync_runs, sync_runs.c.id == module_runs.c.sync_run_id)
            .where(
                sync_runs.c.status == "running",
                module_runs.c.status.in_(("queued", "running")),
                sa.or_(module_runs.c.lease_until.is_(None), module_runs.c.lease_until < now),
                module_runs.c.heartbeat_at < cutoff,
                sa.or_(module_runs.c.waiting_until.is_(None), module_runs.c.waiting_until < now),
            )
            .order_by(module_runs.c.sync_run_id, module_runs.c.position)
        ).all()
    current: dict[int, int] = {}
    for row in rows:
        current.setdefault(row.sync_run_id, row.id)
    return [mr for mr in current.values() if not earlier_unfinished(engine, get_module_run(engine, mr))]


def touch(engine: sa.Engine, module_run_id: int, *, attempt: bool = False) -> int:
    """Mark a re-enqueue (so the next sweep waits again); returns the attempts so far."""
    with engine.begin() as conn:
        values: dict[str, Any] = {"heartbeat_at": utcnow()}
        if attempt:
            values["attempts"] = module_runs.c.attempts + 1
        conn.execute(module_runs.update().where(module_runs.c.id == module_run_id).values(**values))
        return int(conn.execute(sa.select(module_runs.c.attempts).where(module_runs.c.id == module_run_id)).scalar())


def get_module_run(engine: sa.Engine, module_run_id: int) -> ModuleRun:
    with engine.connect() as conn:
        return ModuleRun.from_row(conn.execute(sa.select(module_runs).where(module_runs.c.id == module_run_id)).one())


def module_counts(engine: sa.Engine, module_run_id: int) -> sa.Row:
    with engine.connect() as conn:
        return conn.execute(sa.select(module_runs).where(module_runs.c.id == module_run_id)).one()


def last_success_started(engine: sa.Engine, integration_id: int, module: str) -> dt.datetime | None:
    """When the last fully successful run of ``module`` started (the incremental sync's "modified since")."""
    with engine.connect() as conn:
        value = conn.execute(
            sa.select(sa.func.max(module_runs.c.started_at)).where(
                module_runs.c.integration_id == integration_id,
                module_runs.c.module == module,
                module_runs.c.status.in_(("succeeded", "partial")),
            )
        ).scalar()
    return as_utc(value)
