"""History retention: the beat's tick deletes old finished runs in small batches (issue 19).

What is deleted: sync runs that ended before ``history_retention_days`` (instant polls and webhook runs that
wrote nothing — no record created, updated, failed or blocked — after ``history_idle_run_hours``), with their
module runs. What is never deleted: a run with a module run still queued, running or waiting; a run holding one of
the newest ``history_keep_runs`` module runs of its integration's module (whatever their age, so an idle
integration keeps its last results); a run holding a module run ``module_states`` points at (the last run, the
last success, the current one). Totals for /metrics live in ``module_states`` and are not lowered.

Each batch is its own short transaction over rows no worker touches (finished runs), so it never holds up a
sync; a tick does a few batches at most and the next tick goes on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from shared.clock import utcnow
from shared.config import Settings
from shared.db.schema import module_runs, module_states, sync_runs

ENDED = ("succeeded", "partial", "failed", "skipped")
IDLE_TRIGGERS = ("instant", "webhook")
# bpsync migrate's run is the record that the one-way migration happened (a second one is refused by it)
NEVER_PRUNED = ("migrate",)
WRITES = ("created", "updated", "failed", "blocked")  # what a run that "wrote nothing" has none of
BATCH = 500  # sync runs per transaction
BATCHES_PER_TICK = 4


@dataclass(frozen=True)
class Retention:
    days: float  # 0: keep every run
    idle_hours: float
    keep_runs: int


def _protected(keep_runs: int) -> sa.ColumnElement[bool]:
    """A module run retention must keep (correlated to ``module_runs``)."""
    newer = module_runs.alias("newer")
    nth_newest = (
        sa.select(newer.c.id)
        .where(newer.c.integration_id == module_runs.c.integration_id, newer.c.module == module_runs.c.module)
        .order_by(newer.c.id.desc())
        .offset(keep_runs - 1)
        .limit(1)
        .scalar_subquery()
    )
    pointed = sa.select(module_states.c.integration_id).where(
        module_states.c.integration_id == module_runs.c.integration_id,
        module_states.c.module == module_runs.c.module,
        sa.or_(
            module_states.c.current_module_run_id == module_runs.c.id,
            module_states.c.last_module_run_id == module_runs.c.id,
            module_states.c.last_success_module_run_id == module_runs.c.id,
        ),
    )
    return sa.or_(
        module_runs.c.status.not_in(ENDED),
        module_runs.c.waiting_until.is_not(None),
        module_runs.c.id >= sa.func.coalesce(nth_newest, 0),
        sa.exists(pointed),
    )


def candidates(conn: sa.Connection, policy: Retention, now: dt.datetime, limit: int = BATCH) -> list[int]:
    """The oldest sync runs retention may delete now, at most ``limit``."""
    ended = sa.func.coalesce(sync_runs.c.finished_at, sync_runs.c.requested_at)
    wrote = sa.exists().where(
        module_runs.c.sync_run_id == sync_runs.c.id, sa.or_(*(module_runs.c[c] > 0 for c in WRITES))
    )
    old = ended < now - dt.timedelta(days=policy.days)
    idle = sa.and_(sync_runs.c.trigger.in_(IDLE_TRIGGERS), ended < now - dt.timedelta(hours=policy.idle_hours), ~wrote)
    kept = sa.exists().where(module_runs.c.sync_run_id == sync_runs.c.id, _protected(policy.keep_runs))
    return list(
        conn.execute(
            sa.select(sync_runs.c.id)
            .where(sync_runs.c.status.in_(ENDED), sync_runs.c.trigger.not_in(NEVER_PRUNED), sa.or_(old, idle), ~kept)
            .order_by(sync_runs.c.id)
            .limit(limit)
        ).scalars()
    )


def prune_batch(engine: sa.Engine, policy: Retention, now: dt.datetime | None = None, limit: int = BATCH) -> int:
    """Delete one batch; returns how many sync runs went (0: nothing left to prune)."""
    if policy.days <= 0:
        return 0
    now = now or utcnow()
    with engine.begin() as conn:
        ids = candidates(conn, policy, now, limit)
        if ids:
            # module runs first: SQLite may run without ON DELETE CASCADE; their errors' and webhook events'
            # module_run_id are set NULL by their foreign keys (indexed for it)
            conn.execute(module_runs.delete().where(module_runs.c.sync_run_id.in_(ids)))
            conn.execute(sync_runs.delete().where(sync_runs.c.id.in_(ids)))
    return len(ids)


def policy_of(settings: Settings) -> Retention:
    return Retention(settings.history_retention_days, settings.history_idle_run_hours, settings.history_keep_runs)


def prune(engine: sa.Engine, policy: Retention, now: dt.datetime | None = None) -> int:
    """What one tick does: a few batches at most; the next tick goes on where this one stopped."""
    pruned = 0
    for _ in range(BATCHES_PER_TICK):
        done = prune_batch(engine, policy, now)
        pruned += done
        if done < BATCH:
            break
    return pruned
