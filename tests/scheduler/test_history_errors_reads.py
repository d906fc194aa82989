"""The history and error reads are SQL text on a DB-API connection (scheduler/status/reads.py), so ``bpsync
history`` and ``bpsync errors`` load no SQLAlchemy. On PostgreSQL and SQLite they give what a plain read of every
row through SQLAlchemy gives, filtered and ordered as documented; the CLI's JSON is the API's."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from scheduler.cli_support import json_text
from scheduler.status.errors import (
    ErrorDetail,
    ErrorGroup,
    SyncErrorNotFound,
    error_details,
    error_summary,
    errors_blocked_by,
    get_error,
)
from scheduler.status.history import RECORD_COUNTERS, HistoryEntry, run_status, sync_history
from scheduler.status.source import status_source
from shared.clock import as_utc
from shared.config import get_settings, load_settings
from shared.db.integrations import IntegrationNotFound, get_integration
from shared.db.schema import integrations, module_runs, sync_errors, sync_runs
from shared.modules import MODULE_ORDER
from tests.conftest import pg_database
from tests.scheduler.ops_rows import KEY, NAMES, seed

# the tests only read: one seeded database per backend for the whole module, built by one xdist process
pytestmark = pytest.mark.xdist_group("history_errors_reads")


@pytest.fixture(scope="module", params=["postgres", "sqlite"])
def url(request, tmp_path_factory) -> Iterator[str]:
    if request.param == "postgres":
        admin, template = request.getfixturevalue("pg_admin_engine"), request.getfixturevalue("pg_template")
        with pg_database(admin, template=template) as url:
            seed(url).dispose()
            yield url
        return
    path = tmp_path_factory.mktemp("history_errors") / "bpsync.sqlite"
    shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
    url = f"sqlite:///{path}"
    seed(url).dispose()
    yield url


@pytest.fixture
def engine(url):
    from shared.db import engine as dbe

    engine = dbe.make_engine(url)
    yield engine
    engine.dispose()


# ------------------------------------------------------------------------------------------------ the reference
def every_module_run(engine: sa.Engine) -> list[HistoryEntry]:
    """Every module run, newest first, read through SQLAlchemy as the history was before."""
    query = (
        sa.select(module_runs, sync_runs.c.trigger, sync_runs.c.requested_at, integrations.c.name)
        .join(sync_runs, sync_runs.c.id == module_runs.c.sync_run_id)
        .join(integrations, integrations.c.id == module_runs.c.integration_id)
    )
    with engine.connect() as conn:
        rows = [r._mapping for r in conn.execute(query)]
    entries = [
        HistoryEntry(
            module_run_id=m["id"],
            run_id=m["sync_run_id"],
            integration_id=m["integration_id"],
            integration=m["name"],
            module=m["module"],
            trigger=m["trigger"],
            status=m["status"],
            requested_at=as_utc(m["requested_at"]),
            started_at=as_utc(m["started_at"]),
            finished_at=as_utc(m["finished_at"]),
            counts={c: int(m[c]) for c in RECORD_COUNTERS},
            api_calls=int(m["api_calls"]),
            error=m["error"],
        )
        for m in rows
    ]
    return sorted(entries, key=lambda e: -e.module_run_id)


def every_error(engine: sa.Engine) -> list[ErrorDetail]:
    """Every error, open or resolved, by id, read through SQLAlchemy."""
    query = sa.select(sync_errors, integrations.c.name.label("integration_name")).join(
        integrations, integrations.c.id == sync_errors.c.integration_id
    )
    with engine.connect() as conn:
        rows = [r._mapping for r in conn.execute(query.order_by(sync_errors.c.id))]
    fields = [f for f in ErrorDetail.__dataclass_fields__ if f != "integration"]
    return [
        ErrorDetail(
            **{f: as_utc(m[f]) if f.endswith("_at") else m[f] for f in fields}, integration=m["integration_name"]
        )
        for m in rows
    ]


def rank(module: str) -> int:
    return MODULE_ORDER.index(module) if module in MODULE_ORDER else len(MODULE_ORDER)


def expected_summary(open_errors: list[ErrorDetail]) -> list[ErrorGroup]:
    groups: dict[tuple[int, str, str], list[ErrorDetail]] = {}
    for e in open_errors:
        groups.setdefault((e.integration_id, e.module, e.reason_code), []).append(e)
    summary = []
    for (iid, module, reason), members in groups.items():
        example = max(members, key=lambda e: e.id)
        summary.append(
            ErrorGroup(
                iid, example.integration, module, reason, len(members), example.id, example.message, example.hint
            )
        )
    return sorted(summary, key=lambda g: (g.integration_id, rank(g.module), -g.count, g.reason_code))


def as_json(found: list) -> list[dict]:
    return [f.as_json() for f in found]


# ------------------------------------------------------------------------------------------------ reads
def test_the_history_is_every_module_run_newest_first_filtered_and_cut(url, engine):
    everything = every_module_run(engine)
    acme, beta, idle = (get_integration(engine, name).id for name in NAMES)
    assert {e.module for e in everything} == {*MODULE_ORDER, "expenses"}
    assert {e.integration for e in everything} == {"acme", "beta"}
    with status_source(url) as source:
        for ref, iid in ((None, None), ("acme", acme), (acme, acme), (str(beta), beta), ("idle", idle)):
            for module in (None, "tasks", "expenses", "invoices"):
                for limit in (1, 7, 50, 10_000):
                    wanted = [
                        e
                        for e in everything
                        if (iid is None or e.integration_id == iid) and (module is None or e.module == module)
                    ][:limit]
                    for read_from in (source, engine):  # the CLI's connection, the web app's engine
                        found = sync_history(read_from, ref, module=module, limit=limit)
                        assert as_json(found) == as_json(wanted), (ref, module, limit)
        triggers = [e.trigger for e in sync_history(source, "acme", module="users")]
        assert triggers == ["beat", "instant", "webhook", "manual", "beat"]
        running = next(e for e in everything if e.finished_at is None and e.started_at is not None)
        assert running.duration_seconds is None and everything[-1].duration_seconds == 7.25
        assert run_status(source, everything[0].run_id) == "running" and run_status(source, 10**6) is None
        assert run_status(engine, everything[-1].run_id) == "succeeded"


def test_the_errors_are_the_open_ones_grouped_and_in_module_order(url, engine):
    every = every_error(engine)
    acme, beta, idle = (get_integration(engine, name).id for name in NAMES)
    with status_source(url) as source:
        for ref, iid in ((None, None), ("acme", acme), (str(beta), beta), (idle, idle)):
            for module in (None, "projects", "bugs", "expenses"):
                wanted = [
                    e
                    for e in every
                    if e.resolved_at is None
                    and (iid is None or e.integration_id == iid)
                    and (module is None or e.module == module)
                ]
                wanted.sort(key=lambda e: (e.integration_id, rank(e.module)))  # stable: by id within a module
                for read_from in (source, engine):
                    assert as_json(error_details(read_from, ref, module=module)) == as_json(wanted), (ref, module)
                    assert error_details(read_from, ref, module=module, limit=3) == wanted[:3]
                    summary = error_summary(read_from, ref, module=module)
                    assert as_json(summary) == as_json(expected_summary(wanted)), (ref, module)
        details = error_details(source, "acme")
        # a blocked child follows the error blocking it, whichever was written first
        modules = ["users", "clients", *["projects"] * 5, *["tasks"] * 4, *["bugs"] * 3, "expenses"]
        assert [e.module for e in details] == modules
        assert all(e.blocked_by in {p.id for p in details if p.module == "projects"} for e in details if e.blocked_by)
        for error in every:
            assert get_error(source, error.id) == get_error(engine, error.id) == error
            blocked = [e for e in every if e.blocked_by == error.id and e.resolved_at is None]
            assert errors_blocked_by(source, error.id) == errors_blocked_by(engine, error.id) == blocked
        assert any(errors_blocked_by(source, e.id) for e in every)
        for missing in (0, max(e.id for e in every) + 1, 2**31):
            with pytest.raises(SyncErrorNotFound):
                get_error(source, missing)


@pytest.mark.parametrize("ref", ["nope", "0", 0, "2147483648", 2**40, "999"])
def test_an_unknown_integration_is_refused_in_the_words_of_get_integration(url, engine, ref):
    with pytest.raises(IntegrationNotFound) as expected:
        get_integration(engine, ref)
    with status_source(url) as source:
        for read in (sync_history, error_summary, error_details):
            with pytest.raises(IntegrationNotFound) as refused:
                read(source, ref)
            assert str(refused.value) == str(expected.value)


# ------------------------------------------------------------------------------------------------ CLI and API
TOKEN = "history-errors-test-token-0123456789"


def invoke(url: str, *args: str):
    from click.testing import CliRunner

    from scheduler.cli import main

    env = {"BPSYNC_DATABASE_URL": url, "BPSYNC_SECRET_KEY": KEY, "BPSYNC_BROKER_URL": "memory://"}
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    finally:
        get_settings.cache_clear()


def test_the_commands_json_is_the_apis(url, engine):
    from starlette.testclient import TestClient

    from scheduler.web.app import create_web_app

    settings = load_settings(database_url=url, secret_key=KEY, web_token=TOKEN)
    with TestClient(create_web_app(settings), headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        for ref in ("acme", "2", "idle"):
            for module in ("", "tasks", "expenses"):
                query = f"?module={module}" if module else ""
                by_module = ("--module", module) if module else ()
                api = client.get(f"/api/integrations/{ref}/history{query}")
                cli = invoke(url, "history", ref, *by_module, "--limit", "50", "--json")
                assert cli.exit_code == 0, cli.output
                assert json.loads(cli.output) == api.json(), (ref, module)
                api = client.get(f"/api/integrations/{ref}/errors{query}")
                cli = invoke(url, "errors", ref, *by_module, "--json")
                assert cli.exit_code == 0, cli.output
                assert json.loads(cli.output) == api.json(), (ref, module)
                assert cli.output.strip() == json_text(api.json()).strip()  # the same text, key order included


def test_the_commands_text_lists_what_the_reads_give(url, engine):
    history = invoke(url, "history", "beta", "--limit", "3").output.splitlines()
    entries = sync_history(engine, "beta", limit=3)
    assert history[0].split()[:3] == ["RUN", "INTEGRATION", "MODULE"]
    assert [line.split()[:3] for line in history[1:]] == [[str(e.run_id), "beta", e.module] for e in entries]
    assert invoke(url, "history", "idle").output == "no sync has run yet\n"

    summary = invoke(url, "errors", "acme").output
    groups = error_summary(engine, "acme")
    headlines = [line for line in summary.splitlines() if line.startswith("acme · ")]
    assert headlines == [f"acme · {g.module} · {g.reason_code}: {g.count} record(s)" for g in groups]
    assert "fix: fix no_primary_client" in summary and "bpsync errors --details" in summary
    details = invoke(url, "errors", "acme", "--details").output
    table = details.split("\n\n")[-1].splitlines()
    assert table[0].split()[:2] == ["ID", "MODULE"]
    assert [line.split()[:2] for line in table[1:]] == [[str(e.id), e.module] for e in error_details(engine, "acme")]
    assert invoke(url, "errors", "idle", "--details").output == "no open errors\n"
    unknown = invoke(url, "errors", "nope", "--details")
    assert unknown.exit_code == 2 and "error: no integration 'nope'; list them with: bpsync status" in unknown.output


def test_the_bpsync_program_ends_with_all_it_read_written(url):
    """Run as the program, ``bpsync history`` and ``errors`` end their process once the output is out (os._exit,
    as the status does): what they wrote is all of it, with a success exit code."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    bpsync = str(Path(sys.executable).parent / "bpsync")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BPSYNC_")}
    env |= {"BPSYNC_DATABASE_URL": url, "BPSYNC_SECRET_KEY": KEY, "BPSYNC_BROKER_URL": "memory://"}
    for args in (["history", "--json", "--limit", "10000"], ["history"], ["errors", "--json"], ["errors", "--details"]):
        done = subprocess.run([bpsync, *args], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stdout == invoke(url, *args).output, args
