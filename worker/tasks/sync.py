"""Celery tasks of the sync: one module slice per task, and the beat's periodic tick.

Task arguments are keywords (module_run_id), so Flower shows what each task is working on.
"""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task

from shared.clock import utcnow
from shared.config import Settings, get_settings
from shared.connections import clients_for
from shared.db import runs
from shared.db.engine import require_schema
from shared.db.integrations import get_integration, update_integration
from shared.dispatch import dispatch_due, dispatch_instant_polls, enqueue_module, sweep
from shared.logging import bind
from shared.zoho.errors import FatalError, RateLimited, RetryableError
from worker.engine import LeaseKeeper, run_slice
from worker.modules import REGISTRY
from worker.modules.base import SyncContext

log = logging.getLogger(__name__)
RETRY_BACKOFF_SECONDS = (5, 30, 120, 600)


def settings_of(app) -> Settings:  # type: ignore[no-untyped-def]
    """The settings the app was built with (tests build apps per database), else the environment's."""
    return getattr(app.conf, "bpsync_settings", None) or get_settings()


@shared_task(name="bpsync.sync.module", bind=True)
def sync_module(self, module_run_id: int, **_labels: object) -> str:  # type: ignore[no-untyped-def]
    """One slice of a module run (the integration_id/module keywords are labels for Flower, not inputs)."""
    settings = settings_of(self.app)
    engine = require_schema(settings.database_url)
    module_run = runs.claim_module(engine, module_run_id, settings.module_lease_seconds)
    if module_run is None:
        return "held elsewhere or finished"
    # every log line of this task names the integration, run and module (cleared at task end)
    bind(integration_id=module_run.integration_id, run_id=module_run.sync_run_id, module=module_run.module)
    if runs.earlier_unfinished(engine, module_run):
        runs.release(engine, module_run_id, status="queued")
        return "parents not finished"
    integration = get_integration(engine, module_run.integration_id)
    if integration.state != "active":
        runs.fail_remaining(engine, module_run.sync_run_id, "the integration is disabled")
        _advance(self.app, engine, module_run.sync_run_id)
        return "integration disabled"
    calls = dict.fromkeys(("api_calls", "projects_calls", "books_calls", "throttled_calls"), 0)

    lease: list[LeaseKeeper] = []

    def count_call(api: str, _endpoint: str, status: int | None, _elapsed: float) -> None:
        calls["api_calls"] += 1
        if api in ("projects", "books"):
            calls[f"{api}_calls"] += 1
        if status == 429:
            calls["throttled_calls"] += 1
        if lease:  # every Zoho call is a sign of life: a slow page must not look like a dead worker
            lease[0].keep()

    projects, books = clients_for(settings, integration, metrics=count_call)
    ctx = SyncContext(engine, settings, integration, module_run, projects, books)
    lease.append(LeaseKeeper(ctx))
    try:
        result = run_slice(ctx, REGISTRY[module_run.module], max_pages=settings.slice_pages)
    except RateLimited as exc:
        retry_at = dt.datetime.fromtimestamp(exc.retry_at, dt.UTC)
        update_integration(engine, integration.id, paused_until=retry_at, paused_reason=exc.message)
        runs.release(engine, module_run_id, waiting_until=retry_at)
        enqueue_module(self.app, module_run_id, eta=retry_at)
        return f"waiting for API quota until {retry_at.isoformat()}"
    except RetryableError as exc:
        attempts = runs.touch(engine, module_run_id, attempt=True)
        if attempts > settings.max_module_attempts:
            return _finish(self.app, engine, module_run, "failed", f"{exc} (gave up after {attempts - 1} retries)")
        delay = RETRY_BACKOFF_SECONDS[min(attempts, len(RETRY_BACKOFF_SECONDS)) - 1]
        runs.release(engine, module_run_id, error=str(exc))
        enqueue_module(self.app, module_run_id, eta=utcnow() + dt.timedelta(seconds=delay))
        return f"retrying in {delay}s: {exc}"
    except FatalError as exc:
        # e.g. revoked credentials: nothing else in this run can work either
        runs.release(engine, module_run_id, status="failed", error=str(exc))
        runs.fail_remaining(engine, module_run.sync_run_id, str(exc))
        _advance(self.app, engine, module_run.sync_run_id)
        return f"failed: {exc}"
    except Exception as exc:
        # A bug or an outage we don't classify: keep the cursor, free the lease, and let the sweeper retry it
        # (up to max_module_attempts) instead of leaving the module held until its lease lapses.
        runs.release(engine, module_run_id, error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        with engine.begin() as conn:
            runs.add_counts(conn, module_run_id, calls)
    if integration.paused_until is not None:
        update_integration(engine, integration.id, paused_until=None, paused_reason=None)
    if not result.done:
        runs.release(engine, module_run_id)
        enqueue_module(self.app, module_run_id)
        return "continues"
    counts = runs.module_counts(engine, module_run_id)
    return _finish(self.app, engine, module_run, runs.module_status_from_counts(counts), None)


def _finish(app, engine, module_run: runs.ModuleRun, status: str, error: str | None) -> str:  # type: ignore[no-untyped-def]
    runs.release(engine, module_run.id, status=status, error=error)
    _advance(app, engine, module_run.sync_run_id)
    return status


def _advance(app, engine, run_id: int) -> None:  # type: ignore[no-untyped-def]
    following = runs.advance(engine, run_id)
    if following is not None:
        enqueue_module(app, following)


@shared_task(name="bpsync.sync.tick", bind=True)
def tick(self) -> dict[str, list[int]]:  # type: ignore[no-untyped-def]
    """The one periodic task: start due syncs, resume stalled modules."""
    settings = settings_of(self.app)
    engine = require_schema(settings.database_url)
    return {
        "started": dispatch_due(engine, self.app),
        "instant": dispatch_instant_polls(engine, self.app, settings),
        "resumed": sweep(engine, self.app, settings),
    }
