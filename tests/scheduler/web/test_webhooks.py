"""The Zoho Projects webhook receiver: what it accepts, what it refuses and why (Starlette TestClient, SQLite).

That an accepted call brings a log to Books within seconds is tested end to end in
tests/worker/test_timesheets_webhooks.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from scheduler.web.app import create_web_app
from scheduler.webhooks import webhook_token
from shared.db import links
from shared.db.integrations import update_integration
from shared.db.schema import sync_runs, webhook_events
from tests.ops_sync import World


@pytest.fixture
def hook(synced: World) -> Iterator[tuple[TestClient, str, World]]:
    """A client WITHOUT the web token (Zoho cannot send it) and the integration's webhook path."""
    token = webhook_token(synced.engine, synced.integration.id)
    with TestClient(create_web_app(synced.settings, celery=synced.app)) as client:
        yield client, f"/webhooks/projects/{synced.integration.id}?token={token}", synced


def _body(world: World, project_id: str, event: str = "timelog.created", **extra: str) -> dict[str, object]:
    payload = {"portal_id": world.integration.projects_portal_id, "project_id": project_id, **extra}
    return {"event": event, "payload": payload}


def _synced_project(world: World) -> str:
    with world.engine.connect() as conn:
        return next(p for p, link in links.links_of(conn, world.integration.id, "project").items() if link.books_id)


def _events(world: World) -> list[sa.Row]:
    with world.engine.connect() as conn:
        return conn.execute(sa.select(webhook_events)).all()


def test_a_timelog_event_of_a_synced_project_is_stored_and_starts_a_webhook_run(hook):
    client, path, world = hook
    project_id = _synced_project(world)
    answer = client.post(path, json=_body(world, project_id, log_id="170876000000999001"))
    assert answer.status_code == 202, answer.text
    receipt = answer.json()
    assert receipt["accepted"] is True and receipt["run_id"]
    [event] = _events(world)
    assert (event.event, event.project_id, event.log_id, event.handled_at) == (
        "timelog.created",
        project_id,
        "170876000000999001",
        None,
    )
    with world.engine.connect() as conn:
        run = conn.execute(sa.select(sync_runs).where(sync_runs.c.id == receipt["run_id"])).one()
    assert (run.trigger, run.modules) == ("webhook", ["timesheets"])


def test_the_token_is_checked_and_rotation_retires_the_old_url(hook):
    client, path, world = hook
    body = _body(world, _synced_project(world))
    assert client.post(path.replace("token=", "token=x"), json=body).status_code == 401
    assert client.post(path.split("?")[0], json=body).status_code == 401
    assert client.post(path.replace(f"/{world.integration.id}?", "/999?"), json=body).status_code == 401
    new = webhook_token(world.engine, world.integration.id, rotate=True)
    assert client.post(path, json=body).status_code == 401
    assert client.post(f"/webhooks/projects/{world.integration.id}?token={new}", json=body).status_code == 202
    assert "wrong token" in client.post(path, json=body).json()["error"]


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"payload": {}}', '"event"'),
        (b'{"event": "timelog.created"}', '"payload"'),
        (b'{"event": "timelog.created", "payload": {"project_id": "1"}}', "portal_id is missing"),
        (b'{"event": "timelog.created", "payload": {"portal_id": "1; drop", "project_id": "1"}}', "Zoho id"),
    ],
)
def test_a_malformed_body_is_a_400_naming_what_is_wrong_and_nothing_is_stored(hook, body, complaint):
    client, path, world = hook
    answer = client.post(path, content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and complaint in answer.json()["error"]
    assert _events(world) == []


def test_a_call_for_another_portal_is_refused_and_one_too_big_is_a_413(hook):
    client, path, world = hook
    body = _body(world, _synced_project(world))
    body["payload"]["portal_id"] = "170876000000000999"
    answer = client.post(path, json=body)
    assert answer.status_code == 400 and world.integration.projects_portal_id in answer.json()["error"]
    huge = client.post(path, content=b"{" + b" " * 70_000 + b"}", headers={"Content-Type": "application/json"})
    assert huge.status_code == 413
    assert _events(world) == []


def test_calls_that_start_no_work_say_why(hook):
    client, path, world = hook
    project_id = _synced_project(world)
    other = client.post(path, json=_body(world, project_id, event="task.updated")).json()
    assert other["accepted"] is False and "only timelog" in other["detail"]
    unsynced = client.post(path, json=_body(world, "170876000000888888")).json()
    assert unsynced["accepted"] is False and "not in Zoho Books yet" in unsynced["detail"]
    update_integration(world.engine, world.integration.id, state="disabled")
    disabled = client.post(path, json=_body(world, project_id)).json()
    assert disabled["accepted"] is False and "disabled" in disabled["detail"]
    assert _events(world) == []


def test_a_log_date_is_stored_as_a_date_and_a_bad_one_or_a_bad_component_is_a_400(hook):
    client, path, world = hook
    project_id = _synced_project(world)
    zoho = client.post(path, json=_body(world, project_id, log_date="03-15-2026", component_type="Task"))
    iso = client.post(path, json=_body(world, project_id, log_date="2026-03-16"))
    assert (zoho.status_code, iso.status_code) == (202, 202)
    assert [(e.payload["log_date"], e.payload["component_type"]) for e in _events(world)] == [
        ("2026-03-15", "task"),
        ("2026-03-16", None),
    ]
    bad_date = client.post(path, json=_body(world, project_id, log_date="15/03/2026"))
    assert bad_date.status_code == 400 and "payload.log_date" in bad_date.json()["error"]
    assert "MM-DD-YYYY" in bad_date.json()["error"]
    bad_component = client.post(path, json=_body(world, project_id, component_type="milestone"))
    assert bad_component.status_code == 400 and "task, bug, general" in bad_component.json()["error"]
    assert len(_events(world)) == 2
