"""``bpsync disable``, ``enable``, ``update-credentials``, ``preferences`` and ``delete``: an integration's life after
connect.

New secrets come as for ``connect``: options, the BPSYNC_CONNECT_* environment variables, or a prompt on a terminal.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from scheduler.cli_support import emit_json, friendly_errors, settings
from scheduler.commands.sync import credentials_given, fail, integration_json, quiet_logging, secret_options

if TYPE_CHECKING:
    from scheduler.lifecycle import Change


def _report(change: Change, as_json: bool) -> None:
    if as_json:
        emit_json({**integration_json(change.integration), "changed": change.changed, "detail": change.detail})
    else:
        click.echo(change.detail)


@click.command("disable")
@click.argument("integration_ref", metavar="INTEGRATION")
@click.option("--json", "as_json", is_flag=True)
@friendly_errors
def disable_command(integration_ref: str, as_json: bool) -> None:
    """Stop INTEGRATION's syncs, refreshes and webhook runs; links and history are kept for re-enabling."""
    from scheduler.lifecycle import disable
    from shared.db.engine import require_schema

    conf = settings()
    quiet_logging(conf)
    _report(disable(require_schema(conf.database_url), integration_ref), as_json)


@click.command("enable")
@click.argument("integration_ref", metavar="INTEGRATION")
@click.option("--json", "as_json", is_flag=True)
@friendly_errors
def enable_command(integration_ref: str, as_json: bool) -> None:
    """Re-enable INTEGRATION with the portal it was connected to; a sync is due at once.

    The stored credentials are checked with Zoho first: if they no longer reach the portal and organization as
    an admin, nothing changes (give new ones with `bpsync update-credentials`).
    """
    from scheduler.connect import ConnectError
    from scheduler.lifecycle import enable
    from shared.db.engine import require_schema

    conf = settings()
    quiet_logging(conf)
    try:
        change = enable(require_schema(conf.database_url), conf, integration_ref)
    except ConnectError as exc:
        fail(str(exc))
    _report(change, as_json)


@click.command("update-credentials")
@click.argument("integration_ref", metavar="INTEGRATION")
@secret_options
@click.option("--data-center", default=None, help="US, EU, IN, AU, JP, CA, CN or SA (default: the integration's).")
@click.option("--json", "as_json", is_flag=True)
@friendly_errors
def update_credentials_command(
    integration_ref: str,
    client_id: str | None,
    client_secret: str | None,
    refresh_token: str | None,
    grant_code: str | None,
    data_center: str | None,
    as_json: bool,
) -> None:
    """Replace INTEGRATION's Zoho credentials (e.g. after a revoked refresh token).

    The new ones are checked with Zoho against the integration's portal and organization before anything is
    stored; credentials of another portal are refused (a token minted from --grant-code for them is revoked).
    """
    from scheduler.connect import ConnectError, exchange_code, revoked_on_failure
    from scheduler.lifecycle import update_credentials
    from shared.db.engine import require_schema
    from shared.db.integrations import get_integration

    conf = settings()
    quiet_logging(conf)
    engine = require_schema(conf.database_url)
    integration = get_integration(engine, integration_ref)  # an unknown name fails before any prompt
    creds = credentials_given(
        client_id, client_secret, refresh_token, data_center or integration.data_center, grant_code
    )
    try:
        if grant_code is None:
            change = update_credentials(engine, conf, integration.id, creds)
        else:
            with revoked_on_failure(conf, exchange_code(conf, creds, grant_code)) as minted:
                change = update_credentials(engine, conf, integration.id, minted)
    except ConnectError as exc:
        fail(str(exc))
    _report(change, as_json)


@click.command("preferences")
@click.argument("integration_ref", metavar="INTEGRATION")
@click.option("--contact-duplication", type=click.Choice(["merge", "clone"]), default=None, help="For new clients.")
@click.option(
    "--general-timesheets/--no-general-timesheets",
    default=None,
    help="Sync time logged to a project but to no task or bug (turning it off leaves those in Books).",
)
@click.option("--interval-hours", type=float, default=None, help="Hours between scheduled syncs.")
@click.option("--json", "as_json", is_flag=True)
@friendly_errors
def preferences_command(
    integration_ref: str,
    contact_duplication: str | None,
    general_timesheets: bool | None,
    interval_hours: float | None,
    as_json: bool,
) -> None:
    """Show INTEGRATION's preferences, or change those given. The cutoff date is fixed at connect."""
    from scheduler.connect import ConnectError
    from scheduler.lifecycle import Change, update_preferences
    from shared.db.engine import require_schema
    from shared.db.integrations import get_integration

    conf = settings()
    quiet_logging(conf)
    engine = require_schema(conf.database_url)
    if contact_duplication is None and general_timesheets is None and interval_hours is None:
        integration = get_integration(engine, integration_ref)
        cutoff = integration.timesheet_cutoff_date or "none"
        detail = (
            f"{integration.name}: contact duplication {integration.contact_duplication}; general timesheets "
            f"{'on' if integration.general_timesheets else 'off'}; timesheet cutoff date {cutoff}; sync every "
            f"{integration.sync_interval_seconds / 3600:g} h"
        )
        _report(Change(integration, False, detail), as_json)
        return
    try:
        change = update_preferences(
            engine,
            integration_ref,
            contact_duplication=contact_duplication,
            general_timesheets=general_timesheets,
            sync_interval_hours=interval_hours,
        )
    except ConnectError as exc:
        fail(str(exc))
    _report(change, as_json)


@click.command("delete")
@click.argument("integration_ref", metavar="INTEGRATION")
@click.option("--yes", is_flag=True, help="Do not ask for the integration's name to confirm.")
@click.option("--json", "as_json", is_flag=True)
@friendly_errors
def delete_command(integration_ref: str, yes: bool, as_json: bool) -> None:
    """Forget a disabled INTEGRATION: its links, history and errors. Nothing in Zoho is touched.

    Connecting the same organization again later starts without links, so Books would get its projects, tasks
    and time entries a second time: disable an integration to pause it, delete it only to be rid of it.
    """
    from scheduler.connect import ConnectError
    from scheduler.lifecycle import delete
    from shared.db.engine import require_schema
    from shared.db.integrations import get_integration

    conf = settings()
    quiet_logging(conf)
    engine = require_schema(conf.database_url)
    integration = get_integration(engine, integration_ref)
    if not yes:
        if not sys.stdin.isatty():
            fail(f"deleting {integration.name!r} needs confirmation: pass --yes (no terminal to ask on)")
        typed = click.prompt(f"This forgets every link of {integration.name!r}. Type its name to delete it")
        if typed.strip() != integration.name:
            fail("the name does not match; nothing was deleted")
    try:
        change = delete(engine, integration.id)
    except ConnectError as exc:
        fail(str(exc))
    _report(change, as_json)


COMMANDS = [disable_command, enable_command, update_credentials_command, preferences_command, delete_command]
