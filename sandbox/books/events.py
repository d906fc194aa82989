"""Books webhook events: what the sandbox's hub delivers when a Books transaction changes (API routes and acts).

Zoho Books sends webhooks from workflow rules (Settings > Automation): a rule per module fires on "Created",
"Edited" or "Created or Edited", and the webhook POSTs JSON to the configured URL. The exact event names and body
are the admin's to configure, so the sandbox picks one shape, and these choices are all (inferred):

- event names ``<entity>.<action>`` with entity ``invoice``, ``estimate``, ``expense``, ``recurring_invoice`` and
  action ``created``, ``updated``, ``voided`` (invoices marked void), ``deleted`` (inferred);
- payload ``{"organization_id": ..., "<entity>": <the record as GET returns it>}``, and for deletes
  ``{"organization_id": ..., "<entity>_id": ...}`` (inferred; a deleted record has nothing left to render);
- acts (what a person does in the Books UI) emit the same events as the API routes (inferred: Books' workflow
  rules fire for UI and API changes alike).

The hub wraps each as ``{"event", "payload", "delivered_at"}`` (sandbox/webhooks.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandbox.world import World

Emit = Callable[[str, dict[str, Any]], None]


def record_event(emit: Emit, world: World, org_id: str, entity: str, action: str, record: Any) -> None:
    """Emit ``<entity>.<action>`` with the record rendered as Books' GET shows it."""
    from sandbox.books import estimates, expenses, invoices, recurring

    render = {
        "invoice": invoices.render,
        "estimate": estimates.render,
        "expense": expenses.render,
        "recurring_invoice": recurring.render,
    }[entity]
    emit(f"{entity}.{action}", {"organization_id": org_id, entity: render(world, record)})


def deleted_event(emit: Emit, org_id: str, entity: str, record_id: str) -> None:
    emit(f"{entity}.deleted", {"organization_id": org_id, f"{entity}_id": record_id})
