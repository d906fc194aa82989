"""Celery task of project-side finance requests (instant queue): send one request to Books, exactly once."""

from __future__ import annotations

import logging

from celery import Task, shared_task

from shared.clock import utcnow
from shared.db.engine import require_schema
from shared.finance_requests import enqueue
from shared.logging import bind
from worker.connections import clients_for
from worker.finance.invoicing import LeaseLost, send
from worker.tasks.sync import settings_of

log = logging.getLogger(__name__)


class FinanceRequestFailed(Exception):
    """Books refused the request or it failed for good (already recorded): Flower shows the task as FAILURE."""


@shared_task(name="bpsync.instant.finance_request", bind=True, throws=(FinanceRequestFailed,))
def finance_request(self: Task[..., str], request_id: int) -> str:
    """Send finance request ``request_id``; the database drives retries (the tick's sweep re-sends it)."""
    settings = settings_of(self.app)
    engine = require_schema(settings.database_url)
    bind(finance_request_id=request_id)
    try:
        # every 429 raised at once (fairness, issue 19): a throttled organization's requests never sleep in an
        # instant worker that other tenants' pulls and requests are queued for
        outcome = send(
            engine,
            settings,
            request_id,
            lambda integration: clients_for(settings, integration, yield_when_throttled=True)[1],
        )
    except LeaseLost as exc:
        log.warning("%s", exc)
        return "lease lost"
    if outcome.throttled_until is not None:
        wait = (outcome.throttled_until - utcnow()).total_seconds()
        if wait <= settings.max_inline_wait_seconds:  # back when Zoho said; a longer wait is the sweep's
            enqueue(self.app, request_id, countdown=max(0.0, wait) + 0.05)
    if outcome.state in ("refused", "failed"):
        raise FinanceRequestFailed(outcome.detail)
    return f"{outcome.state}: {outcome.detail}"
