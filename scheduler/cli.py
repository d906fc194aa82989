"""``bpsync``: the command line for admins and ops. Read commands take ``--json`` for scripts."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import MutableMapping
from typing import Any, Literal

import click

from scheduler.cli_support import emit_json, friendly_errors, settings

# The commands of scheduler/commands/, by module: a command's module loads when that command runs, so ``bpsync
# status`` builds the options of its own family alone, not of all 30 commands (~15 ms of every start; issue 19).
# tests/scheduler/test_startup.py checks this table against each module's COMMANDS.
COMMAND_FAMILIES: dict[str, tuple[str, ...]] = {
    "demo": ("demo",),
    "finance": ("finance", "invoice", "invoice-customer", "customers", "quote", "expense", "recurring-invoice"),
    "keys": ("rotate-key",),
    "lifecycle": ("disable", "enable", "update-credentials", "preferences", "delete"),
    "migrate": ("migrate",),
    "ops": ("status", "history", "errors", "retry"),
    "sync": ("connect", "refresh", "integrations"),
    "webhooks": ("webhook-url",),
}
_FAMILY_OF = {name: family for family, names in COMMAND_FAMILIES.items() for name in names}


class _FamiliesGroup(click.Group):
    """click's lazy group: ``get_command`` loads the family of the command asked for; ``commands`` (what help,
    suggestions for a typo and tests walking the tree read) loads them all."""

    _registered: dict[str, click.Command]

    @property  # click declares a plain attribute; reading it here loads every family
    def commands(self) -> MutableMapping[str, click.Command]:
        for family in COMMAND_FAMILIES:
            self._load(family)
        return self._registered

    @commands.setter
    def commands(self, value: MutableMapping[str, click.Command]) -> None:
        self._registered = dict(value)

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        name = name or cmd.name
        if name is None:
            raise TypeError("Command has no name.")
        self._registered[name] = cmd

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self._registered and cmd_name in _FAMILY_OF:
            self._load(_FAMILY_OF[cmd_name])
        return self._registered.get(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self._registered, *_FAMILY_OF})

    def _load(self, family: str) -> None:
        import importlib

        module: Any = importlib.import_module(f"scheduler.commands.{family}")
        for command in module.COMMANDS:
            self._registered.setdefault(command.name, command)


@click.group(cls=_FamiliesGroup, context_settings={"help_option_names": ["-h", "--help"]})
# the version is looked up only when asked for; command modules import heavy libraries inside their commands,
# so every command starts fast (tests/scheduler/test_startup.py)
@click.version_option(package_name="books-projects-sync", prog_name="bpsync")
def main() -> None:
    """Keep Zoho Projects and Zoho Books in sync."""
    # logging is set up by the first settings() of the command that runs (scheduler/cli_support.py)


@main.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@friendly_errors
def db_upgrade(revision: str) -> None:
    """Create or migrate the schema of BPSYNC_DATABASE_URL."""
    from shared.db import engine

    if not revision.strip():  # alembic asserts on an empty revision instead of saying so
        raise click.BadParameter("a revision such as head or 0004", param_hint="--revision")
    url = settings().database_url
    engine.upgrade(url, revision)
    click.echo(f"database at revision {engine.current_revision(engine.make_engine(url))}")


@db.command("downgrade")
@click.argument("revision")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@friendly_errors
def db_downgrade(revision: str, yes: bool) -> None:
    """Migrate the schema down to REVISION ("base" drops every table)."""
    from shared.db import engine

    if not revision.strip():  # alembic asserts on an empty revision instead of saying so
        raise click.BadParameter("a revision such as base or 0004", param_hint="REVISION")
    if not yes:
        click.confirm(f"Downgrade the database to {revision}? Data in dropped tables is lost", abort=True)
    engine.downgrade(settings().database_url, revision)
    click.echo(f"database downgraded to {revision}")


@db.command("current")
@click.option("--json", "as_json", is_flag=True)
@friendly_errors
def db_current(as_json: bool) -> None:
    """Show the schema revision of the database and the one this version needs."""
    from shared.db import engine

    current = engine.current_revision(engine.make_engine(settings().database_url))
    head = engine.head_revision()
    if as_json:
        emit_json({"current": current, "head": head, "up_to_date": current == head})
    else:
        click.echo(f"current: {current or '(empty)'}  head: {head}")


def _exec_celery(args: list[str]) -> None:
    celery = shutil.which("celery") or "celery"
    os.execvp(celery, [celery, "-A", "worker.app", *args])


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
@friendly_errors
def worker(ctx: click.Context) -> None:
    """Run a Celery worker on the sync and instant queues (extra arguments go to celery's worker command)."""
    settings()  # a bad setting is refused here, in one line
    # ``python -m worker`` checks the schema itself, once, before its pool processes start (worker/__main__.py)
    os.execv(sys.executable, [sys.executable, "-m", "worker", *ctx.args])


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
@friendly_errors
def beat(ctx: click.Context) -> None:
    """Run Celery beat (the periodic dispatcher tick); extra arguments go to celery."""
    url = settings().database_url  # a bad setting is refused before SQLAlchemy is imported
    from shared.db.engine import require_schema

    require_schema(url)
    _exec_celery(["beat", *ctx.args])


@main.command()
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for the chain.")
@click.option("--json", "as_json", is_flag=True)
@friendly_errors
def check(timeout: float, as_json: bool) -> None:
    """Run a three-task chain through the broker and workers and confirm each step wrote to the database.

    In embedded mode (memory:// broker) the worker runs inside this command.
    """
    from contextlib import nullcontext

    from scheduler.checks import run_check
    from scheduler.embedded import running_worker
    from shared.celery_app import create_celery
    from shared.db.engine import require_schema

    conf = settings()
    require_schema(conf.database_url)
    app = create_celery(conf)
    with running_worker(app) if conf.embedded else nullcontext():
        result = run_check(app, conf.database_url, timeout=timeout)
    if as_json:
        emit_json(
            {
                "ok": result.ok,
                "steps": result.steps_done,
                "seconds": round(result.seconds, 3),
                "workers": result.hostnames,
            }
        )
    else:
        state = "ok" if result.ok else "FAILED"
        click.echo(f"{state}: {result.steps_done}/3 steps in {result.seconds:.2f}s via {', '.join(result.hostnames)}")
    sys.exit(0 if result.ok else 1)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=int)
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--size", type=click.Choice(["tiny", "small", "large"]), default="small", show_default=True)
@click.option("--rate-limits", type=click.Choice(["zoho", "off", "fast"]), default="zoho", show_default=True)
@click.option("--legacy", is_flag=True, help="Books also holds what Zoho's legacy integration left (bpsync migrate).")
def sandbox(
    host: str, port: int, seed: int, size: Literal["tiny", "small", "large"], rate_limits: str, legacy: bool
) -> None:
    """Serve the Zoho emulators (accounts, Projects, Books) on one port; point the BPSYNC_*_URL settings at it."""
    from contextlib import suppress

    from sandbox.server import serve
    from shared.config import ConfigError

    with suppress(ConfigError):  # logging as configured; the sandbox needs no other setting
        settings()

    serve(host=host, port=port, seed=seed, size=size, rate_limits=rate_limits, legacy=legacy)


@main.command()
def keygen() -> None:
    """Print a new BPSYNC_SECRET_KEY for encrypting stored credentials."""
    from shared.crypto import new_key

    click.echo(new_key())


# Tokens that ship in examples and templates (compose's old default among them): anyone can guess them.
KNOWN_DEFAULT_TOKENS = {"changeme", "secret", "token", "password", "admin", "test", "default", "webtoken", "bpsync"}
WEB_TOKEN_MIN_LENGTH = 24


def web_token_problem(token: str | None) -> str | None:
    """Why ``token`` must not guard a web app reachable by others (None: it may)."""
    fix = "e.g. BPSYNC_WEB_TOKEN=$(openssl rand -hex 24)"
    if not token:
        return f"BPSYNC_WEB_TOKEN: not set; outside embedded mode the web app needs a token; {fix}"
    if "".join(c for c in token.lower() if c.isalnum()) in KNOWN_DEFAULT_TOKENS:
        return f"BPSYNC_WEB_TOKEN: {token!r} is a well-known default; {fix}"
    if len(token) < WEB_TOKEN_MIN_LENGTH or len(set(token)) < 8:
        return f"BPSYNC_WEB_TOKEN: too short or too simple (use {WEB_TOKEN_MIN_LENGTH}+ random characters); {fix}"
    return None


@main.command()
@click.option("--host", default=None, help="Default: from BPSYNC_WEB_BIND.")
@click.option("--port", default=None, type=int, help="Default: from BPSYNC_WEB_BIND.")
@friendly_errors
def web(host: str | None, port: int | None) -> None:
    """Serve the status pages, the JSON API (/api), /metrics and the webhook receiver.

    In embedded mode (memory:// broker) this process also runs the worker and the beat tick, since a refresh
    sent through an in-memory broker only reaches a worker in the same process.
    """
    from shared.config import ConfigError

    conf = settings()  # a bad setting is refused before the web stack is imported (~1 s)
    # embedded mode is one person's machine on 127.0.0.1 (the demo prints its own sign-in URL); anything else is
    # reachable by others, and a guessable token there opens every integration's status and actions
    problem = None if conf.embedded else web_token_problem(conf.web_token)
    if problem:
        raise ConfigError(problem)
    from contextlib import ExitStack

    import uvicorn

    from scheduler.embedded import running_beat, running_worker
    from scheduler.web.app import create_web_app
    from shared.celery_app import create_celery
    from shared.db.engine import require_schema
    from shared.dispatch import TICK_TASK

    require_schema(conf.database_url)
    app = create_celery(conf)
    with ExitStack() as stack:
        if conf.embedded:
            stack.enter_context(running_worker(app))
            stack.enter_context(running_beat(lambda: app.send_task(TICK_TASK), conf.beat_tick_seconds))
        web_app = create_web_app(conf, celery=app)
        uvicorn.run(web_app, host=host or conf.web_host, port=port or conf.web_port, log_level="warning")


if __name__ == "__main__":
    main()
