"""Watching a sync run from the command line: a live per-module table read from the database until it ends.

The database is the source of truth (module_runs rows carry status and counts), so watching is polling: it
works the same whether the workers are threads of this process (embedded) or machines elsewhere.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from celery import Celery
from rich.console import Console
from rich.live import Live
from rich.table import Table

from shared.clock import as_utc, utcnow
from shared.db import runs, sweeps
from shared.db.schema import module_runs, sync_runs
from shared.dispatch import enqueue_module

RUN_FINISHED = ("succeeded", "partial", "failed")
COUNT_COLUMNS = ("fetched", "created", "updated", "unchanged", "failed", "blocked", "api_calls")
# Short words (the badges are for the status page): "partial" = the module ran, some records failed.
STATUS_WORDS = {
    "queued": "queued",
    "running": "syncing",
    "succeeded": "done",
    "partial": "partial",
    "failed": "FAILED",
    "skipped": "skipped",
}
STATUS_STYLES = {"running": "cyan", "succeeded": "green", "partial": "yellow", "failed": "red", "skipped": "red"}


@dataclass(frozen=True)
class RunOutcome:
    run_id: int
    status: str  # succeeded | partial | failed, or queued/running if the wait timed out
    error: str | None
    modules: list[dict[str, Any]]

    @property
    def finished(self) -> bool:
        return self.status in RUN_FINISHED

    def total(self, counter: str) -> int:
        return sum(int(m[counter]) for m in self.modules)

    def as_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "status": self.status, "error": self.error, "modules": self.modules}


def terminal_console(*, stderr: bool = False) -> Console:
    """A rich console; piped output (logs, CI, tests) gets 120 columns instead of rich's 80 so tables fit."""
    console = Console(stderr=stderr)
    return console if console.is_terminal else Console(stderr=stderr, width=120)


def read_run(engine: sa.Engine, run_id: int) -> RunOutcome:
    with engine.connect() as conn:
        run = conn.execute(sa.select(sync_runs).where(sync_runs.c.id == run_id)).one()
        rows = conn.execute(
            sa.select(module_runs).where(module_runs.c.sync_run_id == run_id).order_by(module_runs.c.position)
        ).all()
    modules = [
        {
            "module": r.module,
            "status": r.status,
            "waiting_until": as_utc(r.waiting_until),
            "error": r.error,
            **{c: int(getattr(r, c)) for c in COUNT_COLUMNS},
            "skipped_records": int(r.skipped),
        }
        for r in rows
    ]
    return RunOutcome(run.id, run.status, run.error, modules)


def status_words(module: dict[str, Any]) -> str:
    waiting = module.get("waiting_until")
    if module["status"] in ("queued", "running") and waiting is not None and waiting > utcnow():
        return f"waiting for API quota until {waiting:%H:%M:%S} UTC"
    return STATUS_WORDS.get(module["status"], module["status"])


def progress_table(outcome: RunOutcome, title: str | None = None) -> Table:
    table = Table(title=title or f"sync run {outcome.run_id}: {outcome.status}", title_justify="left")
    table.add_column("module")
    table.add_column("status")
    for column in COUNT_COLUMNS:
        table.add_column(column.replace("_", " "), justify="right")
    for m in outcome.modules:
        style = STATUS_STYLES.get(m["status"], "")
        table.add_row(
            m["module"],
            f"[{style}]{status_words(m)}[/]" if style else status_words(m),
            *(str(m[c]) for c in COUNT_COLUMNS),
        )
    return table


def watch_run(
    engine: sa.Engine,
    run_id: int,
    console: Console,
    *,
    timeout: float | None = None,
    poll_seconds: float = 0.25,
    live: bool = True,
) -> RunOutcome:
    """Poll the run until it finishes (or ``timeout``), showing the per-module table live when ``live``."""
    deadline = None if timeout is None else time.monotonic() + timeout
    outcome = read_run(engine, run_id)
    if not live:
        while not outcome.finished and (deadline is None or time.monotonic() < deadline):
            time.sleep(poll_seconds)
            outcome = read_run(engine, run_id)
        return outcome
    with Live(progress_table(outcome), console=console, refresh_per_second=8) as display:
        while not outcome.finished and (deadline is None or time.monotonic() < deadline):
            time.sleep(poll_seconds)
            outcome = read_run(engine, run_id)
            display.update(progress_table(outcome))
    if not console.is_terminal:
        console.line()  # piped output: the final table is printed without its closing newline
    return outcome


def latest_run_id(engine: sa.Engine, integration_id: int) -> int | None:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.max(sync_runs.c.id)).where(sync_runs.c.integration_id == integration_id)
        ).scalar()


def adopt_orphaned_modules(engine: sa.Engine, app: Celery, integration_id: int) -> list[int]:
    """Embedded mode: re-enqueue this integration's current modules that no live worker holds.

    A memory:// broker lives and dies with its process, so a sync started by an earlier command that exited
    has nobody left to run it; without this, every later refresh would coalesce into that dead sync. Nothing
    held by a live worker is touched (its lease is in the future), and claim_module makes a duplicate harmless.
    """
    adopted = []
    for module_run_id in sweeps.adoptable_module_runs(engine):
        if runs.get_module_run(engine, module_run_id).integration_id == integration_id:
            enqueue_module(app, module_run_id)
            adopted.append(module_run_id)
    return adopted
