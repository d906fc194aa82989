"""Webhooks from Zoho Books: the instant path of transactions (issue 14), next to the fallback poll.

Set up in Zoho Books (Settings > Automation > Workflow Actions > Webhooks, then a Workflow Rule per module:
Invoices, Quotes, Expenses, Recurring Invoices; "Created or Edited", plus "Deleted" where offered) with the URL
``bpsync webhook-url`` prints for Books (it carries the integration's secret token, the same one as the Projects
URL), method POST, body JSON.

The call only tells us WHICH record changed; the pull reads the record from Books before writing anything (a
record Books no longer has is deleted here, its claims released), so a forged or stale body can never put
anything Books does not hold into the product. Inferred choices, kept here in one place (inferred):

- Body: ``{"event": "<entity>.<action>", "payload": {"organization_id": ..., "<entity>": {...}}}`` (what the
  sandbox hub sends; ``<entity>_id`` instead of the object for deletes), or Zoho's entity JSON without an event
  (``{"invoice": {...}}``, the "Default payload" of a Books workflow webhook). Entities: invoice, estimate,
  expense, recurring_invoice. Actions: created, updated, voided, deleted (any other action reads the record).
- An event naming no record id, or another entity, still asks for a poll of the integration (cheap, and a Books
  change we do not parse is never lost); contacts, projects and the like start no work.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from celery import Celery

from scheduler.webhooks import Receipt, WebhookRejected
from scheduler.webhooks import _authorized as authorize  # the Projects receiver's check: same token, same answers
from shared.clock import utcnow
from shared.db.integrations import get_integration
from shared.finance_dispatch import request_pull

ENTITIES = {"invoice": "invoice", "estimate": "quote", "expense": "expense", "recurring_invoice": "recurring_invoice"}
EVENTS = [f"{entity}.{action}" for entity in ENTITIES for action in ("created", "updated", "voided", "deleted")]
BODY = '{"event": "invoice.updated", "payload": {"organization_id": "<organization id>", "invoice": {...}}}'
ID_MAX = 40


def books_webhook_path(integration_id: int, token: str) -> str:
    return f"/webhooks/books/{integration_id}?token={token}"


def _record_id(entity: str, payload: dict[str, Any]) -> str | None:
    record = payload.get(entity)
    value = record.get(f"{entity}_id") if isinstance(record, dict) else payload.get(f"{entity}_id")
    if value is None or value == "":
        return None
    text = str(value).strip()
    if not text.isdigit() or len(text) > ID_MAX:
        raise WebhookRejected(400, f"{entity}_id must be a Zoho id (digits), got {value!r}")
    return text


def parse(body: Any) -> tuple[str, str | None, str | None, dict[str, Any]]:
    """(event, entity, record id, payload) of a Books webhook body; entity None: not a transaction."""
    if not isinstance(body, dict):
        raise WebhookRejected(400, 'the body must be a JSON object: {"event": "invoice.updated", "payload": {...}}')
    event = body.get("event")
    payload = body.get("payload") if "event" in body else body
    if event is not None and (not isinstance(event, str) or not event.strip() or len(event) > 60):
        raise WebhookRejected(400, 'the body\'s "event" must be a name such as "invoice.updated"')
    if not isinstance(payload, dict):
        raise WebhookRejected(400, 'the body needs "payload", an object naming the record (e.g. "invoice": {...})')
    if event:
        entity = event.strip().split(".", 1)[0]
    else:  # Zoho's entity JSON: the record under its entity's key
        entity = next((e for e in ENTITIES if isinstance(payload.get(e), dict)), "")
        event = f"{entity}.changed" if entity else "unknown"
    if entity not in ENTITIES:
        return event.strip(), None, None, payload
    return event.strip(), entity, _record_id(entity, payload), payload


def receive_books_webhook(
    engine: sa.Engine, app: Celery, integration_id: int, body: Any, now: dt.datetime | None = None
) -> Receipt:
    """Check an (already authorized) call and queue a transactions pull for the record it names."""
    integration = get_integration(engine, integration_id)
    event, entity, record_id, payload = parse(body)
    org = payload.get("organization_id")
    if org not in (None, "") and str(org).strip() != integration.books_organization_id:
        raise WebhookRejected(
            400,
            f"this webhook is for Books organization {org}, but integration {integration.name!r} syncs "
            f"{integration.books_organization_id}; use that integration's URL (`bpsync webhook-url`)",
        )
    if entity is None:
        return Receipt(False, f"{event!r} starts no work: only invoice, estimate, expense and recurring_invoice do")
    if integration.state != "active":
        return Receipt(False, f"integration {integration.name!r} is disabled; nothing was queued")
    hints = [[ENTITIES[entity], record_id, event]] if record_id else []
    sent = request_pull(engine, app, integration.id, hints=hints, full=not hints, webhook=True, now=now or utcnow())
    what = f"{entity} {record_id}" if record_id else "a poll of every transaction"
    return Receipt(True, f"queued: {what}" if sent else f"joined the queued pull: {what}")


__all__ = ["BODY", "EVENTS", "authorize", "books_webhook_path", "parse", "receive_books_webhook"]
