"""The web's Connect flow over HTTP against the sandbox's accounts server (its consent page answered without a
browser here; tests/scheduler/web/test_browser.py drives it in Chromium): state checks, the chooser, the form."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import sqlalchemy as sa
from starlette.testclient import TestClient

from sandbox.generator import credentials
from scheduler.web.app import create_web_app
from scheduler.web.connect import SIGN_IN_COOKIE, STATE_COOKIE
from shared.db.integrations import credentials_of, get_integration
from shared.db.schema import integrations
from tests.ops_sync import WEB_TOKEN, World, connect

AUTH = {"Authorization": f"Bearer {WEB_TOKEN}"}


def oauth_settings(sandbox, public_url: str) -> dict[str, str]:
    creds = credentials(sandbox.world)
    return {
        "oauth_client_id": creds["client_id"],
        "oauth_client_secret": creds["client_secret"],
        "oauth_redirect_uri": f"{public_url}/connect/callback",
    }


@pytest.fixture
def world(sandbox_factory, sqlite_migrated_url) -> World:
    """'acme' connected on the admin's first organization; the web app may connect the second."""
    sandbox = sandbox_factory(size="tiny")
    return connect(sandbox, sqlite_migrated_url, **oauth_settings(sandbox, "http://testserver"))


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_web_app(world.settings, celery=world.app), headers=AUTH) as test_client:
        yield test_client


def start(client: TestClient) -> str:
    """POST /connect/start; returns Zoho's authorization URL it redirects to."""
    answer = client.post("/connect/start", follow_redirects=False)
    assert answer.status_code == 303 and client.cookies.get(STATE_COOKIE)
    return answer.headers["location"]


def consent(authorization_url: str) -> dict[str, str]:
    """What the admin's Accept on Zoho's consent page sends back: the callback's query."""
    page = requests.get(authorization_url, timeout=10)
    assert page.status_code == 200 and "Accept" in page.text
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', page.text))
    answer = requests.post(
        authorization_url.split("?")[0] + "/approve",
        data=fields | {"decision": "accept"},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}


def exchanged(world: World, code: str) -> dict[str, str]:
    form = {
        "grant_type": "authorization_code",
        "client_id": world.settings.oauth_client_id,
        "client_secret": world.settings.oauth_client_secret,
        "redirect_uri": world.settings.oauth_redirect_uri,
        "code": code,
    }
    return requests.post(f"{world.sandbox.base_url}/oauth/v2/token", data=form, timeout=10).json()


def stored_names(world: World) -> list[str]:
    with world.engine.connect() as conn:
        return [r.name for r in conn.execute(sa.select(integrations.c.name).order_by(integrations.c.id))]


def test_the_authorization_url_asks_zoho_for_an_offline_code_with_a_sealed_state(world, client):
    url = urlsplit(start(client))
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{world.sandbox.base_url}/oauth/v2/auth"
    assert query["response_type"] == "code" and query["access_type"] == "offline"
    assert query["client_id"] == world.settings.oauth_client_id
    assert query["redirect_uri"] == "http://testserver/connect/callback"
    assert "ZohoProjects.portals.READ" in query["scope"] and "ZohoBooks.invoices.ALL" in query["scope"]
    assert client.cookies.get(STATE_COOKIE) not in query["state"]  # the nonce is sealed, not shown


def test_connect_through_the_chooser_creates_the_integration_as_cli_connect_does(world, client):
    answer = consent(start(client))
    back = client.get("/connect/callback", params=answer)
    assert back.status_code == 200 and "/connect/choose" in back.text
    assert answer["code"] not in back.text and not client.cookies.get(STATE_COOKIE)
    sealed = client.cookies.get(SIGN_IN_COOKIE)
    admin = world.sandbox.world.people[credentials(world.sandbox.world)["admin"]["zuid"]]
    assert sealed and not any(token in sealed for token in admin.refresh_tokens)

    page = client.get("/connect/choose")
    assert page.status_code == 200
    text = page.text
    second_org = credentials(world.sandbox.world)["organization_ids"][1]
    assert re.search(r'class="choice unavailable" data-portal="170876000000000010"', text)  # partnerstudio
    assert "you are &#39;employee&#39; here; only the portal&#39;s owner or an admin can connect it" in text
    assert "already connected as integration &#39;acme&#39;" in text
    assert f'value="{second_org}" checked' in text  # the only organization that can be chosen
    assert not any(token in text for token in admin.refresh_tokens)

    done = client.post(
        "/connect/finish",
        data={
            "portal_id": "170876000000000001",
            "organization_id": second_org,
            "name": "europe",
            "contact_duplication": "clone",
            "cutoff_date": "2024-01-31",
            "general_timesheets": "on",
            "sync_interval_hours": "12",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    made = get_integration(world.engine, "europe")
    assert done.headers["location"] == f"/integrations/{made.id}?connected=1"
    assert (made.books_organization_id, made.projects_portal_id) == (second_org, "170876000000000001")
    assert made.contact_duplication == "clone" and made.general_timesheets
    assert str(made.timesheet_cutoff_date) == "2024-01-31" and made.sync_interval_seconds == 12 * 3600
    stored = credentials_of(world.settings, made)
    assert stored.refresh_token in admin.refresh_tokens and stored.user_id == admin.zuid
    assert stored.client_id == world.settings.oauth_client_id
    assert "Connected. The first sync is due now" in client.get(done.headers["location"]).text
    assert client.get("/connect/choose").status_code == 400  # the sign-in is spent


def test_a_refused_choice_shows_the_reason_on_the_form_and_stores_nothing(world, client):
    client.get("/connect/callback", params=consent(start(client)))
    first_org = credentials(world.sandbox.world)["organization_id"]
    form = {"portal_id": "170876000000000010", "organization_id": first_org, "name": "x"}
    refused = client.post("/connect/finish", data=form)
    assert refused.status_code == 400 and "this user is &#39;employee&#39; in portal" in refused.text
    assert 'value="x"' in refused.text  # what was typed stays
    taken = client.post("/connect/finish", data=form | {"portal_id": "170876000000000001"})
    assert taken.status_code == 400 and f"organization {first_org} is already connected" in taken.text
    bad_date = client.post("/connect/finish", data=form | {"cutoff_date": "31.01.2024"})
    assert bad_date.status_code == 400 and "the cutoff date must be a date (YYYY-MM-DD)" in bad_date.text
    assert stored_names(world) == ["acme"]


def test_zoho_failing_at_the_connect_says_to_press_connect_again_not_to_run_a_command(world, client):
    client.get("/connect/callback", params=consent(start(client)))
    second_org = credentials(world.sandbox.world)["organization_ids"][1]
    # every try of the connect's own organizations call fails; the chooser shown again with the error lists them
    tries = world.settings.http_retry_attempts
    fault = {"api": "books", "kind": "error5xx", "status": 503, "path": "/books/v3/organizations", "count": tries}
    assert requests.post(f"{world.sandbox.base_url}/_sandbox/faults", json=fault, timeout=10).status_code == 201
    form = {"portal_id": "170876000000000001", "organization_id": second_org, "name": "europe"}
    failed = client.post("/connect/finish", data=form)
    assert failed.status_code == 400 and 'value="europe"' in failed.text  # the form again, as typed
    assert "nothing was stored" in failed.text and "press Connect on this page again in a minute" in failed.text
    assert "run the same command" not in failed.text
    assert stored_names(world) == ["acme"]
    # the sign-in is not spent: pressing Connect again, now that Zoho answers, connects
    again = client.post("/connect/finish", data=form, follow_redirects=False)
    assert again.status_code == 303 and stored_names(world) == ["acme", "europe"]


@pytest.mark.parametrize("tamper", ["altered", "other browser", "replayed", "expired", "missing"])
def test_a_wrong_or_expired_state_is_refused_and_the_code_is_not_spent(world, client, monkeypatch, tamper):
    answer = consent(start(client))
    nonce = client.cookies.get(STATE_COOKIE)
    if tamper == "altered":
        answer["state"] = answer["state"][:-6] + ("AAAAAA" if not answer["state"].endswith("AAAAAA") else "BBBBBB")
    elif tamper == "other browser":
        client.cookies.delete(STATE_COOKIE)
        client.cookies.set(STATE_COOKIE, "someone-elses-nonce", path="/connect")
    elif tamper == "replayed":
        assert client.get("/connect/callback", params=answer).status_code == 200
        client.cookies.delete(SIGN_IN_COOKIE)
        answer = consent(start(client)) | {"state": answer["state"]}  # a fresh code, the spent state
    elif tamper == "expired":
        later = time.time() + 11 * 60
        monkeypatch.setattr("cryptography.fernet.time.time", lambda: later)
    else:
        del answer["state"]
    refused = client.get("/connect/callback", params=answer)
    assert refused.status_code == 400
    assert "was refused and nothing was connected: start Connect again" in refused.text
    assert not client.cookies.get(SIGN_IN_COOKIE) and nonce
    if tamper != "other browser":  # (the test client keeps a cookie set by hand beside the deleted one)
        assert not client.cookies.get(STATE_COOKIE)  # this Connect is over: start again
    assert client.get("/connect/choose").status_code == 400
    assert "refresh_token" in exchanged(world, answer["code"])  # refused before the code was spent


def test_the_callback_needs_no_web_token_but_every_other_step_does(world):
    with TestClient(create_web_app(world.settings, celery=world.app)) as anonymous:
        for method, path in (("GET", "/connect"), ("POST", "/connect/start"), ("GET", "/connect/choose")):
            assert anonymous.request(method, path, follow_redirects=False).status_code == 401
        assert anonymous.post("/connect/finish", data={"name": "x"}).status_code == 401
        refused = anonymous.get("/connect/callback", params={"code": "1000.x.y", "state": "forged"})
        assert refused.status_code == 400 and "no valid sign-in state" in refused.text


def test_zoho_refusing_access_or_an_unconfigured_client_says_so(world, client, sqlite_migrated_url):
    start(client)
    denied = client.get("/connect/callback", params={"error": "access_denied", "state": _state_of(client)})
    assert denied.status_code == 400 and "Zoho did not grant access (access_denied)" in denied.text
    world.settings.oauth_client_secret = None  # the app reads its settings object on every request
    page = client.get("/connect")
    assert "BPSYNC_OAUTH_CLIENT_SECRET" in page.text and "--grant-code" in page.text
    assert client.post("/connect/start", follow_redirects=False).status_code == 409


def _state_of(client: TestClient) -> str:
    location = client.post("/connect/start", follow_redirects=False).headers["location"]
    return parse_qs(urlsplit(location).query)["state"][0]
