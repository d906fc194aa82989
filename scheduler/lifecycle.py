"""Disable, re-enable, new credentials and preferences: an integration's life after connect (reference: "Disable
the Integration", "Re-enable the Integration").

Disabling stops every kind of work: the beat dispatches nothing, webhooks are answered "disabled", refreshes are
refused, and a module running at that moment stops at its next slice (the rest of its run is skipped with the
reason). It keeps everything else — links, errors, history, pending webhook calls — so re-enabling continues where
the integration stood: records synced before are updated, never created twice.

Zoho's rule is "You can re-enable the integration only with the Zoho Projects portal that was connected
previously". So re-enabling and new credentials are checked with Zoho against the stored portal and organization:
credentials that cannot reach both as an admin (another account, a revoked token, a user no longer admin) are
refused with the reason and nothing changes. A different portal means a new integration (``bpsync connect``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from scheduler.connect import (
    Access,
    ConnectError,
    check_access,
    check_contact_duplication,
    check_credentials_given,
    interval_seconds,
)
from shared import crypto
from shared.clock import utcnow
from shared.config import Settings
from shared.db.integrations import Integration, credentials_of, get_integration, next_run_after, update_integration
from shared.db.schema import integrations, module_runs
from shared.zoho.factory import ZohoCredentials


@dataclass(frozen=True)
class Change:
    """What a lifecycle command did: ``changed`` False when the integration already was in the wanted state."""

    integration: Integration
    changed: bool
    detail: str


def disable(engine: sa.Engine, ref: int | str) -> Change:
    integration = get_integration(engine, ref)
    if integration.state == "disabled":
        return Change(integration, False, f"integration {integration.name!r} is already disabled")
    update_integration(engine, integration.id, state="disabled")
    return Change(
        get_integration(engine, integration.id),
        True,
        f"disabled {integration.name!r}: no syncs, refreshes or webhook runs until `bpsync enable "
        f"{integration.name}`; links and history are kept",
    )


def enable(engine: sa.Engine, settings: Settings, ref: int | str, *, now: dt.datetime | None = None) -> Change:
    """Check the stored credentials still reach the same portal and organization, then make a sync due at once."""
    integration = get_integration(engine, ref)
    if integration.state == "active":
        return Change(integration, False, f"integration {integration.name!r} is already enabled")
    creds = credentials_of(settings, integration)
    remedy = f"; give working ones with: bpsync update-credentials {integration.name}"
    _check_same_access(settings, creds, integration, "re-enable", remedy)
    # due at once: what changed while it was disabled comes over in the next beat tick
    update_integration(engine, integration.id, state="active", next_run_at=now or utcnow())
    return Change(
        get_integration(engine, integration.id),
        True,
        f"enabled {integration.name!r} (portal {integration.projects_portal_id}, organization "
        f"{integration.books_organization_id}); a sync is due now",
    )


def update_credentials(engine: sa.Engine, settings: Settings, ref: int | str, creds: ZohoCredentials) -> Change:
    """Replace the stored credentials with ones checked to reach the integration's portal and organization."""
    integration = get_integration(engine, ref)
    check_credentials_given(creds)
    access = _check_same_access(settings, creds, integration, "use these credentials for", "")
    sealed = crypto.seal(settings, access.checked(creds).secrets())
    update_integration(engine, integration.id, credentials=sealed, data_center=creds.data_center)
    state = (
        f"; sync now with: bpsync refresh {integration.name}"
        if integration.state == "active"
        else f"; it is still disabled: bpsync enable {integration.name}"
    )
    return Change(get_integration(engine, integration.id), True, f"credentials of {integration.name!r} updated{state}")


def update_preferences(
    engine: sa.Engine,
    ref: int | str,
    *,
    contact_duplication: str | None = None,
    general_timesheets: bool | None = None,
    sync_interval_hours: float | None = None,
    now: dt.datetime | None = None,
) -> Change:
    """Change the preferences that only steer later syncs. The cutoff date is fixed at connect: moving it would
    re-classify logs already recorded as invoiced or already written to Books."""
    integration = get_integration(engine, ref)
    values: dict[str, object] = {}
    said: list[str] = []
    if contact_duplication is not None and contact_duplication != integration.contact_duplication:
        check_contact_duplication(contact_duplication)
        values["contact_duplication"] = contact_duplication
        said.append(f"contact duplication {integration.contact_duplication} -> {contact_duplication} (new clients)")
    if general_timesheets is not None and general_timesheets != integration.general_timesheets:
        values["general_timesheets"] = general_timesheets
        said.append(
            "general timesheets on: the next full sync reads general logs from every month"
            if general_timesheets
            else "general timesheets off: no new general logs are synced; those in Books stay"
        )
    if sync_interval_hours is not None:
        interval = interval_seconds(sync_interval_hours)
        if interval != integration.sync_interval_seconds:
            values["sync_interval_seconds"] = interval
            now = now or utcnow()
            if integration.next_run_at is not None and integration.next_run_at > now:
                # the schedule stays anchored to connect time, on the new grid (a sync already due stays due)
                values["next_run_at"] = next_run_after(integration.connected_at, interval, now)
            said.append(f"sync interval {integration.sync_interval_seconds / 3600:g} h -> {interval / 3600:g} h")
    if not values:
        return Change(integration, False, f"the preferences of {integration.name!r} already are as given")
    update_integration(engine, integration.id, **values)
    return Change(get_integration(engine, integration.id), True, f"{integration.name!r}: " + "; ".join(said))


def delete(engine: sa.Engine, ref: int | str, *, now: dt.datetime | None = None) -> Change:
    """Forget a disabled integration and everything stored for it (links, history, errors); Zoho is not touched."""
    integration = get_integration(engine, ref)
    now = now or utcnow()
    with engine.begin() as conn:
        # locked, so no enable slips in before the delete; a worker claiming a module now finds it disabled and
        # writes nothing to Zoho
        state = conn.execute(
            sa.select(integrations.c.state).where(integrations.c.id == integration.id).with_for_update()
        ).scalar()
        if state != "disabled":
            raise ConnectError(
                f"integration {integration.name!r} is enabled; disable it first (bpsync disable {integration.name}) "
                "so no new work starts, then delete it"
            )
        held = conn.execute(
            sa.select(module_runs.c.sync_run_id, module_runs.c.module).where(
                module_runs.c.integration_id == integration.id, module_runs.c.lease_until > now
            )
        ).first()
        if held is not None:
            raise ConnectError(
                f"a worker is still running {held.module} of run #{held.sync_run_id} for {integration.name!r}; it "
                "stops at its next slice now that the integration is disabled — try again in a minute"
            )
        conn.execute(integrations.delete().where(integrations.c.id == integration.id))  # the rest cascades
    return Change(
        integration,
        True,
        f"deleted {integration.name!r} and everything this system stored for it; Zoho Projects and Zoho Books are "
        "untouched. Connecting organization "
        f"{integration.books_organization_id} again starts without links: users and clients are matched by email "
        "or name, but projects, tasks and time entries are created again",
    )


def _check_same_access(
    settings: Settings, creds: ZohoCredentials, integration: Integration, doing: str, remedy: str
) -> Access:
    try:
        return check_access(
            settings,
            creds,
            portal_id=integration.projects_portal_id,
            organization_id=integration.books_organization_id,
        )
    except ConnectError as exc:
        raise ConnectError(
            f"cannot {doing} {integration.name!r}: {exc}{remedy} (credentials must reach its portal "
            f"{integration.projects_portal_id} and organization {integration.books_organization_id} as an admin; "
            "another portal needs a new integration: bpsync connect)"
        ) from None
