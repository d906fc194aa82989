"""The sweeper's pass over running runs (called by shared/dispatch.sweep from the beat's tick) and the embedded
mode's adoption of modules nobody holds: what brings work back after a worker died, a wait ended or a message
was lost. Kept apart from runs.py, which creates, claims and finishes module runs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa

from shared.clock import as_utc, utcnow
from shared.db import module_states
from shared.db.runs import FINISHED, THROTTLED, _advance, _start_waiting, earlier_unfinished, get_module_run
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

    For the current module of each running run:
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
    unfinished = conn.execute(
        sa.select(module_runs.c.id, module_runs.c.sync_run_id)
        .where(module_runs.c.sync_run_id.in_(running_ids), module_runs.c.status.not_in(FINISHED))
        .order_by(module_runs.c.sync_run_id, module_runs.c.position)
    ).all()
    current: dict[int, int] = {}
    for row in unfinished:
        current.setdefault(row.sync_run_id, row.id)
    for run_id in running_ids:
        if run_id not in current:
            out.closed.append(run_id)
            following = _advance(conn, run_id)
            if following is not None:
                out.following.append(following)
    locked = conn.execute(
        sa.select(module_runs).where(module_runs.c.id.in_(sorted(current.values()))).with_for_update(skip_locked=True)
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
                following = _advance(conn, row.sync_run_id)
                if following is not None:
                    out.following.append(following)
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
    started = [_start_waiting(conn, integration_id) for integration_id in list(orphaned)]
    return [m for m in started if m is not None]


def adoptable_module_runs(engine: sa.Engine) -> list[int]:
    """Current modules of running runs that no live worker holds and that do not wait (embedded adoption)."""
    now = utcnow()
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(module_runs)
            .join(sync_runs, sync_runs.c.id == module_runs.c.sync_run_id)
            .where(
                sync_runs.c.status == "running",
                module_runs.c.status.in_(("queued", "running")),
                sa.or_(module_runs.c.lease_until.is_(None), module_runs.c.lease_until < now),
                sa.or_(module_runs.c.waiting_until.is_(None), module_runs.c.waiting_until < now),
            )
            .order_by(module_runs.c.sync_run_id, module_runs.c.position)
        ).all()
    current: dict[int, int] = {}
    for row in rows:
        current.setdefault(row.sync_run_id, row.id)
    return [mr for mr in current.values() if not earlier_unfinished(engine, get_module_run(engine, mr))]
