"""Accounts (OAuth) emulator: grants, expiry on the sandbox clock, revocation, Zoho's token caps, and the
401 envelope each API answers for a bad token."""

from __future__ import annotations

import re

import requests

from sandbox import limits
from tests.sandbox_fixtures import (
    MINIMAL_ADMIN_REFRESH,
    MINIMAL_ADMIN_ZUID,
    MINIMAL_CLIENT_ID,
    MINIMAL_CLIENT_SECRET,
    MINIMAL_MEMBER_REFRESH,
    MINIMAL_MEMBER_ZUID,
    access_token,
)

TOKEN_SHAPE = re.compile(r"^1000\.[0-9a-f]{32}\.[0-9a-f]{32}$")
PROJECTS_401 = {"error": {"code": 6401, "message": "Invalid OAuth access token."}}
BOOKS_401 = {"code": 57, "message": "You are not authorized to perform this operation"}


def _grant(base: str, **params: str) -> requests.Response:
    return requests.post(f"{base}/oauth/v2/token", params=params, timeout=5)


def _refresh(base: str, refresh_token: str = MINIMAL_ADMIN_REFRESH, **over: str) -> requests.Response:
    params = {
        "grant_type": "refresh_token",
        "client_id": MINIMAL_CLIENT_ID,
        "client_secret": MINIMAL_CLIENT_SECRET,
        "refresh_token": refresh_token,
    }
    return _grant(base, **(params | over))


def test_refresh_grant_returns_zoho_token_body_from_query_or_form(platform):
    client = platform(token_ttl_seconds=120)
    by_query = _refresh(client.base)
    by_form = requests.post(
        f"{client.base}/oauth/v2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": MINIMAL_CLIENT_ID,
            "client_secret": MINIMAL_CLIENT_SECRET,
            "refresh_token": MINIMAL_ADMIN_REFRESH,
        },
        timeout=5,
    )
    for response in (by_query, by_form):
        body = response.json()
        assert response.status_code == 200
        assert set(body) == {"access_token", "api_domain", "token_type", "expires_in"}
        assert TOKEN_SHAPE.match(body["access_token"])
        assert body["api_domain"] == client.base
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 120
    assert by_query.json()["access_token"] != by_form.json()["access_token"]


def test_access_token_identifies_the_person_on_both_apis(platform):
    client = platform()
    assert client.projects().json()["zuid"] == MINIMAL_ADMIN_ZUID
    assert client.books().json()["zuid"] == MINIMAL_ADMIN_ZUID
    token = access_token(client.base, MINIMAL_MEMBER_REFRESH)
    answer = requests.get(
        client.base + "/restapi/portals/", headers={"Authorization": f"Zoho-oauthtoken {token}"}, timeout=5
    )
    assert answer.json()["zuid"] == MINIMAL_MEMBER_ZUID


def test_token_expires_on_the_sandbox_clock_with_each_apis_401_envelope(platform):
    client = platform(token_ttl_seconds=60)
    client.clock.advance(59)
    assert client.projects().status_code == 200
    client.clock.advance(1)
    projects, books = client.projects(), client.books()
    assert (projects.status_code, projects.json()) == (401, PROJECTS_401)
    assert (books.status_code, books.json()) == (401, BOOKS_401)
    # a refresh gives a working token again
    client.http.headers["Authorization"] = f"Zoho-oauthtoken {access_token(client.base)}"
    assert client.projects().status_code == 200


def test_missing_unknown_or_wrongly_prefixed_token_is_401(platform):
    client = platform()
    headers_cases = [
        {},
        {"Authorization": "Zoho-oauthtoken 1000.deadbeef.deadbeef"},
        {"Authorization": f"Bearer {client.token}"},  # Zoho documents only the Zoho-oauthtoken scheme
    ]
    for headers in headers_cases:
        projects = requests.get(client.base + "/restapi/portals/", headers=headers, timeout=5)
        books = requests.get(client.base + "/books/v3/organizations", headers=headers, timeout=5)
        assert (projects.status_code, projects.json()) == (401, PROJECTS_401)
        assert (books.status_code, books.json()) == (401, BOOKS_401)


def test_bad_grants_answer_zoho_error_bodies(platform):
    base = platform().base
    assert _refresh(base, refresh_token="1000.nope.nope").json() == {"error": "invalid_code"}
    assert _refresh(base, client_secret="wrong").json() == {"error": "invalid_client"}
    assert _refresh(base, client_id="1000.UNKNOWN").json() == {"error": "invalid_client"}
    assert _refresh(base, grant_type="password").json() == {"error": "unsupported_grant_type"}
    assert _refresh(base, refresh_token="1000.nope.nope").status_code == 200  # (inferred) Zoho answers 200


def test_revocation_kills_refresh_token_and_its_access_tokens_only(platform):
    client = platform()
    member_token = access_token(client.base, MINIMAL_MEMBER_REFRESH)
    revoked = requests.post(f"{client.base}/oauth/v2/token/revoke", params={"token": MINIMAL_ADMIN_REFRESH}, timeout=5)
    assert revoked.json() == {"status": "success"}
    assert client.projects().status_code == 401
    assert _refresh(client.base).json() == {"error": "invalid_code"}
    member = requests.get(
        client.base + "/restapi/portals/", headers={"Authorization": f"Zoho-oauthtoken {member_token}"}, timeout=5
    )
    assert member.status_code == 200


def test_authorization_code_grant_is_single_use_and_checks_redirect_uri(platform):
    client = platform()
    base, redirect = client.base, "https://bpsync.example/oauth/callback"

    def mint_code() -> str:
        answer = requests.post(
            f"{base}/_sandbox/act",
            json={"action": "grant_authorization_code", "zuid": MINIMAL_MEMBER_ZUID, "redirect_uri": redirect},
            timeout=5,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["code"]

    exchange = {"grant_type": "authorization_code", "client_id": MINIMAL_CLIENT_ID}
    exchange |= {"client_secret": MINIMAL_CLIENT_SECRET, "redirect_uri": redirect}
    code = mint_code()
    body = _grant(base, code=code, **exchange).json()
    assert TOKEN_SHAPE.match(body["refresh_token"]) and TOKEN_SHAPE.match(body["access_token"])
    assert _refresh(base, refresh_token=body["refresh_token"]).json()["access_token"]
    assert _grant(base, code=code, **exchange).json() == {"error": "invalid_code"}  # used

    wrong_redirect = exchange | {"redirect_uri": "https://elsewhere.example/cb"}
    assert _grant(base, code=mint_code(), **wrong_redirect).json() == {"error": "invalid_redirect_uri"}

    stale = mint_code()
    client.clock.advance(limits.AUTHORIZATION_CODE_TTL_S + 1)
    assert _grant(base, code=stale, **exchange).json() == {"error": "invalid_code"}


def test_access_tokens_per_refresh_token_are_capped_per_ten_minutes(platform):
    client = platform()  # minted 1 token already
    for _ in range(limits.ACCESS_TOKENS_PER_REFRESH_TOKEN - 1):
        assert "access_token" in _refresh(client.base).json()
    capped = _refresh(client.base)
    assert capped.status_code == 400
    assert capped.json()["error"] == "Access Denied"
    assert "access_token" in _refresh(client.base, refresh_token=MINIMAL_MEMBER_REFRESH).json()  # per token
    client.clock.advance(limits.ACCESS_TOKEN_WINDOW_S)
    assert "access_token" in _refresh(client.base).json()


def test_twenty_first_refresh_token_invalidates_the_oldest(platform):
    client = platform()
    redirect = "https://bpsync.example/cb"
    for _ in range(limits.REFRESH_TOKENS_PER_USER_CLIENT):
        code = requests.post(
            f"{client.base}/_sandbox/act",
            json={"action": "grant_authorization_code", "zuid": MINIMAL_ADMIN_ZUID, "redirect_uri": redirect},
            timeout=5,
        ).json()["code"]
        body = _grant(
            client.base,
            grant_type="authorization_code",
            client_id=MINIMAL_CLIENT_ID,
            client_secret=MINIMAL_CLIENT_SECRET,
            redirect_uri=redirect,
            code=code,
        ).json()
        assert "refresh_token" in body
    assert _refresh(client.base).json() == {"error": "invalid_code"}  # the seeded one was the oldest
    assert len(client.server.world.people[MINIMAL_ADMIN_ZUID].refresh_tokens) == limits.REFRESH_TOKENS_PER_USER_CLIENT
