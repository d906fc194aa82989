"""``bpsync migrate``: adopt what Zoho's legacy integration made in Books, once (dry run first).

Reads Zoho (reading.py), pairs and plans without side effects (pairing.py, plan.py), and — unless it is a dry
run — writes the plan and its run in one transaction (record.py). The dry run and the real run share every step
but the last, so what the dry run prints is what the real run does when nothing changed in Zoho in between.
"""

from __future__ import annotations

import sqlalchemy as sa

from scheduler.finance.zoho import books_client, projects_client
from scheduler.migrate.pairing import pair_projects
from scheduler.migrate.plan import Known, plan_migration
from scheduler.migrate.reading import Progress, ProjectDetail, read_detail, read_lists
from scheduler.migrate.record import MigrateRefused, record_migration, refusal
from scheduler.migrate.report import Report
from shared.clock import utcnow
from shared.config import Settings
from shared.db.integrations import get_integration
from shared.db.links import links_of
from shared.zoho.books import BooksClient
from shared.zoho.projects import ProjectsClient

LINKED_TYPES = ("client", "project", "task", "bug", "timesheet")


def migrate(
    engine: sa.Engine,
    settings: Settings,
    ref: int | str,
    *,
    dry_run: bool,
    progress: Progress = lambda _message: None,
    projects: ProjectsClient | None = None,
    books: BooksClient | None = None,
) -> Report:
    """Plan the migration of ``ref`` and, unless ``dry_run``, record it. MigrateRefused says why it may not run."""
    integration = get_integration(engine, ref)
    with engine.connect() as conn:
        refused = refusal(conn, integration.id, writing=not dry_run)
        known = Known({t: links_of(conn, integration.id, t) for t in LINKED_TYPES})
    if refused:
        raise MigrateRefused(refused)
    started = utcnow()
    projects = projects or projects_client(settings, integration)
    books = books or books_client(settings, integration)
    lists = read_lists(projects, books, progress)
    pairs, entries = pair_projects(
        lists.projects, lists.books_projects, known.of("project"), known.books_ids("project")
    )
    details: dict[str, ProjectDetail] = {}
    for n, pair in enumerate(pairs, start=1):
        progress(
            f"project {n}/{len(pairs)}: {pair.project.name} (legacy Books project {pair.books_project.project_id})"
        )
        details[pair.project.id] = read_detail(projects, books, pair.project, pair.books_project, with_work=True)
    plan = plan_migration(lists, pairs, entries, details, known, integration.timesheet_cutoff_date)
    report = Report(integration.id, integration.name, dry_run, plan.entries)
    if dry_run:
        if integration.state != "disabled":
            report.notes.append(
                f"{integration.name!r} is enabled: the real run needs it disabled (bpsync disable {integration.name})"
            )
        return report
    progress(f"recording {len(plan.links)} links, {len(plan.transactions)} invoices and their claims")
    report.run_id = record_migration(engine, integration.id, plan, started)
    report.notes.append(
        f"next: bpsync enable {integration.name} — the sync it starts creates what is listed as created and "
        "updates the adopted records that differ (e.g. a renamed project's name)"
    )
    return report
