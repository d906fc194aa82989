"""The sweeper's pass over running runs (called by shared/dispatch.sweep from the beat's tick) and the embedded
mode's adoption of modules nobody holds: what brings work back after a worker died, a wait ended or a message
was lost. Kept apart from runs.py, which creates, claims and finishes module runs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from shared.clock import as_utc, utcnow
from shared.db import module_states
from shared.db.runs import FINISHED, THROTTLED, _advance, _start_waiting, ready
from shared.db.schema import module_runs, sync_runs


@dataclass
class Sweep:
    resume: list[int] = field(default_factory=list)  # enqueue: a lapsed lease or a lost message
    due: list[int] = field(default_factory=list)  # enqueue: a backoff or quota wait is over
    failed: list[int] = field(default_factory=list)  # gave up: the lease lapsed too often without progress
    closed: list[int] = field(default_factory=list)  # runs whose modules had all finished
    following: list[int] = field(default_factory=list)  # enqueue: next modules of failed/closed runs

    def to_enqueue(self) -> list[int]:
        return [*self.resume, *self.due, *self.following]


def sweep(conn: sa.Connection, stale_after_seconds: float, max_attempts: int, now: dt.datetime | None = None) -> Sweep:
    """One pass of the sweeper over running runs, in the caller's transaction (enqueue after it commits).

    For the current modules of each running run (those that wait for no unfinished module: siblings run at once):
    - a lease that lapsed means its worker died (or stalled: fencing stops it): resume at once, one attempt
      more; after ``max_attempts`` lapses without progress the module fails and the run moves on;
    - a wait (``waiting_until``) that is over: enqueue it (this replaces long Celery ETAs); a short throttled wait
      already has its message, sent with a countdown: only a lost one is sent again;
    - no lease, no wait and no sign of life for ``stale_after_seconds``: its message was lost (or is stuck behind a
      long queue): send it again; claim_module makes a duplicate harmless, so this costs no attempt.
    Runs whose modules all finished are closed (and their waiting follow-up started); a queued run with no
    running run beside it is started. Rows are taken with SKIP LOCKED, so a second sweep never touches them.
    """
    now = now or utcnow()
    out = Sweep()
    running_ids = list(conn.execute(sa.select(sync_runs.c.id).where(sync_runs.c.status == "running")).scalars())
    current = _current(conn, running_ids)
    for run_id in running_ids:
        if run_id not in current:
            out.closed.append(run_id)
            out.following.extend(_advance(conn, run_id, None))
    current_ids = sorted(module_run_id for ids in current.values() for module_run_id in ids)
    # A module a live worker holds is not even locked: that worker's slice may be committing (the integration's lock,
    # then its own row) while this sweep, had it locked that row, would wait for the integration's lock to fail or
    # advance a sibling: each would wait for the other
    locked = conn.execute(
        sa.select(module_runs)
        .where(
            module_runs.c.id.in_(current_ids),
            sa.or_(module_runs.c.lease_until.is_(None), module_runs.c.lease_until <= now),
        )
        .with_for_update(skip_locked=True)
    ).all()
    lost_before = now - dt.timedelta(seconds=stale_after_seconds)
    for row in locked:
        if row.status in FINISHED:
            continue
        lease_until, waiting_until = as_utc(row.lease_until), as_utc(row.waiting_until)
        heartbeat = as_utc(row.heartbeat_at)
        touch = module_runs.update().where(module_runs.c.id == row.id)
        if lease_until is not None:
            if lease_until > now:
                continue  # a live worker holds it
            attempts = row.attempts + 1
            if attempts > max_attempts:
                error = f"gave up: its worker stopped {attempts - 1} times without progress (workers dying?)"
                conn.execute(
                    touch.values(
                        status="failed",
                        attempts=attempts,
                        lease_until=None,
                        finished_at=now,
                        checkpoint=None,
                        error=error,
                    )
                )
                module_states.module_runs_ended(conn, [row.id])
                out.failed.append(row.id)
                out.following.extend(_advance(conn, row.sync_run_id, row.module))
                continue
            conn.execute(touch.values(attempts=attempts, lease_until=None, heartbeat_at=now))
            out.resume.append(row.id)
        elif waiting_until is not None:
            # a throttled slice sent itself for waiting_until: that message ends the wait, and a second one from
            # here would give the tenant two slices in the queue; send one only if it went missing (unsent: no
            # heartbeat; or not taken stale_after_seconds after it was due)
            if row.wait_reason == THROTTLED and heartbeat is not None:
                waiting_until += dt.timedelta(seconds=stale_after_seconds)
            if waiting_until <= now:
                conn.execute(touch.values(waiting_until=None, wait_reason=None, heartbeat_at=now))
                out.due.append(row.id)
        elif heartbeat is None or heartbeat < lost_before:
            conn.execute(touch.values(heartbeat_at=now))
            out.resume.append(row.id)
    out.following.extend(_start_orphaned_runs(conn))
    return out


def _start_orphaned_runs(conn: sa.Connection) -> list[int]:
    """Queued runs of integrations with no running run (their predecessor closed without starting them)."""
    running = sa.select(sync_runs.c.integration_id).where(sync_runs.c.status == "running")
    orphaned = conn.execute(
        sa.select(sync_runs.c.integration_id)
        .where(sync_runs.c.status == "queued", sync_runs.c.integration_id.not_in(running))
        .distinct()
    ).scalars()
    return [module_run_id for integration in list(orphaned) for module_run_id in _start_waiting(conn, integration)]


def _current(conn: sa.Connection, run_ids: list[int]) -> dict[int, list[int]]:
    """Each run's current module runs (``runs.ready``); a run with none has ended all its modules."""
    rows = conn.execute(
        sa.select(module_runs)
        .where(module_runs.c.sync_run_id.in_(run_ids))
        .order_by(module_runs.c.sync_run_id, module_runs.c.position)
    ).all()
    by_run: dict[int, list[sa.Row[Any]]] = {}
    for row in rows:
        by_run.setdefault(row.sync_run_id, []).append(row)
    current = {run_id: [int(row.id) for row in ready(run_rows)] for run_id, run_rows in by_run.items()}
    return {run_id: ids for run_id, ids in current.items() if ids}


def adoptable_module_runs(engine: sa.Engine) -> list[int]:
    """Current modules of running runs that no live worker holds and that do not wait (embedded adoption)."""
    now = utcnow()
    with engine.connect() as conn:
        running_ids = list(conn.execute(sa.select(sync_runs.c.id).where(sync_runs.c.status == "running")).scalars())
        current = sorted(module_run_id for ids in _current(conn, running_ids).values() for module_run_id in ids)
        return list(
            conn.execute(
                sa.select(module_runs.c.id)
                .where(
                    module_runs.c.id.in_(current),
                    sa.or_(module_runs.c.lease_until.is_(None), module_runs.c.lease_until < now),
                    sa.or_(module_runs.c.waiting_until.is_(None), module_runs.c.waiting_until < now),
                )
                .order_by(module_runs.c.id)
            ).scalars()
        )
