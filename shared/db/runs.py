"""Sync runs and module runs: the database is the source of truth for what runs, what ran and who holds what.

A run's modules execute parents first (shared/modules.py): a module is handed on when the last module it waits for
in the run ends, so siblings (users and clients; tasks and bugs) run at once on two workers. The chain is kept here
rather than in a static Celery ``chain()`` because a refresh may join a running sync (coalescing adds modules to it)
and because the sweeper must be able to resume a run whose worker died; each module task enqueues the modules its
end makes ready itself, in the transaction that ends it.
At most one run per integration is ``running``; a refresh that cannot join it waits as one ``queued`` run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from shared.clock import as_utc, utcnow
from shared.db import module_states
from shared.db.engine import inserted_id
from shared.db.schema import integrations, module_runs, sync_runs
from shared.modules import MODULE_ORDER, ancestors

FINISHED = ("succeeded", "partial", "failed", "skipped")
COUNTERS = ("fetched", "created", "updated", "unchanged", "skipped", "failed", "blocked", "api_calls")


@dataclass(frozen=True)
class RunRequest:
    run_id: int
    coalesced: bool  # joined (or waits behind) a sync that was already running
    start_module_run_ids: tuple[int, ...]  # enqueue these now (none: the running sync will get to it)
    sent: bool = True  # False: the broker could not take it; the run is stored and the next sweep sends it

    @property
    def start_module_run_id(self) -> int | None:
        """The first module run to enqueue (in MODULE_ORDER), if any."""
        return self.start_module_run_ids[0] if self.start_module_run_ids else None


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
    token: int = 0  # the fencing token of the claim that read it

    @classmethod
    def from_row(cls, row: sa.Row[Any]) -> ModuleRun:
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
            m["lease_token"],
        )


def _lock_integration(conn: sa.Connection, integration_id: int) -> None:
    # Serializes run creation per integration (PostgreSQL row lock; SQLite takes BEGIN IMMEDIATE anyway).
    conn.execute(sa.select(integrations.c.id).where(integrations.c.id == integration_id).with_for_update())


def _runs_in(conn: sa.Connection, integration_id: int, status: str) -> Sequence[sa.Row[Any]]:
    return conn.execute(
        sa.select(sync_runs)
        .where(sync_runs.c.integration_id == integration_id, sync_runs.c.status == status)
        .order_by(sync_runs.c.id)
    ).all()


def _module_rows(conn: sa.Connection, run_id: int) -> Sequence[sa.Row[Any]]:
    return conn.execute(
        sa.select(module_runs).where(module_runs.c.sync_run_id == run_id).order_by(module_runs.c.position)
    ).all()


def _add_modules(conn: sa.Connection, run: sa.Row[Any], modules: list[str], now: dt.datetime) -> None:
    existing = {r.module: r for r in _module_rows(conn, run.id)}
    wanted = [m for m in MODULE_ORDER if m in set(modules) | set(existing)]
    for position, module in enumerate(wanted):
        if module in existing:
            conn.execute(module_runs.update().where(module_runs.c.id == existing[module].id).values(position=position))
        else:
            new_id = inserted_id(
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
            )
            module_states.module_run_added(conn, run.integration_id, module, new_id)
    conn.execute(sync_runs.update().where(sync_runs.c.id == run.id).values(modules=wanted))


def request_run(
    conn: sa.Connection, integration_id: int, modules: list[str], trigger: str, now: dt.datetime | None = None
) -> RunRequest:
    """Start a run, or coalesce into the running one, or wait as the single queued follow-up run.

    Call inside a transaction (``engine.begin()``); enqueue ``start_module_run_ids`` after it commits.
    """
    now = now or utcnow()
    _lock_integration(conn, integration_id)
    running = _runs_in(conn, integration_id, "running")
    if running:
        run = running[0]
        not_started = {r.module for r in _module_rows(conn, run.id) if r.status == "queued"}
        if set(modules) <= not_started:
            return RunRequest(run.id, True, ())
        waiting = _runs_in(conn, integration_id, "queued")
        if waiting:
            _add_modules(conn, waiting[0], modules, now)
            return RunRequest(waiting[0].id, True, ())
        return RunRequest(_create_run(conn, integration_id, modules, trigger, "queued", now), True, ())
    run_id = _create_run(conn, integration_id, modules, trigger, "running", now)
    return RunRequest(run_id, False, tuple(int(row.id) for row in ready(_module_rows(conn, run_id))))


def _create_run(
    conn: sa.Connection, integration_id: int, modules: list[str], trigger: str, status: str, now: dt.datetime
) -> int:
    ordered = [m for m in MODULE_ORDER if m in modules]
    run_id = inserted_id(
        conn.execute(
            sync_runs.insert().values(
                integration_id=integration_id,
                trigger=trigger,
                modules=ordered,
                status=status,
                requested_at=now,
                # when it starts: ``now`` may have been read before the integration's lock was waited for, behind the
                # transaction that ended the previous run (its end would then come after this start)
                started_at=utcnow() if status == "running" else None,
            )
        )
    )
    run = conn.execute(sa.select(sync_runs).where(sync_runs.c.id == run_id)).one()
    _add_modules(conn, run, ordered, now)
    return run_id


class LeaseLost(Exception):
    """Another worker took the module after this one's lease lapsed: this slice stops without writing."""


def _fence(mr: ModuleRun) -> tuple[sa.ColumnElement[bool], ...]:
    return (module_runs.c.id == mr.id, module_runs.c.lease_token == mr.token)


def _fenced_update(conn: sa.Connection, mr: ModuleRun, **values: Any) -> None:
    if not conn.execute(module_runs.update().where(*_fence(mr)).values(**values)).rowcount:
        raise LeaseLost(f"module run {mr.id} was taken over by another worker (lease token {mr.token} is stale)")


def claim_module(engine: sa.Engine, module_run_id: int, lease_seconds: float) -> ModuleRun | None:
    """Take the module run for one slice; None if another worker holds it, it waits, or it is finished.

    The claim increments the fencing token; the returned ModuleRun carries it for every later write.
    """
    now = utcnow()
    with engine.begin() as conn:
        claimed = conn.execute(
            module_runs.update()
            .where(
                module_runs.c.id == module_run_id,
                module_runs.c.status.in_(("queued", "running")),
                sa.or_(module_runs.c.lease_until.is_(None), module_runs.c.lease_until < now),
                # a backoff or quota wait is over only when the tick says so (a stray message must not end it early)
                sa.or_(module_runs.c.waiting_until.is_(None), module_runs.c.waiting_until <= now),
            )
            .values(
                status="running",
                lease_until=now + dt.timedelta(seconds=lease_seconds),
                lease_token=module_runs.c.lease_token + 1,
                heartbeat_at=now,
                started_at=sa.func.coalesce(module_runs.c.started_at, now),
                waiting_until=None,
                wait_reason=None,
            )
        ).rowcount
        if not claimed:
            return None
        row = conn.execute(sa.select(module_runs).where(module_runs.c.id == module_run_id)).one()
    return ModuleRun.from_row(row)


def ready(rows: Sequence[sa.Row[Any]]) -> list[sa.Row[Any]]:
    """The unfinished module runs of one run (``rows``) that wait for no unfinished module of it: what may run now."""
    unfinished = {row.module for row in rows if row.status not in FINISHED}
    return [row for row in rows if row.status not in FINISHED and not ancestors(row.module) & unfinished]


def parents_unfinished(engine: sa.Engine, module_run: ModuleRun) -> bool:
    """A module it waits for in its run has not finished (a stray message came early)."""
    with engine.connect() as conn:
        return bool(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(module_runs)
                .where(
                    module_runs.c.sync_run_id == module_run.sync_run_id,
                    module_runs.c.module.in_(sorted(ancestors(module_run.module))),
                    module_runs.c.status.not_in(FINISHED),
                )
            ).scalar()
        )


def extend_lease(conn: sa.Connection, mr: ModuleRun, lease_seconds: float) -> None:
    now = utcnow()
    _fenced_update(conn, mr, lease_until=now + dt.timedelta(seconds=lease_seconds), heartbeat_at=now)


def add_counts(conn: sa.Connection, mr: ModuleRun, counts: dict[str, int], *, progress: bool = False) -> None:
    """Add record outcomes, fenced; ``progress`` also resets the attempts (they count tries without progress)."""
    values: dict[str, Any] = {k: module_runs.c[k] + v for k, v in counts.items() if v}
    if progress:
        values["attempts"] = 0
    if values:
        _fenced_update(conn, mr, **values)


def checkpoint(
    conn: sa.Connection, mr: ModuleRun, cursor: dict[str, Any] | None, counts: dict[str, int], lease_seconds: float
) -> None:
    """A page is done: its counts, the cursor after it and a longer lease, in the caller's transaction."""
    now = utcnow()
    values: dict[str, Any] = {k: module_runs.c[k] + v for k, v in counts.items() if v}
    lease_until = now + dt.timedelta(seconds=lease_seconds)
    _fenced_update(conn, mr, checkpoint=cursor, attempts=0, lease_until=lease_until, heartbeat_at=now, **values)


def add_calls(engine: sa.Engine, module_run_id: int, calls: dict[str, int]) -> None:
    """Zoho calls a slice made: counted even by a worker that lost its lease (the calls were made)."""
    deltas = {k: module_runs.c[k] + v for k, v in calls.items() if v}
    if deltas:
        with engine.begin() as conn:
            conn.execute(module_runs.update().where(module_runs.c.id == module_run_id).values(**deltas))
            module_states.calls_after_end(conn, module_run_id, calls)


def release(engine: sa.Engine, mr: ModuleRun, *, status: str = "running", error: str | None = None) -> None:
    """End a slice that is not the module's end and give the lease back (the cursor was committed per page)."""
    values: dict[str, Any] = {"lease_until": None, "heartbeat_at": utcnow(), "status": status}
    if error is not None:
        values["error"] = error
    with engine.begin() as conn:
        _fenced_update(conn, mr, **values)


# Wait reasons: "quota" (Zoho's limit; the tick's sweep enqueues the module when it is over), "retry" (a backoff
# after a transient failure), THROTTLED (a short 429 wait: the slice already sent itself for ``until`` with a Celery
# countdown, so the sweep only sends it again when that message went missing).
THROTTLED = "throttled"


def pause(
    engine: sa.Engine,
    mr: ModuleRun,
    until: dt.datetime,
    reason: str,
    error: str | None = None,
    *,
    integration_reason: str | None = None,
) -> None:
    """Give the lease back until ``until``; the beat's tick enqueues the module then (no long Celery ETAs).

    With ``integration_reason`` (Zoho's quota is spent for the whole organization) the integration is paused until
    then too, in the same transaction: whoever sees the integration paused sees the module's wait as well.
    """
    values: dict[str, Any] = {
        "lease_until": None,
        "heartbeat_at": utcnow(),
        "waiting_until": until,
        "wait_reason": reason,
    }
    if error is not None:
        values["error"] = error
    with engine.begin() as conn:
        _fenced_update(conn, mr, **values)
        if integration_reason is not None:
            conn.execute(
                integrations.update()
                .where(integrations.c.id == mr.integration_id)
                .values(paused_until=until, paused_reason=integration_reason, updated_at=utcnow())
            )


def note_attempt(engine: sa.Engine, mr: ModuleRun) -> int:
    """A slice failed without finishing its page: one more attempt without progress; returns how many so far."""
    with engine.begin() as conn:
        _fenced_update(conn, mr, attempts=module_runs.c.attempts + 1)
        return int(conn.execute(sa.select(module_runs.c.attempts).where(module_runs.c.id == mr.id)).scalar_one())


def finish(engine: sa.Engine, mr: ModuleRun, status: str, error: str | None = None) -> list[int]:
    """Finish the module and hand on in ONE transaction: the module runs to enqueue after it commits.

    Two transactions would leave a run ``running`` forever when a worker dies between them.
    """
    with engine.begin() as conn:
        _finish_row(conn, mr, status, error)
        return _advance(conn, mr.sync_run_id, mr.module)


def fail_run(engine: sa.Engine, mr: ModuleRun, error: str, *, status: str = "failed") -> list[int]:
    """A fatal error (e.g. revoked credentials, a disabled integration): the module ends with ``status``, the
    rest of the run is skipped with the reason (a sibling running beside it stops at its next write), and the run
    closes (starting a waiting follow-up run)."""
    with engine.begin() as conn:
        _finish_row(conn, mr, status, error)
        _skip_remaining(conn, mr.sync_run_id, error)
        return _advance(conn, mr.sync_run_id, mr.module)


def _finish_row(conn: sa.Connection, mr: ModuleRun, status: str, error: str | None) -> None:
    values: dict[str, Any] = {
        "status": status,
        "lease_until": None,
        "heartbeat_at": utcnow(),
        "finished_at": utcnow(),
        "checkpoint": None,
        "waiting_until": None,
        "wait_reason": None,
    }
    if error is not None:
        values["error"] = error
    _fenced_update(conn, mr, **values)
    module_states.module_runs_ended(conn, [mr.id])


def module_status_from_counts(row: sa.Row[Any]) -> str:
    if row.failed or row.blocked:
        return "partial"
    return "succeeded"


def advance(engine: sa.Engine, run_id: int, ended: str) -> list[int]:
    """The module runs to enqueue now that module ``ended`` of the run has; after the run's last module, none (the
    run is finished) or the first modules of a run that waited for it."""
    with engine.begin() as conn:
        return _advance(conn, run_id, ended)


def _advance(conn: sa.Connection, run_id: int, ended: str | None) -> list[int]:
    """``ended``: the module that just ended (None: none did; the run is only closed if all its modules have).

    Only modules that wait for ``ended`` are handed on: the others were handed on before (at the run's start, or
    when their own last parent ended). Siblings ending at once both come here; the integration's row lock (the one
    module_states takes when a module ends) makes the second see the first's end, so the module waiting for both is
    handed on once, by the second.
    """
    _lock_integration(
        conn, conn.execute(sa.select(sync_runs.c.integration_id).where(sync_runs.c.id == run_id)).scalar_one()
    )
    rows = _module_rows(conn, run_id)
    if any(row.status not in FINISHED for row in rows):
        if ended is None:
            return []
        return [_handed_on(conn, int(row.id)) for row in ready(rows) if ended in ancestors(row.module)]
    statuses = {r.status for r in rows}
    status = "failed" if statuses & {"failed"} else "partial" if statuses & {"partial", "skipped"} else "succeeded"
    run = conn.execute(sa.select(sync_runs).where(sync_runs.c.id == run_id)).one()
    if run.status == "running":
        conn.execute(sync_runs.update().where(sync_runs.c.id == run_id).values(status=status, finished_at=utcnow()))
        module_states.sync_run_ended(conn, run.integration_id, status)
    return _start_waiting(conn, run.integration_id)


def _start_waiting(conn: sa.Connection, integration_id: int) -> list[int]:
    _lock_integration(conn, integration_id)
    if _runs_in(conn, integration_id, "running"):
        return []
    waiting = _runs_in(conn, integration_id, "queued")
    if not waiting:
        return []
    conn.execute(
        sync_runs.update().where(sync_runs.c.id == waiting[0].id).values(status="running", started_at=utcnow())
    )
    return [_handed_on(conn, int(row.id)) for row in ready(_module_rows(conn, waiting[0].id))]


def _handed_on(conn: sa.Connection, module_run_id: int) -> int:
    # The module is about to be enqueued: that counts as a sign of life, or a sweep between now and a worker's
    # claim would take a module queued since the run began (hours ago) for a lost message and enqueue it twice.
    conn.execute(module_runs.update().where(module_runs.c.id == module_run_id).values(heartbeat_at=utcnow()))
    return module_run_id


def _skip_remaining(conn: sa.Connection, run_id: int, error: str) -> None:
    # A new fencing token: a sibling still running stops at its next write instead of writing over "skipped". A
    # sibling whose row is locked is ending or failing in a transaction of its own, which waits for the integration's
    # lock this one holds: it is left to end by itself (waiting for its row would deadlock the two).
    unlocked = (
        sa.select(module_runs.c.id)
        .where(module_runs.c.sync_run_id == run_id, module_runs.c.status.not_in(FINISHED))
        .with_for_update(skip_locked=True)
    )
    remaining = list(
        conn.execute(
            module_runs.update()
            .where(module_runs.c.id.in_(unlocked.scalar_subquery()), module_runs.c.status.not_in(FINISHED))
            .values(
                status="skipped",
                error=error,
                lease_until=None,
                lease_token=module_runs.c.lease_token + 1,
                finished_at=utcnow(),
                waiting_until=None,
            )
            .returning(module_runs.c.id)
        ).scalars()
    )
    module_states.module_runs_ended(conn, remaining)
    conn.execute(sync_runs.update().where(sync_runs.c.id == run_id).values(error=error))


def unsent(engine: sa.Engine, module_run_id: int) -> None:
    """The module's message could not be sent (broker down): the next sweep sends it again, not 5 minutes later."""
    with engine.begin() as conn:
        conn.execute(
            module_runs.update()
            .where(module_runs.c.id == module_run_id, module_runs.c.lease_until.is_(None))
            .values(heartbeat_at=None)
        )


def get_module_run(engine: sa.Engine, module_run_id: int) -> ModuleRun:
    with engine.connect() as conn:
        return ModuleRun.from_row(conn.execute(sa.select(module_runs).where(module_runs.c.id == module_run_id)).one())


def module_counts(engine: sa.Engine, module_run_id: int) -> sa.Row[Any]:
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
