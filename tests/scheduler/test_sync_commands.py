"""``bpsync connect``, ``refresh``, ``integrations`` and the lifecycle commands (``disable``, ``enable``,
``update-credentials``, ``preferences``, ``delete``) as an admin runs them: real processes against the sandbox
(forked from a server that imported their libraries: tests/forked.py).

The CLI runs in embedded mode (memory:// broker), so ``refresh`` runs the Celery worker inside its own process.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os

import pytest
import sqlalchemy as sa
from celery import Celery

from sandbox.accounts import mint_refresh_token, revoke_refresh_token
from sandbox.generator import credentials
from scheduler.connect import connect
from shared import crypto
from shared.clock import utcnow
from shared.config import load_settings
from shared.db.engine import make_engine
from shared.db.integrations import get_integration, update_integration
from shared.db.schema import integrations, module_runs
from shared.dispatch import request_sync
from shared.zoho.factory import reset_embedded_state
from tests import forked

SECRET_KEY = "kRSjdTuoQ36b6JeNS1EPK5sIt9Ew3qwDvhCEtvCtUGs="


@pytest.fixture
def world(sandbox_factory):
    reset_embedded_state()
    return sandbox_factory(size="tiny")


def base_env(url, server):
    return {
        "BPSYNC_DATABASE_URL": url,
        "BPSYNC_SECRET_KEY": SECRET_KEY,
        "BPSYNC_PROJECTS_API_URL": server.base_url,
        "BPSYNC_BOOKS_API_URL": f"{server.base_url}/books/v3",
        "BPSYNC_ACCOUNTS_URL": server.base_url,
        # the sandbox fixture has its limits off; a full sync of even the tiny world needs >100 Projects calls
        "BPSYNC_RATE_LIMITS_ENABLED": "false",
    }


def run(args, env_extra, timeout=120):
    """``bpsync *args`` (``python -m scheduler.cli``), forked from a server that imported its libraries
    (tests/forked.py)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BPSYNC_")} | env_extra
    return forked.run("scheduler.cli", list(args), env=env, cwd=os.getcwd(), timeout=timeout)


def connected(url, server, name="acme"):
    """An integration connected in-process to the migrated database ``url`` (the CLI path is tested below)."""
    creds = credentials(server.world)
    settings = load_settings(**{k.removeprefix("BPSYNC_").lower(): v for k, v in base_env(url, server).items()})
    engine = make_engine(url)
    connect(
        engine,
        settings,
        name=name,
        client_id=creds["client_id"],
        client_secret=creds["client_secret"],
        refresh_token=creds["admin"]["refresh_token"],
        organization_id=creds["organization_id"],
    )
    return engine, settings


def test_connect_with_secrets_from_the_environment_then_refresh_shows_progress(sqlite_url, world):
    creds = credentials(world.world)
    env = base_env(sqlite_url, world)
    assert run(["db", "upgrade"], env).returncode == 0
    secrets_env = {
        "BPSYNC_CONNECT_CLIENT_ID": creds["client_id"],
        "BPSYNC_CONNECT_CLIENT_SECRET": creds["client_secret"],
        "BPSYNC_CONNECT_REFRESH_TOKEN": creds["admin"]["refresh_token"],
    }
    out = run(
        [
            "connect",
            "--name",
            "acme",
            "--organization",
            creds["organization_id"],
            "--cutoff-date",
            "2024-01-31",
            "--interval-hours",
            "12",
            "--json",
        ],
        env | secrets_env,
    )
    assert out.returncode == 0, out.stderr
    assert creds["client_secret"] not in out.stdout and creds["admin"]["refresh_token"] not in out.stdout
    made = json.loads(out.stdout)
    assert (made["name"], made["projects_portal_id"], made["timesheet_cutoff_date"]) == (
        "acme",
        creds["portal_id"],
        "2024-01-31",
    )
    assert made["sync_interval_hours"] == 12

    out = run(["refresh", "acme", "--wait"], env)
    assert out.returncode == 0, out.stderr  # partial (seeded bad records) is a warning, not a failure
    assert "started sync run 1 of 'acme' (all modules)" in out.stdout
    for module in ("users", "clients", "projects", "tasks", "bugs"):
        assert module in out.stdout
    assert "sync run 1: partial" in out.stdout
    assert "warning:" in out.stderr and "see: bpsync errors acme" in out.stderr

    listed = json.loads(run(["integrations", "--json"], env).stdout)
    assert [i["name"] for i in listed] == ["acme"] and "credentials" not in listed[0]


def test_refresh_joins_the_running_sync_and_finishes_it(sqlite_migrated_url, world):
    engine, _ = connected(sqlite_migrated_url, world)
    # A sync whose worker is gone: its messages were in another process's memory broker.
    orphan = request_sync(engine, Celery("gone", broker="memory://"), get_integration(engine, "acme").id)
    out = run(["refresh", "acme", "--module", "tasks", "--json"], base_env(sqlite_migrated_url, world))
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert (report["run_id"], report["coalesced"], report["joined"]) == (orphan.run_id, True, "running")
    assert report["status"] in ("succeeded", "partial")
    assert [m["module"] for m in report["modules"]][:2] == ["users", "clients"]


def test_a_failed_sync_exits_1_with_the_reason(sqlite_migrated_url, world):
    engine, settings = connected(sqlite_migrated_url, world)
    creds = credentials(world.world)
    revoked = {"client_id": creds["client_id"], "client_secret": creds["client_secret"], "refresh_token": "1000.x.y"}
    update_integration(engine, get_integration(engine, "acme").id, credentials=crypto.seal(settings, revoked))
    out = run(["refresh", "acme", "--wait"], base_env(sqlite_migrated_url, world))
    assert out.returncode == 1, out.stdout + out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("error: sync run 1 failed (") and "refresh token" in last


@pytest.fixture
def cli(monkeypatch):
    """The CLI in this process (for checks that start no worker): env as given, settings re-read per call."""
    from click.testing import CliRunner

    from scheduler.cli import main
    from shared.config import get_settings

    for key in [k for k in os.environ if k.startswith("BPSYNC_")]:
        monkeypatch.delenv(key)

    def invoke(args, env):
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(main, args, env=env, catch_exceptions=False)
        finally:
            get_settings.cache_clear()

    return invoke


def test_bad_input_is_one_line_and_exit_2(sqlite_migrated_url, world, cli):
    creds = credentials(world.world)
    env = base_env(sqlite_migrated_url, world)
    missing = cli(["connect", "--name", "x", "--client-id", creds["client_id"]], env)
    assert missing.exit_code == 2
    assert missing.stderr.strip() == (
        "error: missing --client-secret; pass it or set BPSYNC_CONNECT_CLIENT_SECRET (keeps secrets out of shell "
        "history)"
    )
    bad = cli(
        [
            "connect",
            "--name",
            "x",
            "--client-id",
            creds["client_id"],
            "--client-secret",
            "nope",
            "--refresh-token",
            creds["admin"]["refresh_token"],
        ],
        env,
    )
    assert bad.exit_code == 2 and bad.stderr.startswith("error: Zoho refused the credentials")
    assert "nope" not in bad.stderr and "Traceback" not in bad.stderr
    for args, message in (
        (["refresh", "nobody"], "error: no integration 'nobody'"),
        (["connect", "--name", "x", "--cutoff-date", "31.01.2024"], "'31.01.2024' does not match the format"),
    ):
        out = cli(args, env)
        assert out.exit_code == 2 and message in out.stderr, out.stderr
    assert json.loads(cli(["integrations", "--json"], env).stdout) == []


def test_refresh_refuses_an_unknown_module_or_a_disabled_integration(sqlite_migrated_url, world, cli):
    connected(sqlite_migrated_url, world)
    env = base_env(sqlite_migrated_url, world)
    out = cli(["refresh", "acme", "--module", "invoices"], env)
    assert out.exit_code == 2 and out.stderr.startswith("error: unknown module 'invoices'; choose one of: users")
    assert cli(["disable", "acme"], env).exit_code == 0
    out = cli(["refresh", "acme"], env)
    assert out.exit_code == 2
    assert out.stderr.strip() == "error: integration 'acme' is disabled; enable it first: bpsync enable acme"
    assert cli(["enable", "acme"], env).exit_code == 0  # the command the hint names exists and works


@pytest.mark.postgres
def test_refresh_wait_on_postgres(pg_migrated_url, world):
    connected(pg_migrated_url, world)
    out = run(["refresh", "acme", "--module", "projects", "--wait", "--json"], base_env(pg_migrated_url, world))
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert [m["module"] for m in report["modules"]] == ["projects", "tasks", "bugs", "timesheets"]
    assert report["status"] in ("succeeded", "partial") and report["modules"][0]["fetched"] > 0


def test_webhook_url_shows_the_token_once_and_rotate_makes_a_new_one(sqlite_migrated_url, world, cli):
    engine, _ = connected(sqlite_migrated_url, world)
    integration_id = get_integration(engine, "acme").id
    env = base_env(sqlite_migrated_url, world)
    first = json.loads(cli(["webhook-url", "acme", "--json", "--base-url", "https://sync.example.com/"], env).stdout)
    assert first["url"].startswith(f"https://sync.example.com/webhooks/projects/{integration_id}?token=")
    token = first["url"].split("token=")[1]
    assert first["books_url"] == f"https://sync.example.com/webhooks/books/{integration_id}?token={token}"
    assert "timelog.approved" in first["events"] and '"project_id"' in first["body"]
    with engine.connect() as conn:
        stored = conn.execute(sa.select(integrations.c.webhook_token_sha256)).scalar()
    assert stored == hashlib.sha256(token.encode()).hexdigest() and token not in stored  # only its digest
    again = cli(["webhook-url", "acme"], env | {"BPSYNC_PUBLIC_URL": "https://sync.example.com"})
    assert again.exit_code == 1 and again.stdout == "" and token not in again.stderr
    assert "shown only once" in again.stderr and "webhook-url acme --rotate" in again.stderr
    rotated = cli(["webhook-url", "acme", "--rotate"], env)
    projects_path, books_path = rotated.stdout.split()
    assert projects_path.startswith(f"/webhooks/projects/{integration_id}?token=") and token not in projects_path
    assert books_path == projects_path.replace("/projects/", "/books/")
    assert "BPSYNC_PUBLIC_URL" in rotated.stderr and "update the URLs in Zoho Projects" in rotated.stderr
    assert "the token is shown once" in rotated.stderr
    unknown = cli(["webhook-url", "nobody"], env)
    assert unknown.exit_code == 2 and "error: no integration 'nobody'" in unknown.stderr


def test_disable_and_enable_say_what_changed_and_enable_checks_the_stored_credentials(sqlite_migrated_url, world, cli):
    engine, settings = connected(sqlite_migrated_url, world)
    env = base_env(sqlite_migrated_url, world)
    off = json.loads(cli(["disable", "acme", "--json"], env).stdout)
    assert (off["state"], off["changed"]) == ("disabled", True)
    again = cli(["disable", "acme"], env)
    assert again.exit_code == 0 and again.stdout.strip() == "integration 'acme' is already disabled"

    creds = credentials(world.world)
    stored = get_integration(engine, "acme").credentials(settings)
    revoke_refresh_token(world.world, stored["refresh_token"])
    refused = cli(["enable", "acme"], env)
    assert refused.exit_code == 2 and refused.stderr.startswith("error: cannot re-enable 'acme': Zoho refused")
    assert "give working ones with: bpsync update-credentials acme" in refused.stderr
    assert get_integration(engine, "acme").state == "disabled"

    fresh = mint_refresh_token(world.world, creds["admin"]["zuid"])
    secrets_env = {
        "BPSYNC_CONNECT_CLIENT_ID": creds["client_id"],
        "BPSYNC_CONNECT_CLIENT_SECRET": creds["client_secret"],
        "BPSYNC_CONNECT_REFRESH_TOKEN": fresh,
    }
    updated = cli(["update-credentials", "acme"], env | secrets_env)
    assert updated.exit_code == 0, updated.stderr
    assert "still disabled" in updated.stdout and fresh not in updated.stdout
    assert get_integration(engine, "acme").credentials(settings)["refresh_token"] == fresh
    on = json.loads(cli(["enable", "acme", "--json"], env).stdout)
    assert (on["state"], on["changed"], on["projects_portal_id"]) == ("active", True, creds["portal_id"])
    assert "a sync is due now" in on["detail"]


def test_update_credentials_refuses_a_user_who_cannot_administer_the_portal_and_keeps_the_old_ones(
    sqlite_migrated_url, world, cli
):
    engine, _ = connected(sqlite_migrated_url, world)
    env = base_env(sqlite_migrated_url, world)
    before = get_integration(engine, "acme").sealed_credentials
    creds = credentials(world.world)
    args = ["update-credentials", "acme", "--client-id", creds["client_id"], "--client-secret", creds["client_secret"]]
    refused = cli([*args, "--refresh-token", creds["non_admin"]["refresh_token"]], env)
    assert refused.exit_code == 2
    assert refused.stderr.startswith("error: cannot use these credentials for 'acme': this user is")
    assert f"portal {creds['portal_id']}" in refused.stderr
    assert creds["non_admin"]["refresh_token"] not in refused.stderr
    unknown = cli([*args, "--refresh-token", creds["admin"]["refresh_token"], "--data-center", "XX"], env)
    assert unknown.exit_code == 2 and "unknown data center 'XX'" in unknown.stderr
    missing = cli(["update-credentials", "acme", "--client-id", creds["client_id"]], env)
    assert missing.exit_code == 2 and "missing --client-secret" in missing.stderr
    assert get_integration(engine, "acme").sealed_credentials == before
    fresh = mint_refresh_token(world.world, creds["admin"]["zuid"])
    renewed = cli([*args, "--refresh-token", fresh], env)
    assert renewed.exit_code == 0 and "sync now with: bpsync refresh acme" in renewed.stdout
    assert get_integration(engine, "acme").sealed_credentials != before
    token = ["--refresh-token", creds["admin"]["refresh_token"], "--organization", creds["organization_id"]]
    again = cli(["connect", "--name", "other", *args[2:], *token], env)
    assert again.exit_code == 2 and "already connected as integration 'acme'" in again.stderr
    assert "bpsync enable acme" in again.stderr and "bpsync update-credentials acme" in again.stderr


def test_preferences_show_and_change_and_the_schedule_keeps_its_anchor(sqlite_migrated_url, world, cli):
    engine, _ = connected(sqlite_migrated_url, world)
    env = base_env(sqlite_migrated_url, world)
    shown = cli(["preferences", "acme"], env)
    assert shown.exit_code == 0
    assert shown.stdout.strip() == (
        "acme: contact duplication merge; general timesheets off; timesheet cutoff date none; sync every 24 h"
    )
    changed = json.loads(
        cli(["preferences", "acme", "--interval-hours", "6", "--contact-duplication", "clone", "--json"], env).stdout
    )
    assert changed["changed"] is True and changed["sync_interval_hours"] == 6
    assert changed["contact_duplication"] == "clone" and "sync interval 24 h -> 6 h" in changed["detail"]
    integration = get_integration(engine, "acme")
    assert integration.next_run_at == integration.connected_at  # the first sync, due at connect, stays due
    update_integration(engine, integration.id, next_run_at=integration.connected_at + dt.timedelta(days=1))
    cli(["preferences", "acme", "--interval-hours", "4"], env)
    integration = get_integration(engine, "acme")
    slot = (integration.next_run_at - integration.connected_at).total_seconds()
    assert slot == 4 * 3600  # the next slot on the new grid, still anchored to connect time
    cli(["preferences", "acme", "--interval-hours", "6"], env)
    same = cli(["preferences", "acme", "--interval-hours", "6"], env)
    assert same.exit_code == 0 and "already are as given" in same.stdout
    bad = cli(["preferences", "acme", "--interval-hours", "0"], env)
    assert bad.exit_code == 2 and "sync interval 0.0 h is out of range" in bad.stderr
    assert get_integration(engine, "acme").sync_interval_seconds == 6 * 3600


def test_delete_needs_a_disabled_integration_no_running_module_and_confirmation(sqlite_migrated_url, world, cli):
    engine, _ = connected(sqlite_migrated_url, world)
    env = base_env(sqlite_migrated_url, world)
    integration_id = get_integration(engine, "acme").id
    enabled = cli(["delete", "acme", "--yes"], env)
    assert enabled.exit_code == 2 and "disable it first (bpsync disable acme)" in enabled.stderr
    cli(["disable", "acme"], env)
    unconfirmed = cli(["delete", "acme"], env)
    assert unconfirmed.exit_code == 2 and "pass --yes" in unconfirmed.stderr

    run = request_sync(engine, Celery("gone", broker="memory://"), integration_id)
    with engine.begin() as conn:  # a worker mid-slice holds the first module
        conn.execute(
            module_runs.update()
            .where(module_runs.c.id == run.start_module_run_id)
            .values(lease_until=utcnow() + dt.timedelta(minutes=2))
        )
    busy = cli(["delete", "acme", "--yes"], env)
    assert busy.exit_code == 2 and f"still running users of run #{run.run_id}" in busy.stderr
    assert get_integration(engine, "acme").id == integration_id

    with engine.begin() as conn:
        conn.execute(module_runs.update().values(lease_until=None))
    deleted = json.loads(cli(["delete", "acme", "--yes", "--json"], env).stdout)
    assert deleted["changed"] is True and "projects, tasks and time entries are created again" in deleted["detail"]
    assert json.loads(cli(["integrations", "--json"], env).stdout) == []
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(module_runs)).scalar() == 0  # cascaded
    connected(sqlite_migrated_url, world, name="acme-again")  # the organization is free to connect again


def test_a_refresh_the_broker_cannot_take_says_so_and_the_next_sweep_sends_it(sqlite_migrated_url, world, redis_url):
    from shared.celery_app import create_celery
    from shared.dispatch import sweep

    engine, settings = connected(sqlite_migrated_url, world)
    # nothing listens there
    down = {**base_env(sqlite_migrated_url, world), "BPSYNC_BROKER_URL": "redis://127.0.0.1:1/0"}
    result = run(["refresh", "acme", "--json"], down)
    assert result.returncode == 3, result.stderr
    assert "broker is unreachable" in result.stderr and "Traceback" not in result.stderr
    answer = json.loads(result.stdout)
    assert answer["queued"] is False
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(module_runs).where(module_runs.c.sync_run_id == answer["run_id"]).order_by(module_runs.c.position)
        ).all()
    starting = [row for row in rows if row.module in ("users", "clients")]  # siblings: both sent at the start
    assert [row.heartbeat_at for row in starting] == [None, None]  # marked unsent: the next sweep takes them at once
    app = create_celery(settings.model_copy(update={"broker_url": redis_url}))
    assert sweep(engine, app, app.conf.bpsync_settings) == [row.id for row in starting]
