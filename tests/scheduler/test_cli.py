"""The bpsync command as an admin meets it: real processes, real exit codes."""

import json
import os
import subprocess
import sys

BPSYNC = [sys.executable, "-m", "scheduler.cli"]


def run(args, env_extra, **kw):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BPSYNC_")} | env_extra
    return subprocess.run([*BPSYNC, *args], env=env, capture_output=True, text=True, timeout=120, **kw)


def test_version():
    out = run(["--version"], {})
    assert out.returncode == 0 and "bpsync, version" in out.stdout


def test_bad_database_url_is_one_clear_line_not_a_traceback():
    out = run(["db", "current"], {"BPSYNC_DATABASE_URL": "mysql://root@db/x"})
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "error: BPSYNC_DATABASE_URL: unknown database scheme 'mysql' (postgresql+psycopg or sqlite); "
        "e.g. BPSYNC_DATABASE_URL=postgresql+psycopg://bpsync@db:5432/bpsync"
    )


def test_malformed_broker_url_is_one_clear_line():
    out = run(["check"], {"BPSYNC_BROKER_URL": "redis//nohost"})
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith("error: BPSYNC_BROKER_URL: malformed broker URL 'redis//nohost'")


def test_unmigrated_database_names_the_command_to_run(sqlite_url):
    out = run(["check"], {"BPSYNC_DATABASE_URL": sqlite_url})
    assert out.returncode == 2
    assert "not migrated; run: bpsync db upgrade" in out.stderr


def test_a_worker_on_an_unmigrated_database_refuses_to_start_in_one_line(sqlite_url):
    # `bpsync worker` execs `python -m worker`, which checks the schema once before its pool processes start
    out = run(["worker", "--pool", "solo"], {"BPSYNC_DATABASE_URL": sqlite_url, "BPSYNC_BROKER_URL": "memory://"})
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip() == f"error: the database {sqlite_url} is not migrated; run: bpsync db upgrade"
    # its options are readable without a database
    help_text = subprocess.run(
        [sys.executable, "-m", "worker", "--help"],
        env={**os.environ, "BPSYNC_DATABASE_URL": sqlite_url, "BPSYNC_BROKER_URL": "memory://"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert help_text.returncode == 0 and "--concurrency" in help_text.stdout, help_text.stderr


def test_upgrade_then_check_runs_the_embedded_pipeline(sqlite_url):
    env = {"BPSYNC_DATABASE_URL": sqlite_url}
    upgraded = run(["db", "upgrade"], env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stderr == "", upgraded.stderr  # nothing but the answer (alembic logs its plugins at INFO)
    current = run(["db", "current", "--json"], env)
    assert json.loads(current.stdout)["up_to_date"] is True
    out = run(["check", "--json"], env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["steps"] == 3


def test_refresh_timeout_must_be_a_finite_number_of_seconds():
    # refused by the option itself, before any setting, database or broker is touched
    for bad in ("nan", "inf", "-5", "soon"):
        out = run(["refresh", "acme", "--wait", "--timeout", bad], {})
        assert out.returncode == 2, (bad, out.stderr)
        assert "Invalid value for '--timeout'" in out.stderr and "number of seconds" in out.stderr, out.stderr
        assert "Traceback" not in out.stderr
