"""What ``bpsync demo`` prints after a sync: badges, history, error summary (from ``scheduler.status``), and the
check that a refresh wrote exactly the change made in Zoho Projects."""

from __future__ import annotations

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from scheduler.run_watch import RunOutcome
from scheduler.status import error_summary, integration_statuses, sync_history
from scheduler.status.timefmt import display

BADGE_STYLES = {"active": "green", "in_progress": "cyan", "failed": "red", "waiting": "yellow", "disabled": "dim"}


def show_status(engine: sa.Engine, console: Console, integration: str) -> None:
    (status,) = integration_statuses(engine, integration)
    table = Table(title=f"status of {integration!r}: {status.badge.label}", title_justify="left")
    for column in ("module", "badge", "last success", "open errors"):
        table.add_column(column, justify="right" if column == "open errors" else "left")
    for m in status.modules:
        style = BADGE_STYLES.get(m.badge.state, "")
        badge = f"[{style}]{m.badge.label}[/]" if style else m.badge.label
        table.add_row(m.module, badge, display(m.last_success_at) or "-", str(m.open_errors))
    console.print(table)


def show_history(engine: sa.Engine, console: Console, integration: str, limit: int = 20) -> None:
    table = Table(title="sync history (newest first)", title_justify="left")
    for column in ("run", "module", "trigger", "status", "created", "updated", "unchanged", "failed", "blocked"):
        table.add_column(column)
    for entry in sync_history(engine, integration, limit=limit):
        c = entry.counts
        table.add_row(
            str(entry.run_id),
            entry.module,
            entry.trigger,
            entry.status,
            *(str(c.get(k, 0)) for k in ("created", "updated", "unchanged", "failed", "blocked")),
        )
    console.print(table)


def show_errors(engine: sa.Engine, console: Console, integration: str) -> None:
    groups = error_summary(engine, integration)
    if not groups:
        console.print("error summary: no open errors")
        return
    table = Table(title="error summary (records the sandbox seeded to fail, with the fix)", title_justify="left")
    for column in ("module", "reason", "records", "example", "how to fix"):
        table.add_column(column, overflow="fold")
    for g in groups:
        table.add_row(g.module, g.reason_code, str(g.count), g.example_message, g.hint or "")
    console.print(table)


def changes_written(outcome: RunOutcome) -> dict[tuple[str, str], int]:
    """(module, created|updated) -> count, for every module that wrote something to Books."""
    return {(m["module"], kind): int(m[kind]) for m in outcome.modules for kind in ("created", "updated") if m[kind]}


def expected_changes_seen(outcome: RunOutcome, expected: dict[tuple[str, str], int], console: Console) -> bool:
    written = changes_written(outcome)
    unchanged = outcome.total("unchanged")
    if written == expected:
        what = ", ".join(f"{module}: {n} {kind}" for (module, kind), n in written.items())
        console.print(f"[green]the refresh wrote exactly the change[/] ({what}); {unchanged} records unchanged")
        return True
    console.print(f"[red]the refresh wrote {written or 'nothing'}, expected {expected}[/]")
    return False
