"""Issue 15: hostile or broken requests get a clear 4xx, never a 500 or an unbounded read; readiness tells the truth."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from scheduler.web.app import create_web_app
from shared.config import load_settings
from shared.crypto import token_digest
from shared.db import engine as dbe
from shared.db.integrations import update_integration
from tests.ops_sync import WEB_TOKEN

AUTH = {"Authorization": f"Bearer {WEB_TOKEN}"}


def _client(url: str, **settings: object) -> TestClient:
    dbe.upgrade(url)
    return TestClient(create_web_app(load_settings(database_url=url, web_token=WEB_TOKEN, **settings)))


@pytest.fixture
def client(pg_url) -> TestClient:
    return _client(pg_url)  # Postgres: its 32-bit ids are what "too large" means


def test_ids_too_large_for_the_database_are_not_found(client):
    huge = "99999999999999999999999"
    assert client.get(f"/api/errors/{huge}", headers=AUTH).status_code == 404
    assert client.get(f"/api/integrations/{huge}", headers=AUTH).status_code == 404
    assert client.get(f"/api/integrations/{huge}/history", headers=AUTH).status_code == 404
    # the webhook receivers answer "unknown integration or wrong token" for any id, so ids can't be probed
    for api in ("projects", "books"):
        response = client.post(f"/webhooks/{api}/99999999999999999999?token=x", json={"event": "x"})
        assert response.status_code == 401, (api, response.text)


def _stream(size: int, chunk: int = 64 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < size:
        yield b" " * chunk
        sent += chunk


def test_a_huge_body_is_refused_before_it_is_read(client):
    eight_hundred_mb = str(800 * 1024 * 1024)
    # a wrong token is refused before the body: nothing is read at all
    wrong = client.post("/webhooks/projects/1?token=wrong", content=b"{}", headers={"Content-Length": eight_hundred_mb})
    assert wrong.status_code in (401, 413)
    api = client.post(
        "/api/integrations/1/preferences", content=b"{}", headers={**AUTH, "Content-Length": eight_hundred_mb}
    )
    assert api.status_code == 413
    # no Content-Length (chunked): counted while it streams, refused once over the cap
    streamed = client.post("/api/integrations/1/preferences", content=_stream(3 * 1024 * 1024), headers=AUTH)
    assert streamed.status_code == 413


def test_an_oversized_webhook_with_the_right_token_is_413_and_stores_nothing(sandbox, pg_url):
    from shared.db.schema import webhook_events
    from tests.ops_sync import connect

    world = connect(sandbox, pg_url)
    update_integration(world.engine, world.integration.id, webhook_token_sha256=token_digest("t" * 32))
    client = TestClient(create_web_app(world.settings))
    body = b'{"event": "timelog.added", "payload": "' + b"a" * (70 * 1024) + b'"}'
    response = client.post(f"/webhooks/projects/{world.integration.id}?token={'t' * 32}", content=body)
    assert response.status_code == 413
    with world.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(webhook_events)).scalar() == 0


def test_readiness_names_what_is_down_and_liveness_stays_up(pg_url):
    down = _client(pg_url, broker_url="redis://127.0.0.1:1/0", redis_url="redis://127.0.0.1:1/1")
    assert down.get("/healthz").status_code == 200
    answer = down.get("/readyz")
    assert answer.status_code == 503
    assert set(answer.json()["down"]) == {"broker", "redis"}  # the database is fine
    up = _client(pg_url)
    assert up.get("/readyz").json() == {"ready": True, "checked": ["database", "broker", "redis"]}
