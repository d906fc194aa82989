"""Using the product by hand, as the README's "Using the sandbox by hand" says: ``bpsync sandbox`` prints the lines
that point bpsync at it (run here exactly as printed), and the one-shot commands say what happened and what to
try when a wait ends early or Zoho does not answer. Real processes throughout (the one-shot commands forked from a
server that imported their libraries, tests/forked.py; ``bpsync sandbox`` a new interpreter)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Iterator

import pytest

from sandbox.generator import credentials
from scheduler.connect import connect
from scheduler.zoho_failures import one_shot_failure
from shared.config import load_settings
from shared.db.engine import make_engine
from shared.zoho.errors import RateLimited, ServerError
from shared.zoho.factory import reset_embedded_state
from tests.scheduler.test_sync_commands import run

BPSYNC = [sys.executable, "-m", "scheduler.cli"]
SECRET_KEY = "kRSjdTuoQ36b6JeNS1EPK5sIt9Ew3qwDvhCEtvCtUGs="
CLOSED = "http://127.0.0.1:1"  # nothing listens on port 1
LAST_LINE = "bpsync refresh"


def _env(extra: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("BPSYNC_")} | extra


@pytest.fixture
def printed_sandbox() -> Iterator[list[str]]:
    """``bpsync sandbox`` in its own process, and the lines it printed up to the connect instructions."""
    process = subprocess.Popen(
        [*BPSYNC, "sandbox", "--port", "0", "--size", "tiny", "--rate-limits", "off"],
        env=_env({}),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        for line in process.stdout:  # blocks until printed; pytest-timeout ends a hung test
            lines.append(line.rstrip("\n"))
            if line.startswith(LAST_LINE):
                break
        yield lines
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.slow  # bpsync processes: a sandbox, a connect and a sync: started early under xdist
def test_the_lines_bpsync_sandbox_prints_connect_and_sync_as_printed(printed_sandbox, sqlite_url):
    lines = printed_sandbox
    exports = dict(
        shlex.split(line.removeprefix("export "))[0].split("=", 1) for line in lines if line.startswith("export ")
    )
    base = exports["BPSYNC_ACCOUNTS_URL"]
    assert exports["BPSYNC_PROJECTS_API_URL"] == base and exports["BPSYNC_BOOKS_API_URL"] == f"{base}/books/v3"
    # --rate-limits off: our own limiter would pace the sync to Zoho's quotas (minutes instead of seconds)
    assert exports["BPSYNC_RATE_LIMITS_ENABLED"] == "false"
    assert any(f"{base}/_sandbox/credentials" in line for line in lines)

    env = {**exports, "BPSYNC_DATABASE_URL": sqlite_url, "BPSYNC_SECRET_KEY": SECRET_KEY}
    commands = [shlex.split(line) for line in lines if line.startswith("bpsync ")]
    assert [c[1] for c in commands] == ["db", "connect", "refresh"]
    done = [run(command[1:], env) for command in commands]
    for command, result in zip(commands, done, strict=True):
        assert result.returncode == 0, (command, result.stderr)
    assert "connected 'sandbox'" in done[1].stdout
    assert "sync run 1: partial" in done[2].stdout  # the seeded world holds records that must fail


@pytest.fixture
def connected_url(sqlite_migrated_url, sandbox_factory) -> str:
    """An integration 'acme' connected in-process to a tiny sandbox; the commands below then run without it."""
    reset_embedded_state()
    server = sandbox_factory(size="tiny")
    creds = credentials(server.world)
    urls = {"projects_api_url": server.base_url, "books_api_url": f"{server.base_url}/books/v3"}
    settings = load_settings(
        database_url=sqlite_migrated_url,
        secret_key=SECRET_KEY,
        accounts_url=server.base_url,
        rate_limits_enabled=False,
        **urls,
    )
    connect(
        make_engine(sqlite_migrated_url),
        settings,
        name="acme",
        client_id=creds["client_id"],
        client_secret=creds["client_secret"],
        refresh_token=creds["admin"]["refresh_token"],
        organization_id=creds["organization_id"],
    )
    return sqlite_migrated_url


def test_a_refresh_whose_wait_times_out_says_the_run_goes_on_and_how_to_watch_it(connected_url, redis_url):
    # a Redis broker with no worker: the run is queued and cannot end within the wait
    env = {
        "BPSYNC_DATABASE_URL": connected_url,
        "BPSYNC_SECRET_KEY": SECRET_KEY,
        "BPSYNC_BROKER_URL": redis_url,
        "BPSYNC_REDIS_KEY_PREFIX": "by-hand-test",
    }
    result = run(["refresh", "acme", "--wait", "--timeout", "0.5"], env)
    assert result.returncode == 1
    error = result.stderr
    assert "sync run 1 is still running after 0.5 s" in error
    assert "goes on in the workers" in error
    assert "bpsync status acme" in error and "bpsync history acme" in error
    assert "queues a second sync" in error and "Traceback" not in error


def test_connect_with_zoho_unreachable_says_nothing_was_stored_and_what_to_try(sqlite_migrated_url):
    env = {
        "BPSYNC_DATABASE_URL": sqlite_migrated_url,
        "BPSYNC_SECRET_KEY": SECRET_KEY,
        "BPSYNC_ACCOUNTS_URL": CLOSED,
        "BPSYNC_PROJECTS_API_URL": CLOSED,
        "BPSYNC_BOOKS_API_URL": f"{CLOSED}/books/v3",
        "BPSYNC_HTTP_RETRY_BASE_SECONDS": "0",
    }
    result = run(["connect", "--name", "acme", "--client-id", "a", "--client-secret", "b", "--refresh-token", "c"], env)
    assert result.returncode == 2
    error = result.stderr
    assert f"Zoho Accounts did not answer at {CLOSED}" in error
    assert "nothing was stored" in error and "BPSYNC_ACCOUNTS_URL" in error
    assert "run the same command again" in error
    assert "will be retried" not in error and "Traceback" not in error
    assert run(["integrations", "--json"], env).stdout.strip() == "[]"


def test_a_command_reading_zoho_names_the_address_that_did_not_answer(connected_url):
    env = {
        "BPSYNC_DATABASE_URL": connected_url,
        "BPSYNC_SECRET_KEY": SECRET_KEY,
        "BPSYNC_ACCOUNTS_URL": CLOSED,
        "BPSYNC_PROJECTS_API_URL": CLOSED,
        "BPSYNC_BOOKS_API_URL": f"{CLOSED}/books/v3",
        "BPSYNC_HTTP_RETRY_BASE_SECONDS": "0",
    }
    result = run(["customers", "acme"], env)
    assert result.returncode == 1
    assert f"did not answer at {CLOSED}" in result.stderr
    assert "run the same command again" in result.stderr and "Traceback" not in result.stderr


def test_passing_faults_and_quota_waits_say_when_to_run_the_command_again():
    settings = load_settings(database_url="sqlite://", secret_key=SECRET_KEY)
    busy = RateLimited("too many requests", api="books", endpoint="GET /contacts", retry_at=1_750_000_000.0)
    assert "reopens at 15:06:40 UTC: run the same command again after that" in one_shot_failure(busy, settings)
    fault = ServerError("Internal error", api="projects", endpoint="GET /portals/", status=500)
    message = one_shot_failure(fault, settings, outcome="nothing was stored")
    assert message.startswith("Zoho Projects failed (GET /portals/: Internal error, HTTP 500); nothing was stored.")
    assert "run the same command again in a minute" in message
