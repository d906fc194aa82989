"""list_choices(): every portal and organization of the Zoho user, each selectable or with the reason it is not."""

from __future__ import annotations

from scheduler.connect_choices import list_choices
from shared.db.engine import make_engine, upgrade
from shared.zoho.factory import ZohoCredentials, reset_embedded_state
from tests.sandbox_fixtures import (
    MINIMAL_ADMIN_REFRESH,
    MINIMAL_CLIENT_ID,
    MINIMAL_CLIENT_SECRET,
    MINIMAL_MEMBER_REFRESH,
    MINIMAL_ORG_ID,
    MINIMAL_PORTAL_ID,
    minimal_world,
)
from tests.scheduler.test_connect import settings_for


def choices_of(url, server, refresh_token):
    reset_embedded_state()
    upgrade(url)
    creds = ZohoCredentials(MINIMAL_CLIENT_ID, MINIMAL_CLIENT_SECRET, refresh_token)
    return list_choices(make_engine(url), settings_for(url, server), creds)


def test_an_employee_and_books_staff_sees_both_greyed_out_with_the_reason(sqlite_migrated_url, sandbox_factory):
    server = sandbox_factory(world=minimal_world())
    choices = choices_of(sqlite_migrated_url, server, MINIMAL_MEMBER_REFRESH)
    [portal], [org] = choices.portals, choices.organizations
    assert (portal.id, portal.selectable) == (MINIMAL_PORTAL_ID, False)
    assert portal.reason == "you are 'employee' here; only the portal's owner or an admin can connect it"
    assert (org.id, org.reason) == (MINIMAL_ORG_ID, "you are 'staff' here; connecting needs a Zoho Books admin")
    assert choices.only("portals") is None and choices.only("organizations") is None


def test_the_admin_can_choose_both_and_each_is_preselected(sqlite_migrated_url, sandbox_factory):
    server = sandbox_factory(world=minimal_world())
    choices = choices_of(sqlite_migrated_url, server, MINIMAL_ADMIN_REFRESH)
    assert [(c.id, c.reason) for c in choices.portals] == [(MINIMAL_PORTAL_ID, None)]
    assert choices.only("portals") == MINIMAL_PORTAL_ID and choices.only("organizations") == MINIMAL_ORG_ID
    assert choices.organizations[0].detail.endswith("books@example.com")
