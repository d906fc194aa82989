"""Starting transactions pulls (Books -> product): from a Books webhook at once, from the beat as the fallback poll.

A pull is the task ``bpsync.instant.transactions`` on the instant queue, so a long sync never delays it. Its
bookkeeping lives in ``integrations.finance_cursor`` (a JSON object, changed only under the integration's row
lock): the per-kind cursors the worker keeps, plus

- ``hints``: records webhooks named, waiting for the next pull; ``full``: the next pull is a poll;
- ``queued_at``: a pull is queued (coalescing: at most one pending pull per integration; a pull clears it when it
  starts, so a webhook arriving during a pull queues exactly one more);
- ``last_pull``: when the last pull started and how many Books calls it made (the poll's quota share);
- ``webhook_at``: when Books last called our webhook (the poll slows down while webhooks arrive).

Both the scheduler (webhook receiver) and the beat's tick use this module, which is why it is in ``shared``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from celery import Celery

from shared.clock import as_utc, utcnow
from shared.config import Settings
from shared.db.schema import integrations, sync_runs

log = logging.getLogger(__name__)
PULL_TASK = "bpsync.instant.transactions"
# a queued pull that has not started after this long was lost (broker restart): the next request sends another
QUEUED_STALE = dt.timedelta(minutes=2)
MAX_HINTS = 500  # beyond this a poll reads everything anyway
# While Books webhooks arrive, they carry every change at once; the poll then only catches missed deliveries.
WEBHOOK_FRESH = dt.timedelta(hours=24)
POLL_WITH_WEBHOOKS = dt.timedelta(minutes=15)
# a pull starts a moment after the tick that requested it; the next poll may be that much early (see poll_due)
POLL_SLACK = dt.timedelta(seconds=5)
SECONDS_PER_DAY = 86400.0


def _iso(value: dt.datetime) -> str:
    return as_utc(value).isoformat()


def _when(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return as_utc(dt.datetime.fromisoformat(value))
    except ValueError:
        return None


def locked_state(conn: sa.Connection, integration_id: int) -> dict[str, Any] | None:
    """The integration's finance_cursor under its row lock (None: no such integration)."""
    row = conn.execute(
        sa.select(integrations.c.finance_cursor).where(integrations.c.id == integration_id).with_for_update()
    ).first()
    if row is None:
        return None
    return dict(row.finance_cursor) if isinstance(row.finance_cursor, dict) else {}


def save_state(conn: sa.Connection, integration_id: int, state: dict[str, Any]) -> None:
    conn.execute(integrations.update().where(integrations.c.id == integration_id).values(finance_cursor=state))


def request_pull(
    engine: sa.Engine,
    app: Celery,
    integration_id: int,
    *,
    hints: Iterable[list[str]] = (),
    full: bool = False,
    webhook: bool = False,
    now: dt.datetime | None = None,
) -> bool:
    """Ask for a pull (records to read, or a full poll); sends the task unless one is already queued.

    Returns whether a task was sent."""
    now = now or utcnow()
    with engine.begin() as conn:
        state = locked_state(conn, integration_id)
        if state is None:
            return False
        pending = [h for h in state.get("hints") or [] if isinstance(h, list)]
        for hint in hints:
            if hint not in pending:
                pending.append(hint)
        if len(pending) > MAX_HINTS:
            pending, full = [], True
        state["hints"] = pending
        state["full"] = bool(state.get("full")) or full
        if webhook:
            state["webhook_at"] = _iso(now)
        queued = _when(state.get("queued_at"))
        send = queued is None or now - queued > QUEUED_STALE
        if send:
            state["queued_at"] = _iso(now)
        save_state(conn, integration_id, state)
    if send:
        try:
            app.send_task(PULL_TASK, kwargs={"integration_id": integration_id})
        except Exception as exc:  # broker away: the queued mark goes stale and the next request sends again
            log.warning("could not send the transactions pull of integration %s (%s)", integration_id, exc)
            return False
    return send


def poll_spacing(settings: Settings, books_calls: int) -> dt.timedelta:
    """How long after a pull that made ``books_calls`` calls the next poll may start, so polls use at most
    ``instant_poll_quota_share`` of the Books per-minute window AND of the daily cap (a poll every minute
    costing three calls would otherwise spend 4,320 of a 5,000-call day)."""
    share = settings.instant_poll_quota_share
    per_call_window = settings.books_window_seconds / settings.books_requests_per_minute
    per_call_day = SECONDS_PER_DAY / settings.books_daily_limit
    return dt.timedelta(seconds=books_calls * max(per_call_window, per_call_day) / share)


def poll_due(settings: Settings, state: dict[str, Any], now: dt.datetime) -> bool:
    """Whether the tick at ``now`` should request a poll.

    The interval is counted from the last pull's start, which comes a moment after the tick that asked for it (the
    task's trip through the broker, a busy worker). Without slack the tick one interval later found the poll not due
    yet by that moment and it waited a whole extra tick: BPSYNC_TRANSACTIONS_POLL_SECONDS=60 with the 30 s tick polled
    every 90 s. So the interval has up to half a tick (at most POLL_SLACK) of slack; the quota spacing has none."""
    last = state.get("last_pull") if isinstance(state.get("last_pull"), dict) else None
    started = _when(last.get("started_at")) if last else None
    if started is None:
        return True
    interval = dt.timedelta(seconds=settings.transactions_poll_seconds)
    webhook_at = _when(state.get("webhook_at"))
    if webhook_at is not None and now - webhook_at < WEBHOOK_FRESH:
        interval = max(interval, POLL_WITH_WEBHOOKS)
    slack = min(POLL_SLACK, dt.timedelta(seconds=settings.beat_tick_seconds / 2))
    calls = int(last.get("books_calls") or 0) if last else 0
    return now >= max(started + interval - slack, started + poll_spacing(settings, calls))


def dispatch_transaction_polls(
    engine: sa.Engine, app: Celery, settings: Settings, now: dt.datetime | None = None
) -> list[int]:
    """The fallback poll: a full pull of every active integration that synced before, when its turn has come.

    Skips integrations paused for quota; BPSYNC_TRANSACTIONS_POLL_SECONDS=0 turns the poll off. Returns the
    integrations a pull was requested for."""
    if settings.transactions_poll_seconds <= 0:
        return []
    now = now or utcnow()
    synced_before = sa.select(sync_runs.c.integration_id).where(sync_runs.c.status.in_(("succeeded", "partial")))
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(integrations.c.id, integrations.c.finance_cursor).where(
                integrations.c.state == "active",
                sa.or_(integrations.c.paused_until.is_(None), integrations.c.paused_until <= now),
                integrations.c.id.in_(synced_before),
            )
        ).all()
    requested = []
    for row in rows:
        state = row.finance_cursor if isinstance(row.finance_cursor, dict) else {}
        if not poll_due(settings, state, now):
            continue
        queued = _when(state.get("queued_at"))
        if queued is not None and now - queued <= QUEUED_STALE and state.get("full"):
            continue  # a poll is already waiting
        request_pull(engine, app, row.id, full=True, now=now)
        requested.append(row.id)
    return requested
