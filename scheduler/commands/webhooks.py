"""``bpsync webhook-url``: the address to paste into Zoho Projects' webhook settings for one integration."""

from __future__ import annotations

import click

from scheduler.cli_support import emit_json, friendly_errors, settings

EVENTS = ["timelog.created", "timelog.updated", "timelog.deleted", "timelog.approved", "timelog.rejected"]
BODY = (
    '{"event": "<event>", "payload": {"portal_id": "<portal id>", "project_id": "<project id>", "log_id": "<log id>", '
    '"log_date": "<log date>", "component_type": "<task|bug|general>"}}'
)


@click.command("webhook-url")
@click.argument("integration_ref", metavar="INTEGRATION")
@click.option("--base-url", default=None, help="Where Zoho reaches `bpsync web` (default: BPSYNC_PUBLIC_URL).")
@click.option("--rotate", is_flag=True, help="Replace the secret token: the old URL stops working at once.")
@click.option("--json", "as_json", is_flag=True)
@friendly_errors
def webhook_url_command(integration_ref: str, base_url: str | None, rotate: bool, as_json: bool) -> None:
    """Print INTEGRATION's Zoho Projects webhook URL (it holds a secret: share it only with Zoho).

    In Zoho Projects, add a webhook with this URL, method POST and a JSON body like the one printed, for the
    time-log events; new, edited, approved and deleted logs then reach Books within seconds.
    """
    from scheduler.webhooks import webhook_path, webhook_token
    from shared.db.engine import require_schema
    from shared.db.integrations import get_integration

    conf = settings()
    engine = require_schema(conf.database_url)
    integration = get_integration(engine, integration_ref)
    path = webhook_path(integration.id, webhook_token(engine, integration.id, rotate=rotate))
    base = (base_url or conf.public_url or "").rstrip("/")
    url = f"{base}{path}" if base else None
    if as_json:
        emit_json({"integration_id": integration.id, "url": url, "path": path, "events": EVENTS, "body": BODY})
        return
    if url is None:
        click.echo(path)
        click.echo(
            "note: set BPSYNC_PUBLIC_URL (or pass --base-url) to the address Zoho reaches `bpsync web` at, "
            "and put it in front of this path",
            err=True,
        )
    else:
        click.echo(url)
    click.echo(f"events: {', '.join(EVENTS)}", err=True)
    click.echo(f"body (JSON): {BODY}", err=True)
    if rotate:
        click.echo("the token was replaced: update the URL in Zoho Projects", err=True)


COMMANDS = [webhook_url_command]
