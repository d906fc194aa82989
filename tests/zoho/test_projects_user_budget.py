"""Issue 13 item 9: Zoho counts Projects calls per *user*, so the limiter key is the user, not the refresh token.

Two integrations one admin connected (each with a refresh token of its own) share one Projects budget; the
user is Projects' ``login_id`` (``GET /portals/``), recorded with the credentials at connect and
update-credentials.
"""

from __future__ import annotations

import dataclasses

import pytest

from sandbox.accounts import mint_refresh_token
from sandbox.generator import credentials
from sandbox.server import SandboxServer
from scheduler.connect import connect
from scheduler.lifecycle import update_credentials
from shared.config import load_settings
from shared.db.engine import make_engine, upgrade
from shared.db.integrations import credentials_of
from shared.zoho import RateLimited, ZohoCredentials, build_projects_client
from tests.sandbox_fixtures import (
    MINIMAL_ADMIN_REFRESH,
    MINIMAL_ADMIN_ZUID,
    MINIMAL_CLIENT_ID,
    MINIMAL_CLIENT_SECRET,
    minimal_world,
)
from tests.zoho.conftest import settings_for


def test_portals_name_the_user_behind_the_token(sandbox: SandboxServer) -> None:
    c = credentials(sandbox.world)
    client = build_projects_client(
        settings_for(sandbox, rate_limits_enabled=False),
        ZohoCredentials(c["client_id"], c["client_secret"], c["admin"]["refresh_token"]),
        "",
    )
    assert {p.login_id for p in client.list_portals()} == {c["admin"]["zuid"]}


def test_two_integrations_of_one_admin_share_one_projects_budget(sandbox: SandboxServer) -> None:
    c = credentials(sandbox.world)
    admin = c["admin"]
    second_token = mint_refresh_token(sandbox.world, admin["zuid"])  # the admin connected a second integration
    settings = settings_for(sandbox, projects_requests_per_window=3, max_inline_wait_seconds=0)
    first = ZohoCredentials(c["client_id"], c["client_secret"], admin["refresh_token"], user_id=admin["zuid"])
    one = build_projects_client(settings, first, c["portal_id"])
    other = build_projects_client(settings, dataclasses.replace(first, refresh_token=second_token), c["portal_id"])
    project_id = next(iter(sandbox.world.projects))
    for _ in range(3):
        one.get_project(project_id)
    with pytest.raises(RateLimited) as err:
        other.get_project(project_id)  # the same user's budget is spent, whichever token asks
    assert "Zoho Projects user" in err.value.message


def test_calls_made_before_the_user_was_known_are_charged_to_the_user(sandbox: SandboxServer) -> None:
    """Connecting learns the user from its first answer; a sync starting right after must count those calls too,
    or it overruns Zoho's window by them (the demo's first sync hit a Projects 429: a 30-minute lockout)."""
    c = credentials(sandbox.world)
    admin = c["admin"]
    settings = settings_for(sandbox, projects_requests_per_window=3, max_inline_wait_seconds=0)
    connecting = build_projects_client(
        settings, ZohoCredentials(c["client_id"], c["client_secret"], admin["refresh_token"]), c["portal_id"]
    )
    project_id = next(iter(sandbox.world.projects))
    connecting.get_project(project_id)  # before the user is known
    connecting.list_portals()  # learns the user: both calls now count as theirs
    syncing = build_projects_client(
        settings,
        ZohoCredentials(c["client_id"], c["client_secret"], admin["refresh_token"], user_id=admin["zuid"]),
        c["portal_id"],
    )
    syncing.get_project(project_id)
    with pytest.raises(RateLimited):
        syncing.get_project(project_id)


def test_an_unknown_user_falls_back_to_a_budget_per_token(sandbox: SandboxServer) -> None:
    c = credentials(sandbox.world)
    settings = settings_for(sandbox, projects_requests_per_window=1, max_inline_wait_seconds=0)
    tokens = [c["admin"]["refresh_token"], mint_refresh_token(sandbox.world, c["admin"]["zuid"])]
    clients = [
        build_projects_client(settings, ZohoCredentials(c["client_id"], c["client_secret"], t), c["portal_id"])
        for t in tokens
    ]
    project_id = next(iter(sandbox.world.projects))
    for client in clients:  # credentials stored before the user was recorded keep the old, per-token key
        client.get_project(project_id)


@pytest.fixture
def db(sqlite_migrated_url):
    upgrade(sqlite_migrated_url)
    return make_engine(sqlite_migrated_url)


def test_connect_and_update_credentials_record_the_user(db, sqlite_migrated_url, sandbox_factory) -> None:
    server = sandbox_factory(world=minimal_world())
    settings = load_settings(
        database_url=sqlite_migrated_url,
        secret_key="kRSjdTuoQ36b6JeNS1EPK5sIt9Ew3qwDvhCEtvCtUGs=",
        projects_api_url=server.base_url,
        books_api_url=f"{server.base_url}/books/v3",
        accounts_url=server.base_url,
        rate_limits_enabled=False,
    )
    integration = connect(
        db,
        settings,
        name="zylker",
        client_id=MINIMAL_CLIENT_ID,
        client_secret=MINIMAL_CLIENT_SECRET,
        refresh_token=MINIMAL_ADMIN_REFRESH,
    )
    assert credentials_of(settings, integration).user_id == MINIMAL_ADMIN_ZUID
    second_token = mint_refresh_token(server.world, MINIMAL_ADMIN_ZUID)
    creds = ZohoCredentials(MINIMAL_CLIENT_ID, MINIMAL_CLIENT_SECRET, second_token)
    changed = update_credentials(db, settings, integration.id, creds).integration
    stored = credentials_of(settings, changed)
    assert (stored.refresh_token, stored.user_id) == (second_token, MINIMAL_ADMIN_ZUID)
