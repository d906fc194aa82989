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


def test_reading_the_status_loads_no_worker_web_or_migration_library(sqlite_migrated_url):
    """``bpsync status`` needs SQLAlchemy and the settings' pydantic, not pydantic-settings (shared/config.py reads
    the environment itself), Celery, alembic, the Zoho clients or the web stack."""
    import os

    env = {**os.environ, "BPSYNC_DATABASE_URL": sqlite_migrated_url}
    env = {k: v for k, v in env.items() if not k.startswith("BPSYNC_") or k == "BPSYNC_DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), "status", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert '"integrations": []' in done.stdout
    assert loaded <= {"sqlalchemy", "pydantic"}, loaded
