"""Celery task of project-side finance requests (instant queue): send one request to Books, exactly once."""

from __future__ import annotations

import logging

from celery import Task, shared_task

from shared.db.engine import require_schema
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
        outcome = send(engine, settings, request_id, lambda integration: clients_for(settings, integration)[1])
    except LeaseLost as exc:
        log.warning("%s", exc)
        return "lease lost"
    if outcome.state in ("refused", "failed"):
        raise FinanceRequestFailed(outcome.detail)
    return f"{outcome.state}: {outcome.detail}"
