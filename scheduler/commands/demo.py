"""``bpsync demo [--once] [--port]``: the whole product in one process, against the sandbox, with no servers.

What it does, in order (every step is the production code path; only the processes are threads):
1. a fresh SQLite file in a temporary folder, migrated; Celery on the ``memory://`` broker;
2. the sandbox (``tiny`` world) on a free port, with Zoho's quotas and windows compressed 60x (preset
   ``fast``, and the product's limiter set to the same windows), so the global limiter really works;
3. ``connect`` with the sandbox admin's credentials (the same checks as ``bpsync connect``);
4. an in-process worker and beat; the beat's first tick starts the first sync (the integration is due at
   connect), shown live per module; then the status badges, the history and the error summary;
5. a change made in Zoho Projects as a person would (``/_sandbox/act``: rename a task; log time on it and
   approve it), a refresh, and a check that the refresh wrote exactly that change and nothing else;
6. the web UI on a printed URL until Ctrl-C (``--once`` stops after step 5 with exit 0, or 1 if a check failed).
"""

from __future__ import annotations

import secrets
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import click

from scheduler.cli_support import friendly_errors

if TYPE_CHECKING:
    import sqlalchemy as sa
    from rich.console import Console

    from shared.config import Settings
    from shared.db.integrations import Integration

DEMO_NAME = "demo"
SANDBOX_SEED = 1
RUN_TIMEOUT_SECONDS = 300.0
# Zoho's windows compressed like the sandbox's "fast" preset (1 min -> 1 s, 2 min -> 2 s); quotas unchanged.
FAST_WINDOWS = {"books_window_seconds": 1.0, "projects_window_seconds": 2.0}


def demo_settings(workdir: Path, sandbox_url: str) -> Settings:
    from shared.config import load_settings
    from shared.crypto import new_key

    return load_settings(
        database_url=f"sqlite:///{workdir / 'bpsync-demo.sqlite'}",
        broker_url="memory://",
        result_backend=None,
        redis_url=None,
        secret_key=new_key(),  # a throwaway key: the demo's database is thrown away too
        web_token=secrets.token_urlsafe(16),
        data_center="US",
        projects_api_url=sandbox_url,
        books_api_url=f"{sandbox_url}/books/v3",
        accounts_url=sandbox_url,
        beat_tick_seconds=1.0,
        **FAST_WINDOWS,
    )


@click.command("demo")
@click.option("--once", is_flag=True, help="Stop after the sync and the change check instead of serving the web UI.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port of the web UI (0: any free port).",
)
@friendly_errors
def demo_command(once: bool, port: int) -> None:
    """Run the whole product against the sandbox in this process: connect, sync, change, refresh, web UI."""
    from sandbox.config import SandboxConfig
    from sandbox.limits import preset
    from sandbox.server import SandboxServer
    from scheduler.run_watch import terminal_console
    from shared.zoho.factory import reset_embedded_state

    console = terminal_console()
    with ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="bpsync-demo-"))
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        sandbox = SandboxServer(seed=SANDBOX_SEED, size="tiny", config=SandboxConfig(rate_limits=preset("fast")))
        sandbox.start()
        stack.callback(sandbox.stop)
        reset_embedded_state()  # tokens and limiter windows of an earlier demo in this process mean nothing here
        conf = demo_settings(workdir, sandbox.base_url)
        from shared.logging import configure_logging

        configure_logging(conf, level="WARNING")
        console.rule("[bold]books-projects-sync demo")
        console.print(f"sandbox (Zoho accounts, Projects, Books; 'tiny' world) at {sandbox.base_url}")
        console.print(f"database {conf.database_url} (fresh), broker memory://, worker and beat in this process")
        ok = run_demo(stack, conf, sandbox, console, once=once, port=port)
    sys.exit(0 if ok else 1)


def run_demo(stack: ExitStack, conf: Settings, sandbox, console: Console, *, once: bool, port: int) -> bool:
    from scheduler.demo_finance import finance_step
    from scheduler.demo_report import expected_changes_seen, show_errors, show_history, show_status
    from scheduler.embedded import running_beat, running_worker
    from scheduler.run_watch import watch_run
    from shared.celery_app import create_celery
    from shared.db.engine import make_engine, upgrade
    from shared.dispatch import TICK_TASK, request_sync

    upgrade(conf.database_url)
    engine = make_engine(conf.database_url)
    integration = connect_sandbox(engine, conf, sandbox, console)
    app = create_celery(conf)
    stack.enter_context(running_worker(app))
    stack.enter_context(running_beat(lambda: app.send_task(TICK_TASK), conf.beat_tick_seconds))

    console.rule("first sync")
    console.print("the beat's first tick starts it: a new integration is due at once")
    first = watch_run(engine, wait_for_first_run(engine, integration.id), console, timeout=RUN_TIMEOUT_SECONDS)
    show_status(engine, console, integration.name)
    show_history(engine, console, integration.name)
    show_errors(engine, console, integration.name)

    console.rule("a change in Zoho Projects, then a refresh")
    expected, project_id = make_change(engine, sandbox, integration, console)
    request = request_sync(engine, app, integration.id)
    console.print(f"bpsync refresh {integration.name}: sync run {request.run_id}")
    second = watch_run(engine, request.run_id, console, timeout=RUN_TIMEOUT_SECONDS)
    ok = first.finished and second.finished and expected_changes_seen(second, expected, console)
    show_status(engine, console, integration.name)

    console.rule("Finance: an invoice from the project side, an expense made in Books")
    ok = finance_step(engine, conf, app, sandbox, integration, project_id, console) and ok
    if once:
        return ok
    serve_web(conf, app, console, port)
    return ok


def connect_sandbox(engine: sa.Engine, conf: Settings, sandbox, console: Console) -> Integration:
    from sandbox.generator import credentials
    from scheduler.connect import connect

    creds = credentials(sandbox.world)
    integration = connect(
        engine,
        conf,
        name=DEMO_NAME,
        client_id=creds["client_id"],
        client_secret=creds["client_secret"],
        refresh_token=creds["admin"]["refresh_token"],
        portal_id=creds["portal_id"],
        organization_id=creds["organization_id"],
    )
    console.print(
        f"connected {integration.name!r}: Books organization {integration.books_organization_id} <-> Projects "
        f"portal {integration.projects_portal_id} (credentials checked: admin of both, stored encrypted)"
    )
    return integration


def wait_for_first_run(engine: sa.Engine, integration_id: int, timeout: float = 30.0) -> int:
    from scheduler.run_watch import latest_run_id

    deadline = time.monotonic() + timeout
    while (run_id := latest_run_id(engine, integration_id)) is None:
        if time.monotonic() > deadline:
            raise click.ClickException("the beat did not start the first sync within 30 s")
        time.sleep(0.1)
    return run_id


def make_change(
    engine: sa.Engine, sandbox, integration: Integration, console: Console
) -> tuple[dict[tuple[str, str], int], str]:
    """Rename one synced task (and, with the timesheets module, log approved time on it); what should sync, and
    the task's project (the Finance step invoices that time)."""
    import sqlalchemy as sa

    from shared.db.schema import entity_links
    from shared.modules import MODULE_ORDER

    with engine.connect() as conn:
        task_id, project_id = conn.execute(
            sa.select(entity_links.c.projects_id, entity_links.c.parent_projects_id)
            .where(
                entity_links.c.integration_id == integration.id,
                entity_links.c.entity_type == "task",
                entity_links.c.books_id.is_not(None),
            )
            .order_by(entity_links.c.id)
        ).first() or (None, None)
    if task_id is None:
        raise click.ClickException("the first sync linked no task; nothing to change")
    with sandbox.world.lock:
        old_name = sandbox.world.tasks[task_id].name
    new_name = f"{old_name} (renamed)"
    act(sandbox, "rename_task", task_id=task_id, name=new_name)
    console.print(f"renamed task {old_name!r} -> {new_name!r} in Zoho Projects")
    expected = {("tasks", "updated"): 1}
    if "timesheets" in MODULE_ORDER:
        log = act(
            sandbox,
            "log_time",
            project_id=project_id,
            task_id=task_id,
            hours="01:30",
            bill_status="Billable",
            notes="logged by the demo",
        )
        act(sandbox, "approve_log", log_id=log["log_id"])
        console.print(f"logged 1:30 billable hours on it and approved them (time log {log['log_id']})")
        expected[("timesheets", "created")] = 1
    return expected, str(project_id)


def act(sandbox, action: str, **params: object) -> dict:
    """A change made as a person would, through the sandbox's admin API."""
    import requests

    response = requests.post(f"{sandbox.base_url}/_sandbox/act", json={"action": action, **params}, timeout=10)
    if response.status_code != 200:
        raise click.ClickException(f"sandbox act {action} failed: {response.text}")
    return response.json()


def serve_web(conf: Settings, app, console: Console, port: int) -> None:
    import socket

    import uvicorn

    from scheduler.web.app import create_web_app

    host = "127.0.0.1"
    if port == 0:
        with socket.socket() as probe:
            probe.bind((host, 0))
            port = probe.getsockname()[1]
    console.rule("web UI")
    console.print("status pages, history, errors and the JSON API (the token signs you in):")
    console.print(f"  http://{host}:{port}/login?token={conf.web_token}", soft_wrap=True, highlight=False)
    console.print("the worker and the beat keep running; the Refresh buttons sync through them. Ctrl-C stops.")
    uvicorn.run(create_web_app(conf, celery=app), host=host, port=port, log_level="warning")


COMMANDS = [demo_command]
