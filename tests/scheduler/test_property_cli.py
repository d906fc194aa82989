"""Issue 15: every ``bpsync`` command fed random and hostile arguments (hypothesis, in-process with CliRunner).

For each command of the CLI (walked from the click group, so a new command is covered without touching this
file): arguments and option values from the real integration to huge, negative, unicode, empty and wrongly typed
ones. A command never ends in a traceback, exits 0, 1, 2 or 3, and a refusal (``error: ...`` or a usage error)
leaves every table as it was. Embedded settings against a migrated SQLite database holding one integration; Zoho
is unreachable (a closed port), so what a command would ask Zoho fails fast and must be reported, not raised.

The commands that serve or run until stopped (worker, beat, web, sandbox, demo) and ``check`` (it waits for a
worker that embedded mode only runs inside ``web``) are left out: their start-up refusals are tested in
tests/shared/test_config.py and tests/test_deploy_files.py.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.cli import main
from shared import crypto
from shared.clock import utcnow
from shared.config import get_settings, load_settings
from shared.db import engine as dbengine
from shared.db.integrations import create_integration
from shared.db.schema import entity_links, metadata, sync_errors

ZOHO_DOWN = "http://127.0.0.1:9"
PROJECT_ID = "170876000000001001"
LONG_RUNNING = {"worker", "beat", "web", "sandbox", "demo", "check"}
EXIT_CODES = {0, 1, 2, 3}
# per command; BPSYNC_PROPERTY_EXAMPLES=300 for a deeper local run
EXAMPLES = int(os.environ.get("BPSYNC_PROPERTY_EXAMPLES", "15"))

PROPERTY = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _commands() -> list[tuple[list[str], click.Command]]:
    found: list[tuple[list[str], click.Command]] = []

    def walk(command: click.Command, path: list[str]) -> None:
        if isinstance(command, click.Group):
            for name, sub in sorted(command.commands.items()):
                walk(sub, [*path, name])
        elif path[0] not in LONG_RUNNING:
            found.append((path, command))

    walk(main, [])
    return found


COMMANDS = _commands()


# ---------------------------------------------------------------------------------------------- database
@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file with one integration ("acme", id 1), a linked project and an open sync error."""
    path = tmp_path_factory.mktemp("property-cli") / "template.sqlite"
    url = f"sqlite:///{path}"
    dbengine.upgrade(url)
    engine = dbengine.make_engine(url)
    integration = create_integration(
        engine,
        _settings(url, KEY),
        name="acme",
        organization_id="100200300",
        portal_id="400500600",
        credentials={"client_id": "1000.CLIENT", "client_secret": "secret", "refresh_token": "1000.refresh"},
    )
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            entity_links.insert().values(
                integration_id=integration.id,
                entity_type="project",
                projects_id=PROJECT_ID,
                books_id="460000000000001",
                created_at=now,
            )
        )
        conn.execute(
            sync_errors.insert().values(
                integration_id=integration.id,
                module="projects",
                entity_type="project",
                source_id="170876000000001002",
                reason_code="missing_client",
                message="the project has no primary client",
                first_seen_at=now,
                last_seen_at=now,
            )
        )
    engine.dispose()
    return path


KEY = crypto.new_key()


def _env(url: str, key: str) -> dict[str, str]:
    return {
        "BPSYNC_DATABASE_URL": url,
        "BPSYNC_BROKER_URL": "memory://",
        "BPSYNC_SECRET_KEY": key,
        "BPSYNC_PROJECTS_API_URL": ZOHO_DOWN,
        "BPSYNC_BOOKS_API_URL": ZOHO_DOWN + "/books/v3",
        "BPSYNC_ACCOUNTS_URL": ZOHO_DOWN,
        "BPSYNC_HTTP_RETRY_ATTEMPTS": "1",
        "BPSYNC_HTTP_TIMEOUT_SECONDS": "2",
    }


def _settings(url: str, key: str) -> Any:
    return load_settings(**{k.removeprefix("BPSYNC_").lower(): v for k, v in _env(url, key).items()})


@dataclass
class Cli:
    url: str
    engine: sa.Engine
    env: dict[str, str]

    def run(self, args: list[str]) -> Any:
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(main, args, env=self.env, input="")
        finally:
            get_settings.cache_clear()

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        with self.engine.connect() as conn:
            return {
                name: sorted((tuple(row) for row in conn.execute(sa.select(table))), key=repr)
                for name, table in metadata.tables.items()
                if sa.inspect(conn).has_table(name)
            }


@pytest.fixture
def cli(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    """Each command gets its own copy of the database: what one command writes never blinds another's examples."""
    for key in [k for k in os.environ if k.startswith("BPSYNC_")]:
        monkeypatch.delenv(key)
    path = tmp_path / "cli.sqlite"
    shutil.copyfile(template, path)
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    yield Cli(url, engine, _env(url, KEY))
    engine.dispose()


# ---------------------------------------------------------------------------------------------- strategies
BOUNDARY = ["", " ", "0", "-1", "1", "2147483648", "9223372036854775808", "1" * 400, "é", "\u202e", "--", "-x"]
REFS = ["acme", "1", PROJECT_ID, "ACME", "acme "]
NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 2**31, 2**63, 2**64, 10**30, 10**400]),
).map(str)
FLOATS = st.sampled_from(["0", "-1", "0.5", "24", "nan", "inf", "-inf", "1e308", "1e999", "abc", ""])
# --timeout: what is not a finite number of seconds (nan, inf, 1e999, -1) is refused by the option itself
TIMEOUTS = st.sampled_from(["0", "-1", "0.05", "nan", "inf", "1e999", "abc", ""])
DATES = st.sampled_from(["2026-01-01", "2026-02-30", "0001-01-01", "9999-12-31", "01-31-2026", "yesterday", ""])
text = st.text(max_size=30)


def _values(param: click.Parameter) -> st.SearchStrategy[str]:
    kind = param.type
    if isinstance(kind, click.Choice):
        return st.one_of(st.sampled_from([str(c) for c in kind.choices]), text, st.sampled_from(BOUNDARY))
    if param.name == "timeout":
        return TIMEOUTS
    if isinstance(kind, click.types.FloatParamType):
        return st.one_of(FLOATS, NUMBERS)
    if isinstance(kind, click.types.IntParamType | click.types.IntRange):
        return st.one_of(NUMBERS, st.sampled_from(BOUNDARY), text)
    if isinstance(kind, click.DateTime) or "date" in (param.name or ""):
        return st.one_of(DATES, text)
    return st.one_of(st.sampled_from(REFS), st.sampled_from(BOUNDARY), NUMBERS, text)


@st.composite
def command_lines(draw: st.DrawFn, path: list[str], command: click.Command) -> list[str]:
    args: list[str] = list(path)
    for param in command.params:
        if isinstance(param, click.Argument):
            if draw(st.integers(0, 9)) > 0:  # mostly given; sometimes missing
                args.append(draw(_values(param)))
            continue
        assert isinstance(param, click.Option)
        if param.is_flag:
            if draw(st.booleans()):
                args.append(param.opts[0])
            continue
        for _ in range(draw(st.integers(0, 2 if param.multiple else 1))):
            args += [param.opts[0], draw(_values(param))]
    if any(param.name == "timeout" for param in command.params) and "--timeout" not in args:
        # embedded mode runs a refresh inside the command until it ends (--wait or not): bound it, as an admin would
        args += ["--timeout", "0"]
    return args


# --------------------------------------------------------------------------------------------------- tests
def _refused(result: Any) -> bool:
    """Refused before doing anything: its first words are the error (a run that timed out printed its start)."""
    first = result.output.lstrip()
    return result.exit_code != 0 and first.startswith(("error:", "Usage:", "Error:", "Aborted", "Downgrade"))


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_no_command_ends_in_a_traceback_and_a_refusal_writes_nothing(
    cli: Cli, path: list[str], command: click.Command
) -> None:
    @PROPERTY
    @given(args=command_lines(path, command))
    def check(args: list[str]) -> None:
        before = cli.snapshot()
        result = cli.run(args)
        shown = f"bpsync {' '.join(map(repr, args))} -> {result.exit_code}\n{result.output[-800:]}"
        assert result.exception is None or isinstance(result.exception, SystemExit), shown
        assert "Traceback" not in result.output, shown
        assert result.exit_code in EXIT_CODES, shown
        if _refused(result):
            assert cli.snapshot() == before, f"a refused command wrote: {shown}"

    check()


def test_every_command_is_covered() -> None:
    names = {" ".join(p) for p, _ in COMMANDS}
    assert {"connect", "refresh", "webhook-url", "db downgrade", "invoice", "preferences"} <= names
    assert not names & LONG_RUNNING
