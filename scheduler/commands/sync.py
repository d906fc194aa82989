"""``bpsync connect``, ``bpsync refresh`` and ``bpsync integrations``: set an integration up and make it sync.

Secrets for ``connect`` can come from the environment (BPSYNC_CONNECT_CLIENT_ID, BPSYNC_CONNECT_CLIENT_SECRET,
BPSYNC_CONNECT_REFRESH_TOKEN or BPSYNC_CONNECT_GRANT_CODE) so they never land in shell history; on a terminal a
missing one is prompted for. A Zoho user has a grant code (API console > Self Client > Generate Code), not a refresh
token: ``--grant-code`` exchanges it on the spot.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any, NoReturn

import click

from scheduler.cli_support import EXIT_CONFIG, Seconds, emit_json, friendly_errors, settings

if TYPE_CHECKING:
    from scheduler.run_watch import RunOutcome
    from shared.config import Settings
    from shared.db.integrations import Integration
    from shared.zoho.factory import ZohoCredentials

EXIT_RUN_FAILED = 1
EXIT_NOT_SENT = 3  # the run is stored but the broker could not take it (the beat's sweep sends it later)
SECRET_ENV = {
    "client_id": "BPSYNC_CONNECT_CLIENT_ID",
    "client_secret": "BPSYNC_CONNECT_CLIENT_SECRET",
    "refresh_token": "BPSYNC_CONNECT_REFRESH_TOKEN",
    "grant_code": "BPSYNC_CONNECT_GRANT_CODE",
}


def fail(message: str, code: int = EXIT_CONFIG) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def quiet_logging(conf: Settings) -> None:
    # Interactive commands draw tables on the terminal: only warnings and worse interleave with them.
    from shared.logging import configure_logging

    level = conf.log_level.upper() if conf.log_level.upper() in ("WARNING", "ERROR", "CRITICAL") else "WARNING"
    configure_logging(conf, level=level)


def integration_json(integration: Integration) -> dict[str, object]:
    return {
        "id": integration.id,
        "name": integration.name,
        "books_organization_id": integration.books_organization_id,
        "projects_portal_id": integration.projects_portal_id,
        "data_center": integration.data_center,
        "contact_duplication": integration.contact_duplication,
        "timesheet_cutoff_date": integration.timesheet_cutoff_date,
        "general_timesheets": integration.general_timesheets,
        "sync_interval_hours": integration.sync_interval_seconds / 3600,
        "state": integration.state,
        "connected_at": integration.connected_at,
        "next_run_at": integration.next_run_at,
    }


# --------------------------------------------------------------------------------------------- connect
def secret_value(value: str | None, name: str, option: str) -> str:
    if value:
        return value
    if sys.stdin.isatty():
        return click.prompt(option.lstrip("-").replace("-", " "), hide_input=name != "client_id")
    fail(f"missing {option}; pass it or set {SECRET_ENV[name]} (keeps secrets out of shell history)")


def secret_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--client-id, --client-secret, --refresh-token and --grant-code, each also read from its BPSYNC_CONNECT_*
    variable."""
    for option, name, help_text in reversed(
        (
            ("--client-id", "client_id", "Zoho OAuth client id."),
            ("--client-secret", "client_secret", "Zoho OAuth client secret."),
            (
                "--refresh-token",
                "refresh_token",
                "Refresh token of a user who is admin of the Books organization and owner/admin of the portal.",
            ),
            (
                "--grant-code",
                "grant_code",
                "Instead of --refresh-token: a grant code from the Zoho API console (Self Client > Generate Code, "
                "scopes as in the README), exchanged at once; it lasts minutes and works once.",
            ),
        )
    ):
        func = click.option(option, envvar=SECRET_ENV[name], show_envvar=True, help=help_text)(func)
    return func


def credentials_given(
    client_id: str | None,
    client_secret: str | None,
    refresh_token: str | None,
    data_center: str,
    grant_code: str | None = None,
) -> ZohoCredentials:
    """The credentials from options, environment or (on a terminal) prompts; a missing one fails in one line.
    With a grant code the refresh token is left empty: it comes from exchanging the code."""
    from shared.zoho.factory import ZohoCredentials

    if grant_code is not None and refresh_token:
        fail(
            "give either --grant-code or --refresh-token, not both (a refresh token also comes from "
            f"{SECRET_ENV['refresh_token']}: unset it to connect with a grant code)"
        )
    return ZohoCredentials(
        secret_value(client_id, "client_id", "--client-id").strip(),
        secret_value(client_secret, "client_secret", "--client-secret").strip(),
        "" if grant_code is not None else secret_value(refresh_token, "refresh_token", "--refresh-token").strip(),
        data_center.upper(),
    )


@click.command("connect")
@click.option("--name", required=True, help="A name for the integration (used by every other command).")
@secret_options
@click.option("--data-center", default=None, help="US, EU, IN, AU, JP, CA, CN or SA (default: BPSYNC_DATA_CENTER).")
@click.option(
    "--portal", "portal_id", default=None, help="Projects portal id (needed when the user administers several)."
)
@click.option(
    "--organization",
    "organization_id",
    default=None,
    help="Books organization id (needed if the user administers several).",
)
@click.option(
    "--contact-duplication",
    type=click.Choice(["merge", "clone"]),
    default="merge",
    show_default=True,
    help="A Projects client whose name matches a Books customer: merge into it or create a clone.",
)
@click.option(
    "--cutoff-date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Time logged before this date (YYYY-MM-DD) counts as already invoiced.",
)
@click.option(
    "--general-timesheets/--no-general-timesheets",
    default=False,
    show_default=True,
    help="Also sync time logged to a project but to no task or bug.",
)
@click.option("--interval-hours", type=float, default=None, help="Hours between scheduled syncs (default: 24).")
@click.option("--json", "as_json", is_flag=True)
@friendly_errors
def connect_command(
    name: str,
    client_id: str | None,
    client_secret: str | None,
    refresh_token: str | None,
    grant_code: str | None,
    data_center: str | None,
    portal_id: str | None,
    organization_id: str | None,
    contact_duplication: str,
    cutoff_date: dt.datetime | None,
    general_timesheets: bool,
    interval_hours: float | None,
    as_json: bool,
) -> None:
    """Check the Zoho credentials and connect a Books organization to a Projects portal.

    The user behind the refresh token (or grant code) must be an admin of the organization and the owner or an
    admin of the portal. Nothing is stored unless every check passes; the first sync is due at once.
    """
    from scheduler.connect import ConnectError, connect_checked, connect_with_code
    from shared.db.engine import require_schema

    conf = settings()
    quiet_logging(conf)
    engine = require_schema(conf.database_url)
    creds = credentials_given(client_id, client_secret, refresh_token, data_center or conf.data_center, grant_code)
    chosen: dict[str, Any] = {
        "name": name,
        "portal_id": portal_id,
        "organization_id": organization_id,
        "contact_duplication": contact_duplication,
        "timesheet_cutoff_date": cutoff_date.date() if cutoff_date else None,
        "general_timesheets": general_timesheets,
        "sync_interval_hours": interval_hours,
    }
    try:
        if grant_code is not None:
            connected = connect_with_code(engine, conf, creds, grant_code, **chosen)
        else:
            connected = connect_checked(engine, conf, creds, **chosen)
    except ConnectError as exc:
        fail(str(exc))
    integration, access = connected.integration, connected.access
    if as_json:
        emit_json(
            {
                **integration_json(integration),
                "portal_name": access.portal.name,
                "organization_name": access.organization.name,
            }
        )
        return
    org, portal = access.organization, access.portal
    click.echo(
        f"connected {integration.name!r} (integration {integration.id}): Zoho Books organization {org.name!r} "
        f"({org.organization_id}) <-> Zoho Projects portal {portal.name!r} ({portal.id})"
    )
    click.echo(f"first sync is due now; run it with: bpsync refresh {integration.name} --wait")


# --------------------------------------------------------------------------------------------- refresh
@click.command("refresh")
@click.argument("integration_ref", metavar="INTEGRATION")
@click.option("--module", default=None, help="Refresh this module and everything below it (default: all).")
@click.option("--wait", is_flag=True, help="Show live progress per module until the sync ends.")
@click.option("--timeout", type=Seconds(), default=None, help="With --wait: give up waiting after this many seconds.")
@click.option("--json", "as_json", is_flag=True)
@friendly_errors
def refresh_command(integration_ref: str, module: str | None, wait: bool, timeout: float | None, as_json: bool) -> None:
    """Sync INTEGRATION (id or name) now; joins a sync that is already running instead of starting a second.

    Exit status with --wait: 0 when the sync succeeded or was partial (some records failed: a warning names
    the command that lists them), 1 when a module failed or the wait timed out, 2 for bad input.

    In embedded mode (BPSYNC_BROKER_URL=memory://) the broker lives in this process, so the sync always runs
    here and the command returns when it ends, --wait or not.
    """
    from scheduler.embedded import running_worker
    from scheduler.run_watch import adopt_orphaned_modules, progress_table, read_run, terminal_console, watch_run
    from shared.celery_app import create_celery
    from shared.db.engine import require_schema
    from shared.db.integrations import get_integration
    from shared.dispatch import UNSENT_NOTICE, request_sync
    from shared.modules import modules_for_refresh

    conf = settings()
    quiet_logging(conf)
    engine = require_schema(conf.database_url)
    integration = get_integration(engine, integration_ref)
    modules_for_refresh(module)  # an unknown module is an admin error before anything is queued
    if integration.state != "active":
        fail(f"integration {integration.name!r} is disabled; enable it first: bpsync enable {integration.name}")
    app = create_celery(conf)
    console = terminal_console(stderr=as_json)
    if conf.embedded and not wait and not as_json:
        click.echo("embedded mode (memory:// broker): the sync runs inside this command until it ends", err=True)
    with running_worker(app) if conf.embedded else nullcontext():
        if conf.embedded:
            adopt_orphaned_modules(engine, app, integration.id)
        request = request_sync(engine, app, integration.id, module=module)
        joined = read_run(engine, request.run_id).status if request.coalesced else None
        if not as_json:
            click.echo(_request_message(integration, request.run_id, joined, module))
        if not request.sent:
            click.echo(f"warning: {UNSENT_NOTICE}", err=True)
            if as_json:
                emit_json({**_request_json(integration, request.run_id, joined, module), "queued": False})
            sys.exit(EXIT_NOT_SENT)
        if not (wait or conf.embedded):
            if as_json:
                emit_json(_request_json(integration, request.run_id, joined, module))
            return
        outcome = watch_run(engine, request.run_id, console, timeout=timeout, live=wait and not as_json)
    if as_json:
        emit_json({**_request_json(integration, request.run_id, joined, module), **outcome.as_json()})
    elif not wait:
        console.print(progress_table(outcome))
    sys.exit(_exit_code(integration, outcome, timeout, conf))


def _request_message(integration: Integration, run_id: int, joined: str | None, module: str | None) -> str:
    what = f"module {module} and everything below it" if module else "all modules"
    if joined is None:
        return f"started sync run {run_id} of {integration.name!r} ({what})"
    if joined == "running":
        return f"a sync of {integration.name!r} is already running (run {run_id}); the refresh joined it"
    return (
        f"a sync of {integration.name!r} is already running; this refresh ({what}) waits as run {run_id} "
        "and starts when it ends"
    )


def _request_json(integration: Integration, run_id: int, joined: str | None, module: str | None) -> dict[str, object]:
    return {
        "integration": integration.name,
        "integration_id": integration.id,
        "run_id": run_id,
        "coalesced": joined is not None,
        "joined": joined,
        "module": module,
    }


def _still_running(integration: Integration, outcome: RunOutcome, timeout: float | None, conf: Settings) -> str:
    """--timeout ended the wait, not the run: say where it goes on and how to follow it without starting another."""
    name = integration.name
    waited = f"sync run {outcome.run_id} is still {outcome.status} after {timeout:g} s"
    # another refresh would not attach to this run: once its first module started, it queues a second full run
    watch = (
        f"watch it with: bpsync status {name} (per module, live counts) or bpsync history {name}; running "
        f"bpsync refresh {name} again does not follow it, it queues a second sync behind it"
    )
    if conf.embedded:
        return (
            f"{waited}; with the memory:// broker its worker lived in this command, so it pauses now and resumes "
            f"once its module's lease lapses ({conf.module_lease_seconds:g} s) in the next process that runs a "
            f"worker (bpsync web); {watch}"
        )
    return f"{waited}; it goes on in the workers (the wait ended, not the sync); {watch}"


def _exit_code(integration: Integration, outcome: RunOutcome, timeout: float | None, conf: Settings) -> int:
    if not outcome.finished:
        click.echo(f"error: {_still_running(integration, outcome, timeout, conf)}", err=True)
        return EXIT_RUN_FAILED
    if outcome.status == "failed":
        failed = [m["module"] for m in outcome.modules if m["status"] in ("failed", "skipped")]
        reason = outcome.error or next((m["error"] for m in outcome.modules if m["error"]), None) or "see history"
        click.echo(f"error: sync run {outcome.run_id} failed ({', '.join(failed)}): {reason}", err=True)
        return EXIT_RUN_FAILED
    problems = outcome.total("failed") + outcome.total("blocked")
    if problems:
        click.echo(
            f"warning: {problems} records failed or are blocked by a failed parent; "
            f"see: bpsync errors {integration.name}",
            err=True,
        )
    return 0


# --------------------------------------------------------------------------------------------- integrations
@click.command("integrations")
@click.option("--json", "as_json", is_flag=True)
@friendly_errors
def integrations_command(as_json: bool) -> None:
    """List the connected integrations (never their credentials)."""
    from shared.db.engine import require_schema
    from shared.db.integrations import list_integrations

    found = list_integrations(require_schema(settings().database_url))
    if as_json:
        emit_json([integration_json(i) for i in found])
        return
    if not found:
        click.echo("no integrations yet; connect one with: bpsync connect --name NAME ...")
    for i in found:
        next_run = f"{i.next_run_at:%Y-%m-%d %H:%M} UTC" if i.next_run_at else "-"
        click.echo(
            f"{i.id:>4}  {i.name:<24} books {i.books_organization_id:<14} portal {i.projects_portal_id:<20} "
            f"{i.state:<9} next sync {next_run}"
        )


COMMANDS = [connect_command, refresh_command, integrations_command]
