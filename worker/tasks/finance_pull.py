"""``bpsync.instant.transactions``: one transactions pull of one integration (worker/finance/pull.py).

Sent by ``shared.finance_dispatch`` (a Books webhook, or the beat's fallback poll) to the instant queue. One pull per
integration runs at a time (a PostgreSQL advisory lock); a pull that finds another running hands its request back
and is sent again in a couple of seconds.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from typing import Any

import requests
import sqlalchemy as sa
from celery import Celery, Task, shared_task

from shared.clock import utcnow
from shared.config import Settings
from shared.db.engine import require_schema
from shared.db.integrations import Integration, credentials_of, get_integration, update_integration
from shared.finance_dispatch import PULL_TASK, locked_state, request_pull, save_state
from shared.logging import bind
from shared.zoho.books import BooksClient
from shared.zoho.errors import FatalError, RateLimited, RetryableError
from shared.zoho.factory import build_books_client, new_session
from shared.zoho.http import Metrics
from worker.connections import shared_redis
from worker.finance.pull import Hint, pull
from worker.tasks.sync import settings_of

log = logging.getLogger(__name__)
LOCK_KEY = 0x62706670  # pg advisory lock class ("bpfp"); the second key is the integration id
BUSY_RETRY_SECONDS = 2
MAX_FAILED_PULLS = 5


@functools.cache
def _session(integration_id: int) -> requests.Session:
    # its own pooled session: a pull may run in a worker thread next to a sync slice of the same integration
    return new_session()


def _books(settings: Settings, integration: Integration, metrics: Metrics) -> BooksClient:
    redis = shared_redis(settings.shared_redis_url) if settings.shared_redis_url else None
    return build_books_client(
        settings,
        credentials_of(settings, integration),
        integration.books_organization_id,
        redis=redis,
        metrics=metrics,
        session=_session(integration.id),
        yield_when_throttled=True,  # a throttled organization's pull never sleeps in an instant worker
    )


def _take(engine: sa.Engine, integration_id: int, now: dt.datetime) -> tuple[list[Hint], bool, dict[str, Any]]:
    """Take the pending request (hints, full) and clear the queued mark, so a later webhook queues another pull."""
    with engine.begin() as conn:
        state = locked_state(conn, integration_id) or {}
        hints = [h for h in (Hint.from_json(v) for v in state.get("hints") or []) if h is not None]
        full = bool(state.get("full"))
        state.update(hints=[], full=False, queued_at=None)
        save_state(conn, integration_id, state)
    return hints, full, state


def _give_back(engine: sa.Engine, integration_id: int, hints: list[Hint], full: bool) -> None:
    with engine.begin() as conn:
        state = locked_state(conn, integration_id) or {}
        pending = [h for h in state.get("hints") or [] if isinstance(h, list)]
        pending += [h.as_json() for h in hints if h.as_json() not in pending]
        state.update(hints=pending, full=bool(state.get("full")) or full)
        save_state(conn, integration_id, state)


def _finish(engine: sa.Engine, integration_id: int, merge: dict[str, Any]) -> None:
    with engine.begin() as conn:
        state = locked_state(conn, integration_id) or {}
        state.update(merge)
        save_state(conn, integration_id, state)


@shared_task(name=PULL_TASK, bind=True)
def pull_transactions(self: Task[..., dict[str, Any]], integration_id: int) -> dict[str, Any]:
    settings = settings_of(self.app)
    engine = require_schema(settings.database_url)
    bind(integration_id=integration_id, module="transactions")
    integration = get_integration(engine, integration_id)
    now = utcnow()
    hints, full, state = _take(engine, integration_id, now)
    if integration.state != "active":
        return {"skipped": "integration disabled"}
    if not hints and not full:
        return {"skipped": "nothing requested"}
    with engine.connect() as lock_conn:
        postgres = lock_conn.dialect.name == "postgresql"
        if (
            postgres
            and not lock_conn.execute(sa.select(sa.func.pg_try_advisory_lock(LOCK_KEY, integration_id))).scalar()
        ):
            lock_conn.rollback()
            _give_back(engine, integration_id, hints, full)
            self.apply_async(kwargs={"integration_id": integration_id}, countdown=BUSY_RETRY_SECONDS)
            return {"skipped": "another pull is running; sent again"}
        lock_conn.commit()
        try:
            return _pull(self.app, settings, engine, integration, state, hints, full, now)
        finally:
            if postgres:
                lock_conn.execute(sa.select(sa.func.pg_advisory_unlock(LOCK_KEY, integration_id)))
                lock_conn.commit()


def _pull(
    app: Celery,
    settings: Settings,
    engine: sa.Engine,
    integration: Integration,
    state: dict[str, Any],
    hints: list[Hint],
    full: bool,
    now: dt.datetime,
) -> dict[str, Any]:
    calls = {"books": 0}

    def count(api: str, _endpoint: str, _status: int | None, _elapsed: float) -> None:
        if api == "books":
            calls["books"] += 1

    books = _books(settings, integration, count)
    last_pull = {"started_at": now.isoformat(), "full": full}
    try:
        outcome = pull(engine, books, integration.id, state, hints=hints, full=full, now=now)
    except RateLimited as exc:
        retry_at = dt.datetime.fromtimestamp(exc.retry_at, dt.UTC)
        update_integration(engine, integration.id, paused_until=retry_at, paused_reason=exc.message)
        _give_back(engine, integration.id, hints, full)
        _finish(engine, integration.id, {"last_pull": {**last_pull, "books_calls": calls["books"], "error": str(exc)}})
        wait = exc.retry_at - time.time()
        if wait <= settings.max_inline_wait_seconds:
            # a short 429 (fairness, issue 19): back when Zoho said, and other tenants' pulls use the worker meanwhile
            app.send_task(PULL_TASK, kwargs={"integration_id": integration.id}, countdown=max(0.0, wait) + 0.05)
        return {"waiting": retry_at.isoformat()}
    except (RetryableError, FatalError) as exc:
        failures = int((state.get("last_pull") or {}).get("failures") or 0) + 1
        if failures < MAX_FAILED_PULLS and hints:
            _give_back(engine, integration.id, hints, full)  # the next poll (or webhook) tries them again
        log.warning("transactions pull of integration %s failed (%s)", integration.id, exc)
        _finish(
            engine,
            integration.id,
            {"last_pull": {**last_pull, "books_calls": calls["books"], "error": str(exc), "failures": failures}},
        )
        return {"error": str(exc)}
    merge = dict(outcome.cursor)
    merge["last_pull"] = {
        **last_pull,
        "finished_at": utcnow().isoformat(),
        "books_calls": calls["books"],
        **outcome.as_json(),
    }
    _finish(engine, integration.id, merge)
    if outcome.leftover:
        # named records left over (a burst of webhooks): changes a person just made, read them next
        request_pull(engine, app, integration.id, hints=[h.as_json() for h in outcome.leftover])
    log.info("transactions pull of integration %s: %s", integration.id, outcome.as_json())
    return outcome.as_json()
