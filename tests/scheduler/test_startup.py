"""Every bpsync command starts fast: starting the CLI (``--version``, ``--help``, a command's ``--help``) imports
none of the heavy libraries; a command loads them when it runs. Checked by what is imported, not by timing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = (
    "alembic",
    "celery",
    "cryptography",
    "jinja2",
    "kombu",
    "psycopg",
    "pydantic",
    "pydantic_settings",
    "requests",
    "sqlalchemy",
    "starlette",
    "uvicorn",
)
PROBE = """
import json, sys
from scheduler.cli import main
try:
    main(sys.argv[1:], prog_name="bpsync")
except SystemExit:
    pass
print(json.dumps(sorted(m for m in {heavy} if m in sys.modules)))
"""


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["status", "--help"], ["db", "--help"]])
def test_starting_bpsync_imports_no_heavy_library(args):
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def _status(url: str, *args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """``bpsync status ARGS`` and the heavy libraries it loaded (the probe's last line)."""
    return _bpsync(url, "status", *args)


def _bpsync(url: str, *args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """``bpsync ARGS`` and the heavy libraries it loaded (the probe's last line)."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("BPSYNC_")} | {"BPSYNC_DATABASE_URL": url}
    probe = PROBE.replace("except SystemExit:\n    pass", "except SystemExit as exc:\n    code = exc.code")
    probe = "code = 0\n" + probe + "sys.exit(code)\n"
    done = subprocess.run(
        [sys.executable, "-c", probe.format(heavy=HEAVY), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    lines = done.stdout.strip().splitlines()
    return done, set(json.loads(lines[-1])) if lines else set()


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_reading_the_status_loads_neither_sqlalchemy_nor_the_worker_web_or_migration_libraries(database, request):
    """``bpsync status`` reads with the driver alone (scheduler/status/source.py) and validates the settings without
    pydantic (shared/config.py: plain checks of its declarations): no SQLAlchemy, pydantic, Celery, alembic, Zoho
    clients or web stack."""
    url = request.getfixturevalue("sqlite_migrated_url" if database == "sqlite" else "pg_migrated_url")
    done, loaded = _status(url, "--json")
    assert done.returncode == 0, done.stderr
    assert '"integrations": []' in done.stdout
    assert loaded <= {"psycopg"}, loaded
    done, loaded = _status(url, "acme")  # one integration: the lookup's error loads SQLAlchemy, as errors may
    assert done.returncode == 2 and "no integration 'acme'" in done.stderr, done.stderr


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_reading_the_history_and_errors_loads_no_sqlalchemy_either(database, request):
    """``bpsync history`` and ``bpsync errors`` read as the status does (scheduler/status/reads.py), in JSON and
    text, summary and details."""
    from tests.scheduler.ops_rows import seed

    url = request.getfixturevalue("sqlite_migrated_url" if database == "sqlite" else "pg_migrated_url")
    seed(url).dispose()
    shows = {
        ("history", "acme", "--json"): '"trigger": "beat"',
        ("history", "--module", "tasks", "--limit", "3"): "RUN  INTEGRATION",
        ("errors", "acme", "--json"): '"reason_code": "parent_failed"',
        ("errors",): "fix: fix no_primary_client",
        ("errors", "beta", "--module", "bugs", "--details"): "BLOCKED BY",
    }
    for args, shown in shows.items():
        done, loaded = _bpsync(url, *args)
        assert done.returncode == 0 and shown in done.stdout, (args, done.stdout, done.stderr)
        assert loaded <= {"psycopg"}, (args, loaded)
    for command in ("history", "errors"):  # the lookup's error loads SQLAlchemy, as for the status
        done, _ = _bpsync(url, command, "nope", "--json")
        assert done.returncode == 2 and "no integration 'nope'" in done.stderr, done.stderr


def test_the_status_of_a_database_not_at_head_says_which_command_fixes_it(sqlite_url, tmp_path):
    done, _ = _status(sqlite_url, "--json")  # never migrated
    assert done.returncode == 2 and "not migrated; run: bpsync db upgrade" in done.stderr, done.stderr
    done, _ = _status(f"sqlite:///{tmp_path / 'absent' / 'db.sqlite'}")
    assert done.returncode == 2 and "not migrated; run: bpsync db upgrade" in done.stderr, done.stderr
    for command in ("history", "errors"):  # read the way the status is, refused the same way
        done, _ = _bpsync(sqlite_url, command, "--json")
        assert done.returncode == 2 and "not migrated; run: bpsync db upgrade" in done.stderr, done.stderr


def test_the_command_table_names_every_command_of_every_module_once():
    """scheduler/cli.py loads a command's module when the command runs, from its table of which module defines
    which command: a command missing there would be missing from bpsync."""
    import importlib
    import pkgutil

    import scheduler.commands as package
    from scheduler.cli import COMMAND_FAMILIES

    defined = {}
    for info in pkgutil.iter_modules(package.__path__):
        commands = importlib.import_module(f"{package.__name__}.{info.name}").COMMANDS
        defined[info.name] = tuple(command.name for command in commands)
    assert defined == COMMAND_FAMILIES


def test_a_command_loads_its_own_module_of_commands_alone():
    probe = PROBE.format(heavy="[m for m in sys.modules if m.startswith('scheduler.commands.')]")
    args = [sys.executable, "-c", probe, "history", "--help"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == ["scheduler.commands.ops"]


def test_every_name_scheduler_status_offers_loads():
    import scheduler.status as status

    assert all(getattr(status, name) is not None for name in status.__all__)
    with pytest.raises(AttributeError):
        _ = status.no_such_name
