"""Celery tasks of the sync: one module slice per task, and the beat's periodic tick.

Task arguments are keywords (module_run_id), so Flower shows what each task is working on.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

import sqlalchemy as sa
from celery import Celery, Task, shared_task
from celery.exceptions import Retry

from shared.clock import utcnow
from shared.config import Settings, get_settings
from shared.db import retention, runs
from shared.db.engine import require_schema
from shared.db.integrations import get_integration, update_integration
from shared.dispatch import dispatch_due, dispatch_instant_polls, enqueue_module, enqueue_modules, sweep
from shared.finance_dispatch import dispatch_transaction_polls
from shared.finance_requests import sweep as sweep_finance_requests
from shared.logging import bind
from shared.zoho.errors import FatalError, RateLimited, RetryableError
from worker.connections import clients_for
from worker.engine import LeaseKeeper, run_slice
from worker.modules import REGISTRY
from worker.modules.base import SyncContext
from worker.table_statistics import analyze_grown_tables

log = logging.getLogger(__name__)
# Backoff after the n-th failed attempt without progress, as multiples of BPSYNC_RETRY_BACKOFF_SECONDS (5 s:
# 5 s, 30 s, 2 min, 10 min), so transient trouble is retried soon and a longer outage is not hammered.
RETRY_BACKOFF_STEPS = (1, 6, 24, 120)
ETA_SLACK_SECONDS = 0.05


def settings_of(app: Celery) -> Settings:
    """The settings the app was built with (tests build apps per database), else the environment's."""
    return getattr(app.conf, "bpsync_settings", None) or get_settings()


class ModuleFailed(Exception):
    """A slice ended its module as failed (already recorded in the database): Flower shows the task as FAILURE."""


@shared_task(name="bpsync.sync.module", bind=True, throws=(ModuleFailed,))
def sync_module(self: Task[..., str], module_run_id: int, **_labels: object) -> str:
    """One slice of a module run (the integration_id/module keywords are labels for Flower, not inputs).

    The database drives every retry (waits, backoffs and lapsed leases are resumed by the beat's sweep), so the
    Celery outcome is only a picture for Flower: SUCCESS for a slice that worked, RETRY for a backoff, FAILURE
    (ModuleFailed) when the module failed.
    """
    settings = settings_of(self.app)
    engine = require_schema(settings.database_url)
    module_run = runs.claim_module(engine, module_run_id, settings.module_lease_seconds)
    if module_run is None:
        return "held elsewhere, waiting or finished"
    # every log line of this task names the integration, run and module (cleared at task end)
    bind(integration_id=module_run.integration_id, run_id=module_run.sync_run_id, module=module_run.module)
    try:
        return _run(self.app, settings, engine, module_run)
    except runs.LeaseLost as exc:
        # a worker that stalled past its lease: whoever took over owns the module now; write nothing more
        log.warning("%s", exc)
        return "lease lost"


def _run(app: Celery, settings: Settings, engine: sa.Engine, module_run: runs.ModuleRun) -> str:
    if runs.parents_unfinished(engine, module_run):
        runs.release(engine, module_run, status="queued")
        return "parents not finished"
    integration = get_integration(engine, module_run.integration_id)
    if integration.state != "active":
        enqueue_modules(app, runs.fail_run(engine, module_run, "the integration is disabled", status="skipped"))
        return "integration disabled"
    calls = dict.fromkeys(("api_calls", "projects_calls", "books_calls", "throttled_calls"), 0)
    lease: list[LeaseKeeper] = []
    counting = threading.Lock()  # the next page's listing may be read in a thread (worker/read_ahead.py)

    def count_call(api: str, _endpoint: str, status: int | None, _elapsed: float) -> None:
        with counting:
            calls["api_calls"] += 1
            if api in ("projects", "books"):
                calls[f"{api}_calls"] += 1
            if status == 429:
                calls["throttled_calls"] += 1
        if lease:  # every Zoho call is a sign of life: a slow page must not look like a dead worker
            lease[0].keep()

    projects, books = clients_for(settings, integration, metrics=count_call, yield_when_throttled=True)
    ctx = SyncContext(engine, settings, integration, module_run, projects, books)
    lease.append(LeaseKeeper(ctx))
    try:
        result = run_slice(
            ctx, REGISTRY[module_run.module], max_pages=settings.slice_pages, max_seconds=settings.slice_seconds
        )
    except RateLimited as exc:
        return _wait_for_quota(app, engine, settings, module_run, exc)
    except RetryableError as exc:
        retry_at, text = _back_off(app, engine, settings, module_run, str(exc))
        # RETRY in Flower; nothing is re-sent by Celery: the sweep enqueues the module when the backoff is over
        raise Retry(text, when=retry_at) from None
    except FatalError as exc:
        # e.g. revoked credentials: nothing else in this run can work either
        enqueue_modules(app, runs.fail_run(engine, module_run, str(exc)))
        raise ModuleFailed(str(exc)) from None
    except runs.LeaseLost:
        raise
    except Exception as exc:
        # A bug or an outage we don't classify: keep the cursor and back off like a transient error (up to
        # max_module_attempts without progress), then let Celery report the exception with its traceback.
        _back_off(app, engine, settings, module_run, f"{type(exc).__name__}: {exc}")
        raise
    finally:
        # the lease keeper holds the context, which holds the clients whose hook holds this list: a cycle that
        # would keep the slice's memo (customer index, users, links) alive until the cyclic collector got to it
        lease.clear()
        # a slice that raised leaves its frames, this context among them, to whoever holds the exception (Celery's
        # retry and failure reports): its lookups go now all the same
        ctx.memo.clear()
        runs.add_calls(engine, module_run.id, calls)
    if integration.paused_until is not None:
        update_integration(engine, integration.id, paused_until=None, paused_reason=None)
    _fresh_statistics(engine)
    if not result.done:
        runs.release(engine, module_run)
        enqueue_module(app, module_run.id)
        return "continues"
    status = runs.module_status_from_counts(runs.module_counts(engine, module_run.id))
    enqueue_modules(app, runs.finish(engine, module_run, status))
    return status


def _fresh_statistics(engine: sa.Engine) -> None:
    """After a slice that grew the sync's tables, their planner statistics (worker/table_statistics.py); a failure
    there (a role that may not ANALYZE) costs the plans, never the sync."""
    try:
        analyze_grown_tables(engine)
    except sa.exc.DBAPIError as exc:
        log.warning("planner statistics not refreshed: %s", exc.orig)


def _wait_for_quota(
    app: Celery, engine: sa.Engine, settings: Settings, module_run: runs.ModuleRun, exc: RateLimited
) -> str:
    """Hand the worker back until Zoho's quota reopens, however soon (fairness between tenants, issue 19).

    A short wait (at most max_inline_wait_seconds, e.g. a 429's Retry-After of a second) is not slept out here: the
    slice sends itself again with that countdown, and other tenants' slices use the worker meanwhile. A longer one
    (a spent minute window, the daily quota) is resumed by the beat's sweep when it is over.
    """
    retry_at = dt.datetime.fromtimestamp(exc.retry_at, dt.UTC)
    wait = exc.retry_at - time.time()
    # the integration's pause and the module's wait in one transaction: never one seen without the other
    if wait <= settings.max_inline_wait_seconds:
        runs.pause(engine, module_run, retry_at, runs.THROTTLED, integration_reason=exc.message)
        # a moment past retry_at: the claim refuses a message that arrives before the wait is over
        enqueue_module(app, module_run.id, countdown=max(0.0, wait) + ETA_SLACK_SECONDS)
    else:
        runs.pause(engine, module_run, retry_at, "quota", integration_reason=exc.message)
    return f"waiting for API quota until {retry_at.isoformat()}"


def _back_off(
    app: Celery, engine: sa.Engine, settings: Settings, module_run: runs.ModuleRun, error: str
) -> tuple[dt.datetime, str]:
    """Count an attempt without progress; pause for the next backoff step, or fail the module after the last."""
    attempts = runs.note_attempt(engine, module_run)
    if attempts > settings.max_module_attempts:
        error = f"{error} (gave up after {attempts} attempts without progress)"
        enqueue_modules(app, runs.finish(engine, module_run, "failed", error))
        raise ModuleFailed(error) from None
    step = RETRY_BACKOFF_STEPS[min(attempts, len(RETRY_BACKOFF_STEPS)) - 1]
    delay = round(step * settings.retry_backoff_seconds, 2)
    retry_at = utcnow() + dt.timedelta(seconds=delay)
    runs.pause(engine, module_run, retry_at, "retry", error=f"attempt {attempts} failed: {error}")
    return retry_at, f"attempt {attempts} failed, next try in {delay}s: {error}"


@shared_task(name="bpsync.sync.tick", bind=True)
def tick(self: Task[..., dict[str, list[int]]]) -> dict[str, list[int]]:
    """The one periodic task: start due syncs, resume stalled modules."""
    settings = settings_of(self.app)
    engine = require_schema(settings.database_url)
    return {
        "started": dispatch_due(engine, self.app),
        "instant": dispatch_instant_polls(engine, self.app, settings),
        "resumed": sweep(engine, self.app, settings),
        "transactions": dispatch_transaction_polls(engine, self.app, settings),
        "finance_requests": sweep_finance_requests(engine, self.app, settings),
        # last, so a sync is never dispatched later for it; a few short batches, the next tick goes on
        "pruned": [retention.prune(engine, retention.policy_of(settings))],
    }
