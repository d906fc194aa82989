"""``bpsync migrate INTEGRATION [--dry-run] [--yes] [--json]``: adopt what Zoho's legacy integration left in Books.

Progress goes to stderr while Zoho is read (a large organization takes minutes within its quota); the report to
stdout. The real run is one way, so it asks first unless ``--yes``.
"""

from __future__ import annotations

import click

from scheduler.cli_support import EXIT_FAILED, emit_json, friendly_errors, settings
from scheduler.commands.sync import fail, quiet_logging


@click.command("migrate")
@click.argument("integration_ref", metavar="INTEGRATION")
@click.option("--dry-run", is_flag=True, help="Print what would be adopted, created and skipped; write nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (the migration is one way).")
@click.option("--json", "as_json", is_flag=True)
@friendly_errors
def migrate_command(integration_ref: str, dry_run: bool, yes: bool, as_json: bool) -> None:
    """Adopt the Books records Zoho's legacy integration made for INTEGRATION's portal (projects, customers,
    tasks, time entries, invoices), once. Projects without a primary client and their invoices are skipped.

    Disable the integration first; `bpsync enable` afterwards starts the sync that creates the rest.
    """
    from scheduler.migrate import MigrateRefused, migrate
    from shared.db.engine import require_schema
    from shared.db.integrations import get_integration

    conf = settings()
    quiet_logging(conf)
    engine = require_schema(conf.database_url)
    integration = get_integration(engine, integration_ref)
    if not dry_run and not yes:
        click.confirm(
            f"Migrate {integration.name!r} from Zoho's legacy integration? This is one way and runs once "
            f"(see first: bpsync migrate {integration.name} --dry-run)",
            abort=True,
            err=True,
        )
    try:
        report = migrate(
            engine, conf, integration.id, dry_run=dry_run, progress=lambda m: click.echo(f"... {m}", err=True)
        )
    except MigrateRefused as exc:
        fail(str(exc), EXIT_FAILED)
    if as_json:
        emit_json(report.as_json())
    else:
        click.echo("\n".join(report.lines()))


COMMANDS = [migrate_command]
