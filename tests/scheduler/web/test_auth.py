"""Access needs the configured token everywhere except /healthz (and the sign-in form itself)."""

from __future__ import annotations

from starlette.testclient import TestClient

from scheduler.web.app import create_web_app
from shared.config import load_settings
from tests.ops_sync import WEB_TOKEN


def app_client(sqlite_url: str, token: str | None = WEB_TOKEN) -> TestClient:
    return TestClient(create_web_app(load_settings(database_url=sqlite_url, web_token=token)))


def test_missing_or_wrong_token_is_refused(sqlite_migrated_url):
    from shared.db import engine as dbe

    dbe.upgrade(sqlite_migrated_url)
    client = app_client(sqlite_migrated_url)
    assert client.get("/healthz").json() == {"ok": True}
    for path in ("/api/integrations", "/integrations", "/metrics"):
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401, path
        assert client.get(path, headers={"Authorization": f"Bearer {WEB_TOKEN}"}).status_code == 200, path
    assert client.get("/api/integrations").json() == {"error": "missing or wrong token"}
    assert client.post("/api/integrations/1/refresh").status_code == 401  # actions too, not just reads

    page = client.get("/integrations", headers={"Accept": "text/html"})
    assert page.status_code == 401 and 'name="token"' in page.text  # a browser gets the sign-in form


def test_signing_in_sets_a_strict_cookie_and_refuses_a_wrong_token(sqlite_migrated_url):
    from shared.db import engine as dbe

    dbe.upgrade(sqlite_migrated_url)
    client = app_client(sqlite_migrated_url)
    wrong = client.post("/login", data={"token": "nope", "next": "/integrations"}, follow_redirects=False)
    assert wrong.status_code == 401 and "missing or wrong token" in wrong.text

    ok = client.post("/login", data={"token": WEB_TOKEN, "next": "https://evil.example/"}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/integrations"  # no open redirect
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert client.get("/api/integrations").status_code == 200  # the cookie now carries the token


def test_without_a_configured_token_everything_but_healthz_is_refused(sqlite_url):
    client = app_client(sqlite_url, token=None)
    assert client.get("/healthz").status_code == 200
    response = client.get("/api/integrations", headers={"Authorization": "Bearer anything"})
    assert response.status_code == 503 and "BPSYNC_WEB_TOKEN" in response.json()["error"]
