"""Starting work: manual refresh, the beat's dispatch of due integrations, and the sweeper.

Tasks are sent by name through the Celery app, so the scheduler never imports worker code. The beat tick
(``worker/tasks/sync.py``) calls ``dispatch_due``, ``dispatch_instant_polls`` and ``sweep``; the scheduler calls
``request_sync`` (CLI, web, webhooks): both sides use this module, which is why it is here and not beside the tick.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterable

import sqlalchemy as sa
from celery import Celery

from shared.clock import as_utc, utcnow
from shared.config import Settings
from shared.db import runs, sweeps
from shared.db.engine import shared_engine
from shared.db.integrations import next_run_after
from shared.db.schema import integrations, module_runs, sync_runs
from shared.modules import modules_for_refresh

log = logging.getLogger(__name__)
# What a refresh answers when the broker could not take its first module (the run itself is stored).
UNSENT_NOTICE = (
    "the broker is unreachable: the run is stored and the beat's next sweep sends it once the broker is back "
    "(check the broker: BPSYNC_BROKER_URL)"
)
MODULE_TASK = "bpsync.sync.module"
TICK_TASK = "bpsync.sync.tick"


def enqueue_module(app: Celery, module_run_id: int, *, countdown: float | None = None) -> bool:
    """Send one module slice; the integration and module ride along as labels so Flower shows what it is.

    The database already says the module is due, so a send that fails (broker down) loses nothing: the module
    is marked unsent and the next sweep sends it again. Returns whether the message went out. ``countdown``: a
    few seconds at most (a throttled slice's short wait; Redis redelivers long ETAs after the visibility timeout).
    """
    labels: dict[str, object] = {}
    settings = getattr(app.conf, "bpsync_settings", None)
    engine = shared_engine(settings.database_url) if settings is not None else None
    if engine is not None:
        with engine.connect() as conn:
            row = conn.execute(
                sa.select(module_runs.c.integration_id, module_runs.c.module).where(module_runs.c.id == module_run_id)
            ).first()
        if row is not None:
            labels = {"integration_id": row.integration_id, "module": row.module}
    try:
        app.send_task(MODULE_TASK, kwargs={"module_run_id": module_run_id, **labels}, countdown=countdown)
    except Exception as exc:  # kombu raises OperationalError and friends once its publish retries are spent
        log.warning("could not send module run %s (%s); the next sweep sends it again", module_run_id, exc)
        if engine is not None:
            runs.unsent(engine, module_run_id)
        return False
    return True


def enqueue_modules(app: Celery, module_run_ids: Iterable[int]) -> bool:
    """Send each module run (``enqueue_module``), every one even after a failed send; whether all went out."""
    return all([enqueue_module(app, module_run_id) for module_run_id in module_run_ids])


def request_sync(
    engine: sa.Engine, app: Celery, integration_id: int, *, module: str | None = None, trigger: str = "manual"
) -> runs.RunRequest:
    """Refresh one module (and everything below it) or all; coalesces into a sync already running."""
    wanted = modules_for_refresh(module)
    with engine.begin() as conn:
        request = runs.request_run(conn, integration_id, wanted, trigger)
    sent = enqueue_modules(app, request.start_module_run_ids)
    return request if sent else dataclasses.replace(request, sent=False)


def dispatch_due(engine: sa.Engine, app: Celery, now: dt.datetime | None = None, limit: int = 100) -> list[int]:
    """Start the sync of every integration whose next_run_at has come; safe with several beats running."""
    now = now or utcnow()
    to_enqueue: list[int] = []
    started: list[int] = []
    with engine.begin() as conn:
        due = conn.execute(
            sa.select(integrations)
            .where(integrations.c.state == "active", integrations.c.next_run_at <= now)
            .order_by(integrations.c.next_run_at)
            .limit(limit)
            .with_for_update(skip_locked=True)  # a second beat skips rows the first one holds
        ).all()
        for row in due:
            next_at = next_run_after(as_utc(row.connected_at), row.sync_interval_seconds, now)
            conn.execute(integrations.update().where(integrations.c.id == row.id).values(next_run_at=next_at))
            request = runs.request_run(conn, row.id, modules_for_refresh(None), "beat", now)
            started.append(request.run_id)
            to_enqueue.extend(request.start_module_run_ids)
    enqueue_modules(app, to_enqueue)
    return started


def dispatch_instant_polls(
    engine: sa.Engine, app: Celery, settings: Settings, now: dt.datetime | None = None
) -> list[int]:
    """Poll recent time logs of integrations that synced before, every instant_poll_minutes (issue 7).

    A poll is a run of the timesheets module with trigger "instant" (it reads only recent windows); it
    coalesces like any refresh, so it never runs beside another sync of the same integration.
    """
    if settings.instant_poll_minutes <= 0:
        return []
    now = now or utcnow()
    since = now - dt.timedelta(minutes=settings.instant_poll_minutes)
    recent = sa.select(sync_runs.c.integration_id).where(
        sa.or_(sync_runs.c.requested_at >= since, sync_runs.c.status.in_(("queued", "running")))
    )
    synced_before = sa.select(sync_runs.c.integration_id).where(sync_runs.c.status.in_(("succeeded", "partial")))
    to_enqueue: list[int] = []
    started: list[int] = []
    with engine.begin() as conn:
        due = conn.execute(
            sa.select(integrations.c.id)
            .where(
                integrations.c.state == "active",
                sa.or_(integrations.c.paused_until.is_(None), integrations.c.paused_until <= now),
                integrations.c.id.in_(synced_before),
                integrations.c.id.not_in(recent),
            )
            .with_for_update(skip_locked=True)
        ).all()
        for row in due:
            if not _poll_affordable(conn, row.id, settings, now):
                continue
            request = runs.request_run(conn, row.id, ["timesheets"], "instant", now)
            started.append(request.run_id)
            to_enqueue.extend(request.start_module_run_ids)
    enqueue_modules(app, to_enqueue)
    return started


def _poll_affordable(conn: sa.Connection, integration_id: int, settings: Settings, now: dt.datetime) -> bool:
    """Whether another poll keeps polling within its share of the Projects quota.

    A poll costs a log-list call per recent month and component of every synced project: a few calls for a small
    portal, thousands for a big one, where polls every few minutes would eat the whole quota (100 calls per 2
    minutes) and starve the daily run. So the next poll waits until the last one's Projects calls, at Zoho's
    rate, fit in ``instant_poll_quota_share`` of the time since it started; webhooks are the instant path there.
    """
    last = conn.execute(
        sa.select(sync_runs.c.id, sync_runs.c.requested_at)
        .where(sync_runs.c.integration_id == integration_id, sync_runs.c.trigger == "instant")
        .order_by(sync_runs.c.id.desc())
        .limit(1)
    ).first()
    if last is None:
        return True
    calls = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(module_runs.c.projects_calls), 0)).where(
            module_runs.c.sync_run_id == last.id
        )
    ).scalar_one()
    seconds_per_call = settings.projects_window_seconds / settings.projects_requests_per_window
    spacing = dt.timedelta(seconds=int(calls) * seconds_per_call / settings.instant_poll_quota_share)
    affordable_at: dt.datetime = as_utc(last.requested_at) + spacing
    return now >= affordable_at


SWEEP_LOCK = 0x62707379  # pg advisory lock key ("bpsy"): one sweep at a time across every beat


def sweep(engine: sa.Engine, app: Celery, settings: Settings) -> list[int]:
    """Resume modules whose worker died, whose wait is over or whose message was lost; close finished runs.

    One sweep at a time: on PostgreSQL a transaction-scoped advisory lock (a second beat's tick skips the sweep);
    SQLite has one writer anyway. Returns the module runs it enqueued.
    """
    with engine.begin() as conn:
        if (
            conn.dialect.name == "postgresql"
            and not conn.execute(sa.select(sa.func.pg_try_advisory_xact_lock(SWEEP_LOCK))).scalar()
        ):
            return []
        outcome = sweeps.sweep(conn, settings.stale_after_seconds, settings.max_module_attempts)
    for module_run_id in outcome.failed:
        log.warning("module run %s failed: its worker stopped too often without progress", module_run_id)
    to_enqueue = outcome.to_enqueue()
    enqueue_modules(app, to_enqueue)
    return to_enqueue


def waiting_modules(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(module_runs)
                .where(module_runs.c.status.in_(("queued", "running")))
            ).scalar_one()
        )
