"""Transactions asked for on the project side (Finance view, API, CLI): the request rows and their delivery.

A request is one ``finance_requests`` row. Its billable items are claimed in ``billing_claims`` in the same
transaction that writes it (``scheduler/finance/create.py``); the worker task ``bpsync.instant.finance_request``
sends it to Books (``worker/finance/invoicing.py``). Both sides use this module:

- the scheduler enqueues a new request and waits for its outcome (``--wait``);
- the worker takes a request with a lease (state ``sending``, ``lease_until``) whose fencing token is the
  attempt number, and the beat's tick sweeps requests stuck in ``queued``/``sending`` past their lease.

States: draft (no customer yet; nothing is sent) → queued → sending → confirmed | refused | failed.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from celery import Celery

from shared.clock import as_utc, utcnow
from shared.config import Settings
from shared.db.integrations import MAX_ID
from shared.db.schema import finance_requests

log = logging.getLogger(__name__)

TASK = "bpsync.instant.finance_request"
KINDS = ("invoice", "quote", "expense", "recurring_invoice")
SCOPES = ("project", "task", "milestone", "tasklist")
OPEN_STATES = ("queued", "sending")
FINAL_STATES = ("confirmed", "refused", "failed")
# a queued request not taken within this long is sent again by the sweep (its message may have been lost)
REQUEUE_SECONDS = 30.0


def reference_for(integration_id: int, request_id: int) -> str:
    """The Books ``reference_number`` of a request: deterministic, so a retry finds what an earlier try created."""
    return f"BPS-{integration_id}-{request_id}"


@dataclass(frozen=True)
class FinanceRequest:
    id: int
    integration_id: int
    kind: str
    projects_project_id: str
    books_project_id: str
    customer_id: str | None
    scope: str
    scope_id: str | None
    payload: dict[str, Any]
    reference: str
    state: str
    books_id: str | None
    number: str | None
    error: str | None
    attempts: int
    lease_until: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def from_row(cls, row: sa.Row[Any]) -> FinanceRequest:
        data = dict(row._mapping)
        data["payload"] = data.get("payload") or {}
        for key in ("lease_until", "created_at", "updated_at"):
            data[key] = as_utc(data[key])
        return cls(**data)

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "projects_project_id": self.projects_project_id,
            "books_project_id": self.books_project_id,
            "customer_id": self.customer_id,
            "scope": self.scope,
            "scope_id": self.scope_id,
            "reference": self.reference,
            "books_id": self.books_id,
            "number": self.number,
            "error": self.error,
            "attempts": self.attempts,
            "total": self.payload.get("total"),
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def get(conn: sa.Connection, request_id: int) -> FinanceRequest | None:
    if not 0 < request_id <= MAX_ID:  # an id past the column's range is no request, not a database error
        return None
    row = conn.execute(sa.select(finance_requests).where(finance_requests.c.id == request_id)).first()
    return FinanceRequest.from_row(row) if row is not None else None


def of_project(conn: sa.Connection, integration_id: int, projects_project_id: str) -> list[FinanceRequest]:
    rows = conn.execute(
        sa.select(finance_requests)
        .where(
            finance_requests.c.integration_id == integration_id,
            finance_requests.c.projects_project_id == projects_project_id,
        )
        .order_by(finance_requests.c.id.desc())
    ).all()
    return [FinanceRequest.from_row(r) for r in rows]


def enqueue(app: Celery, request_id: int, *, countdown: float | None = None) -> bool:
    """Send the request's task; a lost send is repaired by the sweep (the database says it is queued).
    ``countdown``: a few seconds at most (a throttled send comes back when Zoho said)."""
    try:
        app.send_task(TASK, kwargs={"request_id": request_id}, countdown=countdown)
    except Exception as exc:  # broker down: the sweep sends it once the queued request's requeue time passes
        log.warning("could not send finance request %s (%s); the sweep sends it again", request_id, exc)
        return False
    return True


def take(engine: sa.Engine, request_id: int, lease_seconds: float) -> FinanceRequest | None:
    """Hold a queued request (or one whose sender's lease lapsed) for sending; None when another holds it,
    it is a draft, or it is finished. ``attempts`` after the take is the fencing token of this holder."""
    now = utcnow()
    with engine.begin() as conn:
        row = conn.execute(
            finance_requests.update()
            .where(
                finance_requests.c.id == request_id,
                sa.or_(
                    finance_requests.c.state == "queued",
                    sa.and_(finance_requests.c.state == "sending", finance_requests.c.lease_until < now),
                ),
            )
            .values(
                state="sending",
                attempts=finance_requests.c.attempts + 1,
                lease_until=now + dt.timedelta(seconds=lease_seconds),
                updated_at=now,
            )
            .returning(*finance_requests.c)
        ).first()
    return FinanceRequest.from_row(row) if row is not None else None


def fenced(request: FinanceRequest) -> tuple[sa.ColumnElement[bool], ...]:
    """The WHERE of every write by the holder of ``request``: it still holds the lease it took."""
    return (
        finance_requests.c.id == request.id,
        finance_requests.c.state == "sending",
        finance_requests.c.attempts == request.attempts,
    )


def finish(conn: sa.Connection, request: FinanceRequest, **values: Any) -> bool:
    """A fenced final (or release) write; False when the lease was lost (the caller rolls back)."""
    values.setdefault("updated_at", utcnow())
    values.setdefault("lease_until", None)
    return bool(conn.execute(finance_requests.update().where(*fenced(request)).values(**values)).rowcount)


def release(engine: sa.Engine, request: FinanceRequest, *, retry_at: dt.datetime, error: str) -> bool:
    """A transient failure: back to queued; the sweep sends it again at ``retry_at``."""
    with engine.begin() as conn:
        return finish(conn, request, state="queued", lease_until=retry_at, error=error)


def sweep(engine: sa.Engine, app: Celery, settings: Settings, *, now: dt.datetime | None = None) -> list[int]:
    """Requests stuck in queued/sending past their lease are sent again (the beat's tick calls this).

    ``FOR UPDATE SKIP LOCKED`` and the pushed-back lease make two beats send each stuck request once.
    """
    now = now or utcnow()
    with engine.begin() as conn:
        ids = list(
            conn.execute(
                sa.select(finance_requests.c.id)
                .where(
                    finance_requests.c.state.in_(OPEN_STATES),
                    sa.or_(finance_requests.c.lease_until.is_(None), finance_requests.c.lease_until < now),
                )
                .order_by(finance_requests.c.id)
                .limit(100)
                .with_for_update(skip_locked=True)
            ).scalars()
        )
        if ids:
            # queued: not sent again before the next requeue time; sending: the lease stays lapsed, so take works
            conn.execute(
                finance_requests.update()
                .where(finance_requests.c.id.in_(ids), finance_requests.c.state == "queued")
                .values(lease_until=now + dt.timedelta(seconds=REQUEUE_SECONDS))
            )
    for request_id in ids:
        enqueue(app, request_id)
    return ids


def wait(engine: sa.Engine, request_id: int, *, timeout: float, interval: float = 0.1) -> FinanceRequest:
    """Poll until the request is finished (or a draft) or ``timeout`` passes; returns its last state."""
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as conn:
            request = get(conn, request_id)
        assert request is not None
        if request.finished or request.state == "draft" or time.monotonic() >= deadline:
            return request
        time.sleep(interval)
