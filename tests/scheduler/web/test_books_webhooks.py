"""The Zoho Books webhook receiver: what it accepts, what it refuses and why (Starlette TestClient, SQLite).

That an accepted call brings the transaction into the product within seconds is tested end to end in
tests/worker/test_finance_inbound.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from scheduler.books_webhooks import books_webhook_path
from scheduler.web.app import create_web_app
from scheduler.web.webhooks import MAX_BODY_BYTES
from scheduler.webhooks import webhook_token
from shared.db.integrations import update_integration
from shared.db.schema import integrations, transactions
from tests.ops_sync import World


@pytest.fixture
def hook(synced: World) -> Iterator[tuple[TestClient, str, World]]:
    """A client WITHOUT the web token (Zoho cannot send it) and the integration's Books webhook path."""
    token = webhook_token(synced.engine, synced.integration.id)
    with TestClient(create_web_app(synced.settings, celery=synced.app)) as client:
        yield client, books_webhook_path(synced.integration.id, token), synced


def _state(world: World) -> dict[str, Any]:
    with world.engine.connect() as conn:
        value = conn.execute(
            sa.select(integrations.c.finance_cursor).where(integrations.c.id == world.integration.id)
        ).scalar()
    return value or {}


def _body(world: World, event: str = "invoice.updated", **record: Any) -> dict[str, Any]:
    entity = event.split(".")[0]
    payload: dict[str, Any] = {"organization_id": world.integration.books_organization_id}
    payload[entity] = {f"{entity}_id": "460000000012345", **record}
    return {"event": event, "payload": payload}


def test_an_invoice_event_queues_one_pull_naming_the_invoice(hook):
    client, path, world = hook
    answer = client.post(path, json=_body(world))
    assert answer.status_code == 202, answer.text
    assert answer.json()["accepted"] is True
    state = _state(world)
    assert state["hints"] == [["invoice", "460000000012345", "invoice.updated"]]
    assert state["queued_at"] and state["webhook_at"]
    # a second call while the pull is queued joins it (coalesced: still one pending pull)
    again = client.post(path, json=_body(world, "estimate.created"))
    assert again.status_code == 202 and "joined" in again.json()["detail"]
    assert _state(world)["hints"][-1] == ["quote", "460000000012345", "estimate.created"]


def test_a_delete_names_the_record_by_id_and_zohos_entity_json_works_too(hook):
    client, path, world = hook
    org = world.integration.books_organization_id
    body = {"event": "expense.deleted", "payload": {"organization_id": org, "expense_id": "460000000000777"}}
    assert client.post(path, json=body).status_code == 202
    assert client.post(path, json={"recurring_invoice": {"recurring_invoice_id": "460000000000888"}}).status_code == 202
    hints = _state(world)["hints"]
    assert ["expense", "460000000000777", "expense.deleted"] in hints
    assert ["recurring_invoice", "460000000000888", "recurring_invoice.changed"] in hints


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
def test_a_missing_or_wrong_token_is_refused_and_nothing_is_stored(hook, token):
    client, path, world = hook
    base = path.split("?")[0]
    url = base if token is None else f"{base}?token={token}"
    answer = client.post(url, json=_body(world))
    assert answer.status_code == 401
    assert "webhook-url" in answer.json()["error"]
    assert _state(world) == {}
    with world.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(transactions)).scalar() == 0


def test_an_unknown_integration_gets_the_same_answer_as_a_wrong_token(hook):
    client, path, world = hook
    token = path.split("token=")[1]
    answer = client.post(books_webhook_path(world.integration.id + 999, token), json=_body(world))
    assert answer.status_code == 401


def test_the_token_is_checked_before_the_body_so_a_stranger_cannot_make_us_read_a_big_one(hook):
    client, path, world = hook
    huge = b"x" * (MAX_BODY_BYTES + 10)
    assert client.post(path.split("?")[0] + "?token=nope", content=huge).status_code == 401
    assert client.post(path, content=huge, headers={"content-type": "application/json"}).status_code == 413
    assert _state(world) == {}


def test_bad_bodies_and_another_organization_are_refused_with_what_to_fix(hook):
    client, path, world = hook
    assert client.post(path, content=b"{not json").status_code == 400
    assert client.post(path, json=["a list"]).status_code == 400
    assert client.post(path, json=_body(world, invoice_id="../../etc")).status_code == 400
    other = {"event": "invoice.created", "payload": {"organization_id": "999", "invoice": {"invoice_id": "1"}}}
    answer = client.post(path, json=other)
    assert answer.status_code == 400 and "organization" in answer.json()["error"]
    assert _state(world) == {}


def test_other_books_events_start_no_work_and_a_disabled_integration_queues_nothing(hook):
    client, path, world = hook
    contact = {"event": "contact.updated", "payload": {"contact": {"contact_id": "1"}}}
    answer = client.post(path, json=contact)
    assert answer.status_code == 202 and answer.json()["accepted"] is False
    update_integration(world.engine, world.integration.id, state="disabled")
    answer = client.post(path, json=_body(world))
    assert answer.status_code == 202 and answer.json()["accepted"] is False
    assert _state(world) == {}
