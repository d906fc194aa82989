"""``bpsync webhook-url``: the addresses to paste into Zoho Projects' and Books' webhook settings for one integration.

Only a digest of the token is stored, so the URLs can be shown once, when the token is made; ``--rotate`` makes a
new one (the old URLs stop working).
"""

from __future__ import annotations

import sys

import click

from scheduler.cli_support import emit_json, friendly_errors, settings

EVENTS = ["timelog.created", "timelog.updated", "timelog.deleted", "timelog.approved", "timelog.rejected"]
BODY = (
    '{"event": "<event>", "payload": {"portal_id": "<portal id>", "project_id": "<project id>", "log_id": "<log id>", '
    '"log_date": "<log date>", "component_type": "<task|bug|general>"}}'
)
EXIT_REFUSED = 1


@click.command("webhook-url")
@click.argument("integration_ref", metavar="INTEGRATION")
@click.option("--base-url", default=None, help="Where Zoho reaches `bpsync web` (default: BPSYNC_PUBLIC_URL).")
@click.option("--rotate", is_flag=True, help="Make a new secret token: the old URLs stop working at once.")
@click.option("--json", "as_json", is_flag=True)
@friendly_errors
def webhook_url_command(integration_ref: str, base_url: str | None, rotate: bool, as_json: bool) -> None:
    """Print INTEGRATION's Zoho Projects and Zoho Books webhook URLs (they hold a secret: share it only with Zoho).

    The token is shown once, when it is made (only its digest is stored); --rotate makes a new one.

    In Zoho Projects, add a webhook with the first URL, method POST and a JSON body like the one printed, for the
    time-log events; new, edited, approved and deleted logs then reach Books within seconds. The second URL is for
    Zoho Books' workflow webhooks (invoices, estimates, expenses, recurring invoices).
    """
    from scheduler.books_webhooks import books_webhook_path
    from scheduler.webhooks import webhook_path, webhook_token
    from shared.db.engine import require_schema
    from shared.db.integrations import get_integration

    conf = settings()
    engine = require_schema(conf.database_url)
    integration = get_integration(engine, integration_ref)
    token = webhook_token(engine, integration.id, rotate=rotate)
    if token is None:
        click.echo(
            f"error: integration {integration.name!r} already has a webhook token, and it is shown only once; "
            f"`bpsync webhook-url {integration_ref} --rotate` makes a new one (the old URLs stop working)",
            err=True,
        )
        sys.exit(EXIT_REFUSED)
    path, books_path = webhook_path(integration.id, token), books_webhook_path(integration.id, token)
    base = (base_url or conf.public_url or "").rstrip("/")
    url, books_url = (f"{base}{path}", f"{base}{books_path}") if base else (None, None)
    if as_json:
        emit_json(
            {
                "integration_id": integration.id,
                "url": url,
                "path": path,
                "books_url": books_url,
                "books_path": books_path,
                "events": EVENTS,
                "body": BODY,
                "rotated": rotate,
            }
        )
        return
    click.echo(url or path)
    click.echo(books_url or books_path)
    if url is None:
        click.echo(
            "note: set BPSYNC_PUBLIC_URL (or pass --base-url) to the address Zoho reaches `bpsync web` at, "
            "and put it in front of these paths",
            err=True,
        )
    click.echo("the first line is for Zoho Projects, the second for Zoho Books (same token)", err=True)
    click.echo(f"events: {', '.join(EVENTS)}", err=True)
    click.echo(f"body (JSON): {BODY}", err=True)
    click.echo("the token is shown once (only its digest is stored); --rotate makes a new one", err=True)
    if rotate:
        click.echo("the token was replaced: update the URLs in Zoho Projects and Zoho Books", err=True)


COMMANDS = [webhook_url_command]
