"""Connect a Books organization to a Projects portal: check both credentials with Zoho, then store the integration.

Zoho's own rule (reference: "You must be an admin in both your Zoho Books and Zoho Projects accounts"; "the
list will show all the portals in which you are the Owner"): the refresh token's user must be admin/owner of
the portal (``GET /portals/`` → ``role``) and an admin of the organization (``GET /users/me`` → ``user_role``).
Nothing is written until both checks pass, so a failed connect leaves no half-made integration behind.

Zoho's integration also "shares the organization's name and email with Zoho Projects". Neither API in the
reference has a call for that (it is Zoho-internal), so we do not; the organization's name and email are shown
to the admin at connect time (``Access.organization``) and nothing is sent.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa

from scheduler.zoho_failures import AGAIN, one_shot_failure
from shared.config import Settings
from shared.db.integrations import Integration, create_integration
from shared.db.schema import integrations
from shared.zoho.books_models import Organization
from shared.zoho.datacenters import DATA_CENTERS
from shared.zoho.errors import AuthError, NotFound, ZohoError
from shared.zoho.factory import ZohoCredentials, build_accounts, build_books_client, build_projects_client
from shared.zoho.oauth import GRANT_CODE
from shared.zoho.projects_models import Portal

PORTAL_ADMIN_ROLES = {"admin", "owner"}  # the reference shows owners as "admin" (inferred); accept both
BOOKS_ADMIN_ROLE = "admin"
CONTACT_DUPLICATION = ("merge", "clone")


class ConnectError(Exception):
    """Connecting failed; the message is one line saying what is wrong and how to fix it."""


@dataclass(frozen=True)
class Access:
    """What the credentials were checked to reach: the portal and organization the integration will join."""

    portal: Portal
    organization: Organization

    def checked(self, creds: ZohoCredentials) -> ZohoCredentials:
        """``creds`` with the Zoho user they were checked to belong to (it keys the Projects rate limit)."""
        return dataclasses.replace(creds, user_id=self.portal.login_id or None)


@dataclass(frozen=True)
class Connected:
    """A new integration and what its credentials were checked to reach (names for the admin's confirmation)."""

    integration: Integration
    access: Access


def connect(
    engine: sa.Engine,
    settings: Settings,
    *,
    name: str,
    client_id: str,
    client_secret: str,
    refresh_token: str,
    data_center: str = "US",
    portal_id: str | None = None,
    organization_id: str | None = None,
    contact_duplication: str = "merge",
    timesheet_cutoff_date: dt.date | None = None,
    general_timesheets: bool = False,
    sync_interval_hours: float | None = None,
) -> Integration:
    """Check the credentials against Zoho and create the integration (its first sync is due at once)."""
    creds = ZohoCredentials(client_id.strip(), client_secret.strip(), refresh_token.strip(), data_center.upper())
    return connect_checked(
        engine,
        settings,
        creds,
        name=name,
        portal_id=portal_id,
        organization_id=organization_id,
        contact_duplication=contact_duplication,
        timesheet_cutoff_date=timesheet_cutoff_date,
        general_timesheets=general_timesheets,
        sync_interval_hours=sync_interval_hours,
    ).integration


def connect_checked(
    engine: sa.Engine,
    settings: Settings,
    creds: ZohoCredentials,
    *,
    name: str,
    portal_id: str | None = None,
    organization_id: str | None = None,
    contact_duplication: str = "merge",
    timesheet_cutoff_date: dt.date | None = None,
    general_timesheets: bool = False,
    sync_interval_hours: float | None = None,
    again: str = AGAIN,
) -> Connected:
    """The one way an integration is made (``bpsync connect`` and the web's Connect): local checks, then Zoho's
    (admin in both, owner/admin of the portal), then the row — nothing is stored unless every check passes.
    ``again``: how the person repeats it when Zoho did not answer (a command, or the web page's button)."""
    interval = check_preferences(engine, name, creds, contact_duplication, sync_interval_hours)
    access = check_access(settings, creds, portal_id=portal_id, organization_id=organization_id, again=again)
    integration = create_checked(
        engine,
        settings,
        access,
        creds,
        name=name.strip(),
        contact_duplication=contact_duplication,
        timesheet_cutoff_date=timesheet_cutoff_date,
        general_timesheets=general_timesheets,
        sync_interval_seconds=interval,
    )
    return Connected(integration, access)


def exchange_code(
    settings: Settings, creds: ZohoCredentials, code: str, *, redirect_uri: str | None = None, what: str = GRANT_CODE
) -> ZohoCredentials:
    """``creds`` with the refresh token Zoho gives for a grant code (Self Client, no redirect) or for the code of
    an authorization redirect (``redirect_uri``: the one the code was issued for)."""
    check_credentials_given(creds, refresh_token=False)
    if not code.strip():
        raise ConnectError(
            f"the {what} is empty; generate one in the Zoho API console (Self Client > Generate Code) and pass it "
            "with --grant-code"
        )
    try:
        refresh_token = build_accounts(settings, creds).exchange_code(code.strip(), redirect_uri, what=what)
    except AuthError as exc:
        raise ConnectError(f"Zoho refused the {what}: {exc.message} — {exc.hint}") from None
    except ZohoError as exc:
        raise ConnectError(f"could not exchange the {what} with Zoho: {exc}") from None
    return dataclasses.replace(creds, refresh_token=refresh_token)


@contextmanager
def revoked_on_failure(settings: Settings, creds: ZohoCredentials) -> Iterator[ZohoCredentials]:
    """Revoke a refresh token minted for a connect that then fails: Zoho keeps 20 refresh tokens per user and
    client and silently drops the oldest for the 21st, which may be the token a working integration uses."""
    try:
        yield creds
    except BaseException:
        build_accounts(settings, creds).revoke()
        raise


def connect_with_code(
    engine: sa.Engine,
    settings: Settings,
    creds: ZohoCredentials,
    code: str,
    *,
    name: str,
    redirect_uri: str | None = None,
    portal_id: str | None = None,
    organization_id: str | None = None,
    contact_duplication: str = "merge",
    timesheet_cutoff_date: dt.date | None = None,
    general_timesheets: bool = False,
    sync_interval_hours: float | None = None,
) -> Connected:
    """``connect_checked`` with a grant code instead of a refresh token: the local checks come first (the code
    works once, for minutes), then the exchange; the token it mints is revoked if the connect then fails."""
    check_preferences(engine, name, creds, contact_duplication, sync_interval_hours, refresh_token=False)
    with revoked_on_failure(settings, exchange_code(settings, creds, code, redirect_uri=redirect_uri)) as minted:
        return connect_checked(
            engine,
            settings,
            minted,
            name=name,
            portal_id=portal_id,
            organization_id=organization_id,
            contact_duplication=contact_duplication,
            timesheet_cutoff_date=timesheet_cutoff_date,
            general_timesheets=general_timesheets,
            sync_interval_hours=sync_interval_hours,
        )


def check_preferences(
    engine: sa.Engine,
    name: str,
    creds: ZohoCredentials,
    contact_duplication: str,
    interval_hours: float | None,
    *,
    refresh_token: bool = True,
) -> int | None:
    """The local checks (no Zoho call); returns the sync interval in seconds (None = the default). Made before a
    grant code is spent too (``refresh_token`` False): a code works once, for minutes."""
    if not name.strip():
        raise ConnectError("the integration needs a name (--name), e.g. --name acme")
    if len(name.strip()) > 200:
        raise ConnectError("the integration name is longer than 200 characters; choose a shorter --name")
    check_credentials_given(creds, refresh_token=refresh_token)
    check_contact_duplication(contact_duplication)
    interval = None if interval_hours is None else interval_seconds(interval_hours)
    with engine.connect() as conn:
        taken = conn.execute(sa.select(integrations.c.id).where(integrations.c.name == name.strip())).first()
    if taken is not None:
        raise ConnectError(f"an integration named {name.strip()!r} already exists; choose another --name")
    return interval


def check_contact_duplication(value: str) -> None:
    if value not in CONTACT_DUPLICATION:
        raise ConnectError(f"contact duplication {value!r} is not one of: {', '.join(CONTACT_DUPLICATION)}")


def interval_seconds(hours: float) -> int:
    """A sync interval in hours as seconds (at least a minute), or a ConnectError naming the range."""
    if not 0 < hours <= 24 * 366:
        raise ConnectError(f"sync interval {hours} h is out of range; give hours between 0 and 8784")
    return max(60, round(hours * 3600))


def check_credentials_given(creds: ZohoCredentials, *, refresh_token: bool = True) -> None:
    """The local checks of credentials (no Zoho call): nothing empty, a known data center. ``refresh_token``
    False: the token is still to come from a grant code."""
    given = [("client id", creds.client_id), ("client secret", creds.client_secret)]
    if refresh_token:
        given.append(("refresh token", creds.refresh_token))
    for label, value in given:
        if not value:
            raise ConnectError(f"the {label} is empty; copy it from the Zoho API console")
    if creds.data_center not in DATA_CENTERS:
        raise ConnectError(f"unknown data center {creds.data_center!r}; use one of {', '.join(DATA_CENTERS)}")


def check_access(
    settings: Settings,
    creds: ZohoCredentials,
    *,
    portal_id: str | None = None,
    organization_id: str | None = None,
    again: str = AGAIN,
) -> Access:
    """Validate the credentials with Zoho and pick the portal and organization where the user is admin."""
    try:
        build_accounts(settings, creds).access_token()
        portal = pick_portal(settings, creds, portal_id)
        organization = pick_organization(settings, creds, organization_id)
    except AuthError as exc:
        raise ConnectError(f"Zoho refused the credentials: {exc.message} — {exc.hint}") from None
    except ZohoError as exc:
        # one-shot: nothing retries this call, so the message names what did not answer and says what to try
        failure = one_shot_failure(
            exc, settings, data_center=creds.data_center, outcome="nothing was stored", again=again
        )
        raise ConnectError(f"could not check the credentials with Zoho: {failure}") from None
    return Access(portal, organization)


def pick_portal(settings: Settings, creds: ZohoCredentials, portal_id: str | None) -> Portal:
    portals = build_projects_client(settings, creds, "").list_portals()
    if not portals:
        raise ConnectError("this Zoho user belongs to no Zoho Projects portal; connect with the portal owner's account")
    if portal_id:
        portal = next((p for p in portals if p.id == str(portal_id).strip()), None)
        if portal is None:
            raise ConnectError(f"portal {portal_id} is not one of this user's portals: {_portal_list(portals)}")
        if portal.role.lower() not in PORTAL_ADMIN_ROLES:
            raise ConnectError(
                f"this user is {portal.role or 'not an admin'!r} in portal {portal.id} ({portal.name}); only the "
                "portal's owner or an admin can connect it: use a refresh token of such a user"
            )
        return portal
    eligible = [p for p in portals if p.role.lower() in PORTAL_ADMIN_ROLES]
    if len(eligible) == 1:
        return eligible[0]
    if not eligible:
        raise ConnectError(
            f"this user is owner/admin of none of its portals ({_portal_list(portals)}); connect with the "
            "portal owner's refresh token"
        )
    raise ConnectError(f"this user administers several portals; choose one with --portal: {_portal_list(eligible)}")


def pick_organization(settings: Settings, creds: ZohoCredentials, organization_id: str | None) -> Organization:
    organizations = build_books_client(settings, creds, "").list_organizations()
    if not organizations:
        raise ConnectError("this Zoho user belongs to no Zoho Books organization; connect with a Books admin's account")
    if organization_id:
        org = next((o for o in organizations if o.organization_id == str(organization_id).strip()), None)
        if org is None:
            raise ConnectError(
                f"organization {organization_id} is not one of this user's organizations: {_org_list(organizations)}"
            )
        role = books_role(settings, creds, org.organization_id)
        if role != BOOKS_ADMIN_ROLE:
            raise ConnectError(
                f"this user is {role or 'not an admin'!r} in Zoho Books organization {org.organization_id} "
                f"({org.name}); connecting needs a Books admin: use a refresh token of an admin"
            )
        return org
    eligible = [o for o in organizations if books_role(settings, creds, o.organization_id) == BOOKS_ADMIN_ROLE]
    if len(eligible) == 1:
        return eligible[0]
    if not eligible:
        raise ConnectError(
            f"this user is admin of none of its Zoho Books organizations ({_org_list(organizations)}); connect "
            "with a Books admin's refresh token"
        )
    raise ConnectError(
        f"this user administers several Zoho Books organizations; choose one with --organization: {_org_list(eligible)}"
    )


def books_role(settings: Settings, creds: ZohoCredentials, organization_id: str) -> str:
    """The calling user's role in one organization ("admin", "staff", ...; "" when Zoho does not say)."""
    books = build_books_client(settings, creds, organization_id)
    try:
        body = books.call("GET", "/users/me", template="/users/me")
    except NotFound:
        return ""
    user = body.get("user")
    return str(user.get("user_role", "")).lower() if isinstance(user, dict) else ""


def create_checked(
    engine: sa.Engine,
    settings: Settings,
    access: Access,
    creds: ZohoCredentials,
    *,
    name: str,
    contact_duplication: str,
    timesheet_cutoff_date: dt.date | None,
    general_timesheets: bool,
    sync_interval_seconds: int | None,
) -> Integration:
    org_id = access.organization.organization_id
    with engine.connect() as conn:
        holder = conn.execute(
            sa.select(integrations.c.name).where(integrations.c.books_organization_id == org_id)
        ).scalar()
    if holder is not None:
        # one organization syncs with one portal (Zoho's rule too); re-connecting is enable/update credentials
        raise ConnectError(
            f"Zoho Books organization {org_id} is already connected as integration {holder!r}; to sync it again "
            f"use `bpsync enable {holder}` (a disabled one) or `bpsync update-credentials {holder}`"
        )
    return create_integration(
        engine,
        settings,
        name=name,
        organization_id=org_id,
        portal_id=access.portal.id,
        credentials=access.checked(creds).secrets(),
        data_center=creds.data_center,
        contact_duplication=contact_duplication,
        timesheet_cutoff_date=timesheet_cutoff_date,
        general_timesheets=general_timesheets,
        sync_interval_seconds=sync_interval_seconds,
    )


def _portal_list(portals: list[Portal]) -> str:
    return ", ".join(f"{p.id} ({p.name}, {p.role or 'no role'})" for p in portals)


def _org_list(organizations: list[Organization]) -> str:
    return ", ".join(f"{o.organization_id} ({o.name})" for o in organizations)
