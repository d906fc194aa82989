"""Ops read commands: ``bpsync status``, ``history``, ``errors``, and ``retry ERROR_ID``.

The queries live in ``scheduler.status``; this file only chooses what to print. ``--json`` output uses the
stable keys documented in README ("Ops: status, history, errors (JSON keys)").
"""

from __future__ import annotations

import gc
import os
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from functools import wraps
from pathlib import Path
from typing import Any

import click

from scheduler.cli_support import EXIT_CONFIG, emit_json, friendly_errors, loaded_classes, settings
from shared.modules import MODULE_ORDER, PLANNED, UnknownModule

KNOWN_MODULES = (*MODULE_ORDER, *PLANNED)


def _engine():
    from shared.db.engine import require_schema

    return require_schema(settings().database_url)


def _checked_module(module: str | None) -> str | None:
    if module is not None and module not in KNOWN_MODULES:
        raise UnknownModule(module)
    return module


def _ops_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """An error id that does not exist is one line too, like a config error."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            if not isinstance(exc, loaded_classes([("scheduler.status.errors", "SyncErrorNotFound")])):
                raise
            click.echo(f"error: {exc.args[0]}", err=True)
            sys.exit(EXIT_CONFIG)

    return friendly_errors(wrapper)


def display(value: Any, empty: str = "-") -> str:
    # scheduler.status loads SQLAlchemy: only once a command reads the database, not when bpsync starts
    from scheduler.status.timefmt import display as as_text

    return as_text(value, empty)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], indent: str = "") -> str:
    """Columns padded to their widest cell; the last column is left ragged (messages, hints)."""
    cells = [[str(c) for c in headers], *[["" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(indent + line for line in lines)


# ------------------------------------------------------------------------------------------------ status
BADGE_CHOICES = ("disabled", "waiting", "in_progress", "failed", "active", "not_synced")


@click.command()
@click.argument("integration", required=False)
@click.option("--badge", default=None, help=f"Only integrations with this badge ({', '.join(BADGE_CHOICES)}).")
@click.option("--name", default=None, help="Only integrations whose name contains this (any case).")
@click.option("--limit", default=None, type=click.IntRange(1, 1000), help="At most N integrations (default: all).")
@click.option("--offset", default=0, show_default=True, type=click.IntRange(min=0), help="Skip the first N matches.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (keys documented in README).")
@_ops_errors
def status(
    integration: str | None, badge: str | None, name: str | None, limit: int | None, offset: int, as_json: bool
) -> None:
    """Per integration and module: badge, last success, next run, open errors; counts per badge first."""
    from scheduler.status.source import status_source

    # The command builds 6,000 module statuses at 1,000 integrations, none of them in a cycle: the cyclic collector's
    # passes over them were a third of the time. Back on after (tests run commands in their own process).
    collecting = gc.isenabled()
    gc.disable()
    try:
        with status_source(settings().database_url) as source:  # without SQLAlchemy when it can
            shown = _status(source, integration, badge, name, limit, offset, as_json)
        _end_as_the_program(shown)  # before the collector is back: its first pass would walk all that was shown
    finally:
        if collecting:
            gc.enable()


def _end_as_the_program(shown: object) -> None:
    """Run as the ``bpsync`` program, a read (status, history, errors) ends the process here, its output written:
    freeing what it showed (``shown``, 6,000 module statuses at 1,000 integrations, kept referenced until then) and
    the interpreter's teardown of every module loaded (psycopg, click) would cost ~20 ms more, a tenth of the
    command (issue 19). A caller of ``main()`` in its own process (CliRunner, which replaces sys.stdout; a script)
    goes on as usual."""
    if Path(sys.argv[0]).name != "bpsync" or sys.stdout is not sys.__stdout__:
        return
    import logging

    logging.shutdown()  # what the exit handlers skipped would do: flush the log handlers
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:  # typeshed's sys.__stdout__ may be None (no console)
            stream.flush()
    os._exit(0)


def _status(
    source: Any,
    integration: str | None,
    badge: str | None,
    name: str | None,
    limit: int | None,
    offset: int,
    as_json: bool,
) -> object:
    """Print the status asked for; what it printed is returned (see _end_as_the_program)."""
    from scheduler.status.listing import BadFilter, integration_page, integration_page_json
    from scheduler.status.overview import integration_statuses, integration_statuses_json
    from scheduler.status.timefmt import as_written, iso

    # --json: the statuses built as JSON from the rows (6,000 module statuses at 1,000 integrations), their UTC
    # timestamps formatted by the JSON writer
    if integration is not None:
        if as_json:
            statuses = integration_statuses_json(source, integration, when=as_written)
            emit_json({"generated_at": iso(_now()), "integrations": statuses}, utc_datetimes=True)
            return statuses
        one = integration_statuses(source, integration)
        _print_statuses(one)
        return one
    try:
        if as_json:
            found = integration_page_json(source, badge=badge, name=name, limit=limit, offset=offset, when=as_written)
            emit_json(found, utc_datetimes=True)
            return found
        page = integration_page(source, badge=badge, name=name, limit=limit, offset=offset)
    except BadFilter as exc:
        raise click.BadParameter(str(exc)) from exc
    if not page.total and not page.badge_counts:
        click.echo("no integrations yet; connect one with: bpsync connect")
        return page
    click.echo(page.counts_line())
    _print_statuses(page.statuses)
    shown = f"{offset + 1}-{offset + len(page.statuses)}" if page.statuses else "none"
    more = f"; next: --offset {page.next_offset}" if page.next_offset is not None else ""
    click.echo(f"showing {shown} of {page.total} matching{more}")
    return page


def _print_statuses(statuses: Sequence[Any]) -> None:
    for s in statuses:
        i = s.integration
        next_run = display(i.next_run_at) if i.state == "active" else "never (disabled)"
        click.echo(f"{i.name} (#{i.id})  {s.badge.label}  next run: {next_run}  open errors: {s.open_errors}")
        if i.paused_until is not None and i.paused_until > _now():
            click.echo(f"  paused until {display(i.paused_until)}: {i.paused_reason or 'Zoho API quota'}")
        rows = [
            (m.module, m.badge.label, display(m.last_success_at), m.open_errors, _module_note(m)) for m in s.modules
        ]
        click.echo(table(("MODULE", "BADGE", "LAST SUCCESS", "OPEN ERRORS", "NOTE"), rows, indent="  "))


def _module_note(m: Any) -> str:
    if m.badge.resumes_at is not None:
        why = f"{m.badge.detail}; " if m.badge.detail else ""
        return f"{why}resumes {display(m.badge.resumes_at)}"
    if m.badge.state == "in_progress":
        return f"run #{m.run_id}: {m.run_status}, {m.counts.get('fetched', 0)} fetched so far"
    if m.badge.state == "failed" and m.error:
        return m.error
    return ""


def _now():
    from shared.clock import utcnow

    return utcnow()


# ------------------------------------------------------------------------------------------------ history
@click.command()
@click.argument("integration", required=False)
@click.option("--module", "module", default=None, help=f"Only this module ({', '.join(MODULE_ORDER)}).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000), help="Newest N module runs.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (keys documented in README).")
@_ops_errors
def history(integration: str | None, module: str | None, limit: int, as_json: bool) -> None:
    """Sync history: one line per module run, newest first (trigger, times, counts, API calls)."""
    _end_as_the_program(_history(integration, module, limit, as_json))


def _history(integration: str | None, module: str | None, limit: int, as_json: bool) -> object:
    """Print the history asked for; what it printed is returned (see _end_as_the_program)."""
    from scheduler.status.history import RECORD_COUNTERS, sync_history
    from scheduler.status.source import status_source

    module = _checked_module(module)
    with status_source(settings().database_url) as source:  # without SQLAlchemy when it can, as status reads
        entries = sync_history(source, integration, module=module, limit=limit)
    if as_json:
        emit_json({"history": [e.as_json() for e in entries]})
        return entries
    if not entries:
        click.echo("no sync has run yet")
        return entries
    rows = [
        (
            e.run_id,
            e.integration,
            e.module,
            e.trigger,
            e.status,
            display(e.started_at),
            display(e.finished_at),
            *(e.counts[c] for c in RECORD_COUNTERS),
            e.api_calls,
        )
        for e in entries
    ]
    about_the_run = ("RUN", "INTEGRATION", "MODULE", "TRIGGER", "STATUS", "STARTED", "FINISHED")
    headers = (*about_the_run, *(c.upper() for c in RECORD_COUNTERS), "API CALLS")
    click.echo(table(headers, rows))
    return entries


# ------------------------------------------------------------------------------------------------ errors
@click.command()
@click.argument("integration", required=False)
@click.option("--module", "module", default=None, help=f"Only this module ({', '.join(MODULE_ORDER)}).")
@click.option("--details", is_flag=True, help="List every failing record, not just the summary.")
@click.option("--json", "as_json", is_flag=True, help="Summary and details, machine-readable (keys in README).")
@_ops_errors
def errors(integration: str | None, module: str | None, details: bool, as_json: bool) -> None:
    """Open sync errors: a summary by module and reason with fix hints (--details: every record)."""
    _end_as_the_program(_errors(integration, module, details, as_json))


def _errors(integration: str | None, module: str | None, details: bool, as_json: bool) -> object:
    """Print the errors asked for; what it printed is returned (see _end_as_the_program)."""
    from scheduler.status.errors import error_details, error_summary
    from scheduler.status.source import status_source

    module = _checked_module(module)
    with status_source(settings().database_url) as source:  # without SQLAlchemy when it can, as status reads
        summary = error_summary(source, integration, module=module)
        listed = error_details(source, integration, module=module) if as_json or (details and summary) else []
    if as_json:
        emit_json({"summary": [g.as_json() for g in summary], "details": [e.as_json() for e in listed]})
        return listed
    if not summary:
        click.echo("no open errors")
        return summary
    for g in summary:
        click.echo(f"{g.integration} · {g.module} · {g.reason_code}: {g.count} record(s)")
        click.echo(f"  e.g. #{g.example_error_id}: {g.example_message}")
        if g.hint:
            click.echo(f"  fix: {g.hint}")
    if details:
        rows = [
            (
                e.id,
                e.module,
                e.entity_type,
                e.source_id,
                e.source_name,
                e.reason_code,
                e.attempts,
                display(e.last_seen_at),
                f"#{e.blocked_by}" if e.blocked_by else "",
                e.message,
            )
            for e in listed
        ]
        click.echo("")
        click.echo(
            table(
                (
                    "ID",
                    "MODULE",
                    "ENTITY",
                    "SOURCE ID",
                    "NAME",
                    "REASON",
                    "ATTEMPTS",
                    "LAST SEEN",
                    "BLOCKED BY",
                    "MESSAGE",
                ),
                rows,
            )
        )
    else:
        click.echo("\nevery failing record: bpsync errors --details · retry one: bpsync retry ERROR_ID")
    return summary, listed


# ------------------------------------------------------------------------------------------------ retry
@click.command()
@click.argument("error_id", type=click.IntRange(min=1))
@click.option(
    "--wait/--no-wait",
    default=None,
    help="Wait for the sync and say whether the record synced (default: wait in embedded mode only).",
)
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait with --wait.")
@click.option(
    "--relink",
    is_flag=True,
    help="For a client linked by e-mail alone (reason linked_by_email): drop its link, so the sync matches it "
    "again by name or gives it a customer of its own.",
)
@_ops_errors
def retry(error_id: int, wait: bool | None, timeout: float, relink: bool) -> None:
    """Retry a failed record: syncs its module (and the modules below it) now; prints the run id."""
    from scheduler.embedded import running_worker
    from scheduler.status import get_error
    from shared.celery_app import create_celery
    from shared.db.integrations import get_integration
    from shared.dispatch import request_sync

    conf = settings()
    engine = _engine()
    error = get_error(engine, error_id)
    if error.resolved_at is not None:
        _fail(
            f"sync error #{error_id} was resolved at {display(error.resolved_at)} (the record synced); nothing to retry"
        )
    integration = get_integration(engine, error.integration_id)
    if integration.state != "active":
        _fail(f"integration {integration.name!r} is disabled; enable it first with: bpsync enable {integration.name}")
    if relink:
        _relink(engine, error)
    app = create_celery(conf)
    # The memory broker lives in this process: without a worker here the request would vanish on exit.
    wait = conf.embedded if wait is None else wait
    with running_worker(app) if conf.embedded else nullcontext():
        request = request_sync(engine, app, error.integration_id, module=error.module, trigger="manual")
        joined = " (joined the sync already running)" if request.coalesced else ""
        click.echo(f"run #{request.run_id}: retrying {error.module} for {integration.name}{joined}")
        if not wait:
            return
        final = _wait_for_run(engine, request.run_id, timeout)
    after = get_error(engine, error_id)
    if final is None:
        _fail(
            f"run #{request.run_id} did not finish within {timeout:.0f}s; check: bpsync status {integration.name}",
            code=1,
        )
    if after.resolved_at is not None:
        click.echo(f"run #{request.run_id} {final}: error #{error_id} is resolved")
        return
    click.echo(f"run #{request.run_id} {final}: error #{error_id} is still open: {after.message}")
    if after.hint:
        click.echo(f"fix: {after.hint}")
    sys.exit(1)


def _relink(engine: Any, error: Any) -> None:
    from scheduler.relink import RelinkRefused, drop_email_link

    try:
        was = drop_email_link(engine, error)
    except RelinkRefused as refused:
        _fail(refused.advice("--relink"))
    dropped = f" (was Books customer {was})" if was is not None else ""
    click.echo(f"client {error.source_name!r}: link dropped{dropped}; the sync matches it again by name")


def _wait_for_run(engine: Any, run_id: int, timeout: float) -> str | None:
    from scheduler.status import run_status

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = run_status(engine, run_id)
        if state not in ("queued", "running"):
            return state
        time.sleep(0.2)
    return None


def _fail(message: str, code: int = EXIT_CONFIG) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


COMMANDS = [status, history, errors, retry]
