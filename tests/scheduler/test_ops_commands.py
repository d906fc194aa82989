"""bpsync status / history / errors / retry against a database filled by a real embedded sync."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from scheduler.cli import main
from scheduler.status import error_details
from shared.config import get_settings
from shared.db import engine as dbe
from shared.db.schema import entity_links, module_runs, sync_runs
from shared.modules import MODULE_ORDER, modules_for_refresh
from tests.ops_sync import World


def invoke(env: dict[str, str], *args: str):
    get_settings.cache_clear()  # settings come from the environment CliRunner sets for this call
    try:
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    finally:
        get_settings.cache_clear()


@pytest.fixture
def synced(synced_tiny_snapshot, sandbox_factory, tmp_path) -> World:
    """This test's own copy of a ``tiny`` world synced once per process (tests/synced_world_support.py)."""
    return synced_tiny_snapshot.copy(tmp_path, sandbox_factory)


def test_status_history_and_errors_in_text_and_json(synced):
    env = synced.env()
    out = invoke(env, "status")
    assert out.exit_code == 0, out.output
    assert "acme (#1)  Active" in out.output
    for module in MODULE_ORDER:
        assert any(line.split()[:2] == [module, "Active"] for line in out.output.splitlines()), module

    data = json.loads(invoke(env, "status", "acme", "--json").output)
    [integration] = data["integrations"]
    assert integration["name"] == "acme" and integration["badge"] == "Active"
    assert [m["module"] for m in integration["modules"]] == list(MODULE_ORDER)
    assert set(integration["modules"][0]) >= {
        "module",
        "badge",
        "state",
        "last_success_at",
        "open_errors",
        "resumes_at",
        "counts",
        "run_id",
    }
    assert integration["open_errors"] == sum(m["open_errors"] for m in integration["modules"]) > 0

    history = json.loads(invoke(env, "history", "--module", "tasks", "--json").output)["history"]
    assert [h["module"] for h in history] == ["tasks"]
    assert history[0]["trigger"] == "manual" and history[0]["counts"]["fetched"] > 0 and history[0]["api_calls"] > 0
    text = invoke(env, "history", "acme", "--limit", "2").output
    assert len(text.strip().splitlines()) == 3 and "API CALLS" in text  # header + 2 module runs

    errors = json.loads(invoke(env, "errors", "--json").output)
    assert {"summary", "details"} <= set(errors)
    reasons = {(g["module"], g["reason_code"]) for g in errors["summary"]}
    assert ("projects", "no_primary_client") in reasons and ("tasks", "parent_failed") in reasons
    assert len(errors["details"]) == sum(g["count"] for g in errors["summary"])
    text = invoke(env, "errors", "acme", "--module", "projects", "--details").output
    assert "no_primary_client" in text and "fix: " in text and "tasks" not in text.split("\n\n")[0]
    assert "SOURCE ID" in text


def test_bad_input_is_one_clear_line(sqlite_migrated_url):
    dbe.upgrade(sqlite_migrated_url)
    env = {"BPSYNC_DATABASE_URL": sqlite_migrated_url}
    out = invoke(env, "status")
    assert out.exit_code == 0 and "no integrations yet" in out.output
    cases = {
        ("status", "nope"): "error: no integration 'nope'; list them with: bpsync status",
        ("history", "--module", "invoices"): "error: unknown module 'invoices'; choose one of:",
        ("errors", "--module", "x"): "error: unknown module 'x'",
        ("retry", "42"): "error: no sync error #42; list open errors with: bpsync errors --details",
    }
    for args, expected in cases.items():
        out = invoke(env, *args)
        assert out.exit_code == 2, args
        assert out.output.startswith(expected) and len(out.output.strip().splitlines()) == 1, out.output
    assert invoke(env, "history", "--limit", "0").exit_code == 2
    assert invoke(env, "retry", "abc").exit_code == 2


def test_retry_resyncs_the_record_and_says_whether_it_is_fixed(synced):
    env = synced.env()
    error = next(e for e in error_details(synced.engine, "acme") if e.reason_code == "no_primary_client")

    out = invoke(env, "retry", str(error.id), "--timeout", "60")  # embedded mode: runs the worker here and waits
    assert out.exit_code == 1
    assert f"error #{error.id} is still open" in out.output and "fix: Associate the project" in out.output

    synced.act("set_primary_client", project_id=error.source_id, client_id=_synced_client_for(synced, error.source_id))
    out = invoke(env, "retry", str(error.id), "--timeout", "60")
    assert out.exit_code == 0, out.output
    assert out.output.splitlines()[-1].endswith(f"error #{error.id} is resolved")
    still_open = error_details(synced.engine, "acme")
    assert not [e for e in still_open if e.blocked_by == error.id], "its blocked tasks synced in the same run"

    out = invoke(env, "retry", str(error.id), "--timeout", "60")
    assert out.exit_code == 2 and "was resolved at" in out.output


def _synced_client_for(world: World, project_id: str) -> str:
    """A client already in Books with the project's currency: the fix the error's hint asks for."""
    currency = world.sandbox.world.projects[project_id].currency_code
    with world.engine.connect() as conn:
        linked = (
            conn.execute(
                sa.select(entity_links.c.projects_id).where(
                    entity_links.c.entity_type == "client", entity_links.c.state == "linked"
                )
            )
            .scalars()
            .all()
        )
    return next(c for c in sorted(linked) if world.sandbox.world.clients[c].currency_code == currency)


def test_retry_with_a_real_broker_enqueues_and_prints_the_run(synced, redis_url):
    env = synced.env() | {"BPSYNC_BROKER_URL": redis_url}
    error = next(e for e in error_details(synced.engine, "acme") if e.module == "projects")
    out = invoke(env, "retry", str(error.id), "--no-wait")
    assert out.exit_code == 0, out.output
    run_id = int(out.output.split()[1].strip("#:"))
    with synced.engine.connect() as conn:
        run = conn.execute(sa.select(sync_runs).where(sync_runs.c.id == run_id)).one()
        modules = conn.execute(
            sa.select(module_runs.c.module).where(module_runs.c.sync_run_id == run_id).order_by(module_runs.c.position)
        ).scalars()
        assert run.status == "running" and run.trigger == "manual"
        assert list(modules) == modules_for_refresh("projects")  # the module and everything below it
