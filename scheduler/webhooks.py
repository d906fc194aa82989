"""Webhooks from Zoho Projects: the instant path of time logs (issue 7), next to the beat's short poll.

Set up in Zoho Projects (Settings > Developer Space > Webhooks) per integration: URL from ``bpsync webhook-url``
(it carries the integration's secret token, shown once), method POST, a JSON body naming the event and its project::

    {"event": "timelog.created", "payload": {"portal_id": "<portal id>", "project_id": "<project id>",
     "log_id": "<log id>", "log_date": "<log date>", "component_type": "<task|bug|general>"}}

``log_id``, ``log_date`` (MM-DD-YYYY or YYYY-MM-DD) and ``component_type`` are optional; a log date lets the run
read that month too, so even a new log dated before every other log of its project arrives at once.

A call is checked (token, shape, portal), stored in ``webhook_events`` and answered at once; the timesheets run it
requests reads the recent months of that project (plus the months of the log it names), so a new, edited,
approved or deleted log reaches Books within seconds instead of at the next poll. Only ``timelog.*`` events start
work: other changes (projects, tasks) wait for the daily run, and the answer says so.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from celery import Celery

from shared import crypto
from shared.clock import utcnow
from shared.db import runs, webhook_events
from shared.db.integrations import Integration, IntegrationNotFound, get_integration
from shared.db.links import get_link
from shared.db.schema import integrations
from shared.dispatch import enqueue_modules
from shared.zoho.projects_models import COMPONENTS

TRIGGER = "webhook"
HANDLED_PREFIX = "timelog."
ID_MAX = 40


class WebhookRejected(Exception):
    """The call cannot be accepted; ``status`` is the HTTP answer and the message says what to fix."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Receipt:
    accepted: bool
    detail: str
    run_id: int | None = None
    event_id: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "detail": self.detail, "run_id": self.run_id, "event_id": self.event_id}


def webhook_token(engine: sa.Engine, integration_id: int, *, rotate: bool = False) -> str | None:
    """A new webhook token if the integration has none or ``rotate`` (old URLs stop working), else None.

    Only the token's digest is stored, so a token can be shown once, when it is made.
    """
    with engine.begin() as conn:
        current = conn.execute(
            sa.select(integrations.c.webhook_token_sha256).where(integrations.c.id == integration_id).with_for_update()
        ).scalar()
        if current and not rotate:
            return None
        token = secrets.token_urlsafe(32)
        conn.execute(
            integrations.update()
            .where(integrations.c.id == integration_id)
            .values(webhook_token_sha256=crypto.token_digest(token))
        )
        return token


def webhook_path(integration_id: int, token: str) -> str:
    return f"/webhooks/projects/{integration_id}?token={token}"


def _id(payload: dict[str, Any], key: str, *, required: bool) -> str | None:
    value = payload.get(key)
    if value is None or value == "":
        if required:
            raise WebhookRejected(
                400,
                f'payload.{key} is missing; the body must be {{"event": ..., "payload": '
                f'{{"portal_id": ..., "project_id": ..., "log_id": ...}}}}',
            )
        return None
    text = str(value).strip()
    if not text.isdigit() or len(text) > ID_MAX:
        raise WebhookRejected(400, f"payload.{key} must be a Zoho id (digits), got {value!r}")
    return text


def _log_date(payload: dict[str, Any]) -> str | None:
    """The log's date as ISO, from Zoho's MM-DD-YYYY (what its placeholders give) or YYYY-MM-DD; optional."""
    value = payload.get("log_date")
    if value is None or value == "":
        return None
    text = str(value).strip()
    for fmt in ("%m-%d-%Y", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    raise WebhookRejected(400, f"payload.log_date must be a date as MM-DD-YYYY or YYYY-MM-DD, got {value!r}")


def _component(payload: dict[str, Any]) -> str | None:
    value = payload.get("component_type")
    if value is None or value == "":
        return None
    text = str(value).strip().lower()
    if text not in COMPONENTS:
        raise WebhookRejected(400, f"payload.component_type must be one of {', '.join(COMPONENTS)}, got {value!r}")
    return text


def _parse(body: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(body, dict):
        raise WebhookRejected(400, 'the body must be a JSON object: {"event": "timelog.created", "payload": {...}}')
    event, payload = body.get("event"), body.get("payload")
    if not isinstance(event, str) or not event.strip() or len(event) > 60:
        raise WebhookRejected(400, 'the body needs "event", a name such as "timelog.created"')
    if not isinstance(payload, dict):
        raise WebhookRejected(400, 'the body needs "payload", an object with portal_id and project_id')
    return event.strip(), payload


def _authorized(engine: sa.Engine, integration_id: int, token: str) -> Integration:
    try:
        integration = get_integration(engine, integration_id)
    except IntegrationNotFound:
        integration = None
    # one answer for "no such integration" and "wrong token", so the URL space can't be probed
    if integration is None or not crypto.token_matches(token, integration.webhook_token_sha256):
        raise WebhookRejected(401, "unknown integration or wrong token; `bpsync webhook-url --rotate` makes a new URL")
    return integration


def receive_projects_webhook(
    engine: sa.Engine, app: Celery, integration_id: int, token: str, body: Any, now: dt.datetime | None = None
) -> Receipt:
    """Check one call, store it and start (or join) a timesheets run for it."""
    integration = _authorized(engine, integration_id, token)
    event, payload = _parse(body)
    portal_id = _id(payload, "portal_id", required=True)
    if portal_id != integration.projects_portal_id:
        raise WebhookRejected(
            400,
            f"this webhook is for portal {portal_id}, but integration {integration.name!r} syncs portal "
            f"{integration.projects_portal_id}; use that integration's URL (`bpsync webhook-url`)",
        )
    project_id = _id(payload, "project_id", required=True)
    log_id = _id(payload, "log_id", required=False)
    assert project_id is not None
    # stored normalized: the run reads this date's month, which finds a new log back-dated before all others
    payload = {**payload, "log_date": _log_date(payload), "component_type": _component(payload)}
    if not event.startswith(HANDLED_PREFIX):
        return Receipt(False, f"{event!r} starts no work: only timelog.* events do; the daily sync picks it up")
    if integration.state != "active":
        return Receipt(False, f"integration {integration.name!r} is disabled; nothing was queued")
    now = now or utcnow()
    with engine.begin() as conn:
        project = get_link(conn, integration.id, "project", project_id)
        if project is None or not project.books_id:
            return Receipt(False, f"project {project_id} is not in Zoho Books yet; its first sync brings its logs")
        event_id = webhook_events.record(
            conn, integration.id, event=event, project_id=project_id, log_id=log_id, payload=payload, now=now
        )
        request = runs.request_run(conn, integration.id, ["timesheets"], TRIGGER, now)
    enqueue_modules(app, request.start_module_run_ids)
    return Receipt(True, f"queued for run #{request.run_id}", request.run_id, event_id)
