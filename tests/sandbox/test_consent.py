"""The accounts emulator's authorization endpoint: the consent page, who consents, and the redirect back."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import requests

from tests.sandbox_fixtures import (
    MINIMAL_ADMIN_ZUID,
    MINIMAL_CLIENT_ID,
    MINIMAL_CLIENT_SECRET,
    MINIMAL_MEMBER_ZUID,
    minimal_world,
)

REDIRECT = "https://bpsync.example/connect/callback"
AUTHORIZE = {
    "scope": "ZohoProjects.portals.READ,ZohoBooks.settings.ALL",
    "client_id": MINIMAL_CLIENT_ID,
    "response_type": "code",
    "redirect_uri": REDIRECT,
    "access_type": "offline",
    "state": "opaque-state",
}


def _decide(base: str, page: str, decision: str) -> dict[str, str]:
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', page)) | {"decision": decision}
    answer = requests.post(f"{base}/oauth/v2/auth/approve", data=fields, allow_redirects=False, timeout=5)
    assert answer.status_code == 302 and answer.headers["location"].startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}


def test_the_consent_page_approves_the_admin_and_redirects_with_a_code_for_that_redirect(sandbox_factory):
    server = sandbox_factory(world=minimal_world())
    page = requests.get(f"{server.base_url}/oauth/v2/auth", params=AUTHORIZE, timeout=5)
    assert page.status_code == 200 and "Ada Admin" in page.text and "ZohoBooks.settings.ALL" in page.text
    assert "getElementById('accept').click()" in page.text  # approves itself, as the admin clicking Accept
    back = _decide(server.base_url, page.text, "accept")
    assert back["state"] == "opaque-state" and back["location"] == "us"
    grant = {"grant_type": "authorization_code", "client_id": MINIMAL_CLIENT_ID, "code": back["code"]}
    grant |= {"client_secret": MINIMAL_CLIENT_SECRET, "redirect_uri": REDIRECT}
    body = requests.post(f"{server.base_url}/oauth/v2/token", data=grant, timeout=5).json()
    assert body["refresh_token"] in server.world.people[MINIMAL_ADMIN_ZUID].refresh_tokens


def test_rejecting_answers_access_denied_and_another_person_can_be_the_one_who_consents(sandbox_factory):
    server = sandbox_factory(world=minimal_world())
    server.app.state.config.consent_zuid = MINIMAL_MEMBER_ZUID
    page = requests.get(f"{server.base_url}/oauth/v2/auth", params=AUTHORIZE, timeout=5)
    assert "Emil Employee" in page.text
    assert _decide(server.base_url, page.text, "reject") == {"error": "access_denied", "state": "opaque-state"}
    code = _decide(server.base_url, page.text, "accept")["code"]
    assert server.world.authorization_codes[code].zuid == MINIMAL_MEMBER_ZUID


def test_an_unknown_client_or_a_bad_request_is_an_error_page_not_a_redirect(sandbox_factory):
    server = sandbox_factory(world=minimal_world())
    for bad in ({"client_id": "1000.NOPE"}, {"response_type": "token"}, {"redirect_uri": "nowhere"}, {"scope": ""}):
        page = requests.get(f"{server.base_url}/oauth/v2/auth", params=AUTHORIZE | bad, timeout=5)
        assert page.status_code == 400 and "Invalid request" in page.text, bad
