"""connect(): both credentials checked against the sandbox over real HTTP before anything is stored."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from sandbox.generator import credentials
from scheduler.connect import ConnectError, connect
from shared.config import load_settings
from shared.db.engine import make_engine, upgrade
from shared.db.schema import integrations
from shared.zoho.factory import reset_embedded_state
from tests.sandbox_fixtures import (
    MINIMAL_ADMIN_REFRESH,
    MINIMAL_CLIENT_ID,
    MINIMAL_CLIENT_SECRET,
    MINIMAL_MEMBER_REFRESH,
    MINIMAL_MEMBER_ZUID,
    MINIMAL_ORG_ID,
    MINIMAL_PORTAL_ID,
    minimal_world,
)


@pytest.fixture
def db(sqlite_migrated_url):
    reset_embedded_state()  # generated worlds reuse refresh tokens: no access token from another test
    upgrade(sqlite_migrated_url)
    return make_engine(sqlite_migrated_url)


def settings_for(url, server):
    return load_settings(
        database_url=url,
        secret_key="kRSjdTuoQ36b6JeNS1EPK5sIt9Ew3qwDvhCEtvCtUGs=",
        projects_api_url=server.base_url,
        books_api_url=f"{server.base_url}/books/v3",
        accounts_url=server.base_url,
        rate_limits_enabled=False,
    )


def stored(engine):
    with engine.connect() as conn:
        return conn.execute(sa.select(integrations)).all()


def minimal_connect(engine, settings, **kw):
    args = dict(
        name="zylker",
        client_id=MINIMAL_CLIENT_ID,
        client_secret=MINIMAL_CLIENT_SECRET,
        refresh_token=MINIMAL_ADMIN_REFRESH,
    )
    return connect(engine, settings, **(args | kw))


def test_admin_connects_portal_and_organization_picked_and_secrets_encrypted(db, sqlite_migrated_url, sandbox_factory):
    server = sandbox_factory(world=minimal_world())
    settings = settings_for(sqlite_migrated_url, server)
    integration = minimal_connect(
        db, settings, contact_duplication="clone", general_timesheets=True, sync_interval_hours=6
    )
    assert (integration.projects_portal_id, integration.books_organization_id) == (MINIMAL_PORTAL_ID, MINIMAL_ORG_ID)
    assert integration.contact_duplication == "clone" and integration.general_timesheets
    assert integration.sync_interval_seconds == 6 * 3600
    assert integration.next_run_at == integration.connected_at  # the first sync is due at once
    row = stored(db)[0]
    assert MINIMAL_CLIENT_SECRET not in row.credentials and MINIMAL_ADMIN_REFRESH not in row.credentials
    assert integration.credentials(settings)["refresh_token"] == MINIMAL_ADMIN_REFRESH


def test_several_organizations_need_a_choice_listing_them(db, sqlite_migrated_url, sandbox):
    creds = credentials(sandbox.world)
    settings = settings_for(sqlite_migrated_url, sandbox)
    with pytest.raises(ConnectError) as err:
        connect(
            db,
            settings,
            name="acme",
            client_id=creds["client_id"],
            client_secret=creds["client_secret"],
            refresh_token=creds["admin"]["refresh_token"],
        )
    message = str(err.value)
    assert "choose one with --organization" in message
    assert all(org in message for org in creds["organization_ids"])
    assert stored(db) == []
    chosen = connect(
        db,
        settings,
        name="acme",
        client_id=creds["client_id"],
        client_secret=creds["client_secret"],
        refresh_token=creds["admin"]["refresh_token"],
        organization_id=creds["organization_id"],
    )
    assert chosen.projects_portal_id == creds["portal_id"]


def test_portal_member_who_is_not_admin_is_refused_with_the_role(db, sqlite_migrated_url, sandbox_factory):
    server = sandbox_factory(world=minimal_world())
    settings = settings_for(sqlite_migrated_url, server)
    with pytest.raises(ConnectError, match=r"owner/admin of none of its portals .*employee"):
        minimal_connect(db, settings, refresh_token=MINIMAL_MEMBER_REFRESH)
    with pytest.raises(ConnectError, match=f"this user is 'employee' in portal {MINIMAL_PORTAL_ID}"):
        minimal_connect(db, settings, refresh_token=MINIMAL_MEMBER_REFRESH, portal_id=MINIMAL_PORTAL_ID)
    assert stored(db) == []


def test_portal_admin_who_is_only_books_staff_is_refused(db, sqlite_migrated_url, sandbox_factory):
    world = minimal_world()
    world.portals[MINIMAL_PORTAL_ID].roles[MINIMAL_MEMBER_ZUID] = "admin"  # admin in Projects, staff in Books
    server = sandbox_factory(world=world)
    with pytest.raises(ConnectError, match="admin of none of its Zoho Books organizations"):
        minimal_connect(db, settings_for(sqlite_migrated_url, server), refresh_token=MINIMAL_MEMBER_REFRESH)
    with pytest.raises(ConnectError, match=r"'staff' in Zoho Books organization .*needs a Books admin"):
        minimal_connect(
            db,
            settings_for(sqlite_migrated_url, server),
            refresh_token=MINIMAL_MEMBER_REFRESH,
            organization_id=MINIMAL_ORG_ID,
        )
    assert stored(db) == []


def test_bad_refresh_token_says_to_update_the_credentials(db, sqlite_migrated_url, sandbox_factory):
    server = sandbox_factory(world=minimal_world())
    with pytest.raises(ConnectError, match=r"Zoho refused the credentials: .*invalid, expired or revoked"):
        minimal_connect(db, settings_for(sqlite_migrated_url, server), refresh_token="1000.nope.nope")
    with pytest.raises(ConnectError, match="client id/secret is wrong"):
        minimal_connect(db, settings_for(sqlite_migrated_url, server), client_secret="wrong")
    assert stored(db) == []


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        (
            {"portal_id": "999"},
            f"portal 999 is not one of this user's portals: {MINIMAL_PORTAL_ID} \\(zylker, admin\\)",
        ),
        ({"organization_id": "42"}, f"organization 42 is not one of this user's organizations: {MINIMAL_ORG_ID}"),
        ({"name": "  "}, "needs a name"),
        ({"contact_duplication": "both"}, "'both' is not one of: merge, clone"),
        ({"data_center": "XX"}, "unknown data center 'XX'"),
        ({"sync_interval_hours": 0}, "out of range"),
        ({"client_secret": ""}, "client secret is empty"),
    ],
)
def test_bad_input_is_one_clear_error_and_nothing_stored(db, sqlite_migrated_url, sandbox_factory, kw, message):
    server = sandbox_factory(world=minimal_world())
    with pytest.raises(ConnectError, match=message):
        minimal_connect(db, settings_for(sqlite_migrated_url, server), **kw)
    assert stored(db) == []


def test_name_and_organization_can_only_be_connected_once(db, sqlite_migrated_url, sandbox_factory):
    server = sandbox_factory(world=minimal_world())
    settings = settings_for(sqlite_migrated_url, server)
    minimal_connect(db, settings)
    with pytest.raises(ConnectError, match="an integration named 'zylker' already exists"):
        minimal_connect(db, settings)
    with pytest.raises(
        ConnectError, match=f"organization {MINIMAL_ORG_ID} is already connected as integration 'zylker'"
    ):
        minimal_connect(db, settings, name="second")
    assert len(stored(db)) == 1


@pytest.mark.postgres
def test_connect_on_postgres(pg_migrated_url, sandbox_factory):
    reset_embedded_state()
    upgrade(pg_migrated_url)
    engine = make_engine(pg_migrated_url)
    server = sandbox_factory(world=minimal_world())
    integration = minimal_connect(engine, settings_for(pg_migrated_url, server))
    assert [r.name for r in stored(engine)] == ["zylker"] and integration.state == "active"
