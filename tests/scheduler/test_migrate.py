"""``bpsync migrate``: adopting what Zoho's legacy integration left in Books, against the sandbox's ``legacy`` world
(real HTTP), real PostgreSQL and a real Celery worker for the sync after it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from scheduler.lifecycle import disable, enable
from scheduler.migrate import MigrateRefused, Report, migrate
from shared.db.schema import billing_claims, entity_links, module_runs, sync_errors, sync_runs, transactions
from tests.sync_support import SyncHarness, sync_harness

BOOKS_RECORDS = ("contacts", "books_projects", "books_tasks", "time_entries", "invoices")


@pytest.fixture
def legacy(sandbox_factory: Any, pg_url: str, redis_url: str) -> Iterator[SyncHarness]:
    server = sandbox_factory(size="tiny", legacy=True)
    with sync_harness(server, pg_url, broker_url=redis_url) as harness:
        disable(harness.engine, harness.integration.id)
        yield harness


def _migrate(h: SyncHarness, *, dry_run: bool) -> Report:
    return migrate(h.engine, h.settings, h.integration.id, dry_run=dry_run)


def _entries(report: Report, kind: str, outcome: str | None = None) -> dict[str, dict[str, Any]]:
    return {
        e["source_id"]: e
        for e in report.outcome()
        if e["kind"] == kind and (outcome is None or e["outcome"] == outcome)
    }


def _books_counts(h: SyncHarness) -> dict[str, int]:
    state = h.state()
    return {name: len(state[name]) for name in BOOKS_RECORDS}


def test_dry_run_is_the_real_runs_outcome_and_writes_nothing(legacy: SyncHarness) -> None:
    h = legacy
    dry = _migrate(h, dry_run=True)
    with h.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(entity_links)).scalar() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(sync_runs)).scalar() == 0
    real = _migrate(h, dry_run=False)
    assert real.outcome() == dry.outcome()
    assert real.run_id is not None and dry.run_id is None
    counts = real.counts()
    assert counts["project"]["adopted"] == 3 and counts["invoice"]["adopted"] == 3
    assert counts["timesheet"]["adopted"] > 0 and counts["task"]["created"] >= 1
    # recorded as a finished sync run, one module run per record kind carrying the counts
    with h.engine.connect() as conn:
        run = conn.execute(sa.select(sync_runs).where(sync_runs.c.id == real.run_id)).one()
        rows = {r.module: r for r in conn.execute(sa.select(module_runs).where(module_runs.c.sync_run_id == run.id))}
    assert run.trigger == "migrate" and run.status == "partial"
    assert rows["migrate_projects"].updated == 3 and rows["migrate_projects"].skipped == 1
    assert rows["migrate_invoices"].updated == 3 and rows["migrate_invoices"].skipped == 1
    assert rows["migrate_timesheets"].updated == counts["timesheet"]["adopted"]


def test_no_primary_client_project_and_its_invoices_are_skipped_and_listed(legacy: SyncHarness) -> None:
    h = legacy
    world = h.sandbox.world.awkward
    orphan = world["legacy_no_primary_client_project"][0]
    (orphan_invoice,) = world["legacy_no_primary_client_invoices"]
    report = _migrate(h, dry_run=False)
    project = _entries(report, "project")[orphan]
    assert project["outcome"] == "skipped" and "no primary client" in project["reason"]
    invoice = _entries(report, "invoice")[orphan_invoice]
    assert invoice["outcome"] == "skipped" and "no primary client" in invoice["reason"]
    assert set(_entries(report, "invoice", "adopted")) == set(world["legacy_invoices"])
    with h.engine.connect() as conn:
        errors = {
            (r.entity_type, r.source_id): r
            for r in conn.execute(sa.select(sync_errors).where(sync_errors.c.resolved_at.is_(None)))
        }
        kept = {r.books_id for r in conn.execute(sa.select(transactions.c.books_id))}
        claimed = conn.execute(sa.select(billing_claims)).all()
    assert errors[("invoice", orphan_invoice)].module == "transactions"
    assert errors[("project", orphan)].reason_code == "no_primary_client"
    assert kept == set(world["legacy_invoices"])
    # every legacy-invoiced time entry of an adopted project is claimed by its invoice, on the Books side
    invoiced = {
        e.time_entry_id: e.invoice_id
        for e in h.sandbox.world.time_entries.values()
        if e.billed_status == "invoiced" and e.invoice_id in set(world["legacy_invoices"])
    }
    assert {c.item_id: c.books_invoice_id for c in claimed} == invoiced
    assert {c.side for c in claimed} == {"books"}


def test_renamed_project_and_hand_merged_customer_are_adopted(legacy: SyncHarness) -> None:
    h = legacy
    world = h.sandbox.world
    renamed = world.awkward["legacy_renamed_project"][0]
    (survivor,) = world.awkward["legacy_merged_customer"]
    merged_project = next(
        p for p in world.awkward["legacy_projects"] if _books_project_of(h, p).customer_id == survivor
    )
    client = world.projects[merged_project].primary_client_id
    report = _migrate(h, dry_run=False)
    entry = _entries(report, "project")[renamed]
    books_project = _books_project_of(h, renamed)
    assert entry["outcome"] == "adopted" and entry["books_id"] == books_project.project_id
    assert "renamed since" in entry["reason"]
    customer = _entries(report, "client")[client]
    assert customer["outcome"] == "adopted" and customer["books_id"] == survivor
    enable(h.engine, h.settings, h.integration.id)
    before = _books_counts(h)
    run = h.sync()
    assert run.status in ("succeeded", "partial")
    assert world.books_projects[books_project.project_id].project_name == world.projects[renamed].name
    # the hand-merged customer stays the client's: its project still bills it, and no customer of the client's
    # own name was made beside it
    merged_books = _entries(report, "project")[merged_project]["books_id"]
    assert world.books_projects[merged_books].customer_id == survivor
    client_name = world.clients[client].name
    assert not [c for c in world.contacts.values() if c.contact_name.startswith(client_name)]
    assert _books_counts(h)["contacts"] <= before["contacts"] + _customers_created(report)


def _books_project_of(h: SyncHarness, project_id: str) -> Any:
    return next(p for p in h.sandbox.world.books_projects.values() if p.custom_fields[0]["value"] == project_id)


def _customers_created(report: Report) -> int:
    # clients the migration left to the sync: it may create customers for them, never for an adopted one
    return sum(1 for e in report.outcome() if e["kind"] == "client" and e["outcome"] == "created")


def test_second_migrate_is_refused(legacy: SyncHarness) -> None:
    h = legacy
    first = _migrate(h, dry_run=False)
    for dry_run in (True, False):
        with pytest.raises(MigrateRefused, match=rf"already migrated .*run #{first.run_id}.*one way"):
            _migrate(h, dry_run=dry_run)
    with h.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).where(sync_runs.c.trigger == "migrate")).scalar() == 1


def test_enabled_integration_is_refused_and_nothing_written(legacy: SyncHarness) -> None:
    h = legacy
    enable(h.engine, h.settings, h.integration.id)
    with pytest.raises(MigrateRefused, match="disable it first"):
        _migrate(h, dry_run=False)
    with h.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(entity_links)).scalar() == 0


def _made_for(h: SyncHarness, entity_type: str, books_ids: set[str]) -> set[str]:
    """The Projects records the sync linked to these (new) Books records."""
    with h.engine.connect() as conn:
        rows = conn.execute(
            sa.select(entity_links.c.projects_id, entity_links.c.books_id).where(
                entity_links.c.entity_type == entity_type
            )
        ).all()
    return {r.projects_id for r in rows if r.books_id in books_ids}


def test_full_sync_after_migrating_creates_nothing_twice(legacy: SyncHarness) -> None:
    h = legacy
    world = h.sandbox.world
    report = _migrate(h, dry_run=False)
    enable(h.engine, h.settings, h.integration.id)
    before = {
        "project": set(world.books_projects),
        "task": set(world.books_tasks),
        "timesheet": set(world.time_entries),
        "client": set(world.contacts),
    }
    run = h.sync()
    assert run.status in ("succeeded", "partial")
    # every Books record the sync made is for a Projects record the migration left to it ("created"), never for
    # one it adopted: nothing the legacy integration made was made again
    for entity_type, books_side in (
        ("project", world.books_projects),
        ("task", world.books_tasks),
        ("bug", world.books_tasks),
        ("timesheet", world.time_entries),
        ("client", world.contacts),
    ):
        new = set(books_side) - before["task" if entity_type == "bug" else entity_type]
        made_for = _made_for(h, entity_type, new)
        adopted = set(_entries(report, entity_type, "adopted"))
        assert not made_for & adopted, f"{entity_type}: the sync made a second Books record for {made_for & adopted}"
        assert set(books_side) >= {e["books_id"] for e in _entries(report, entity_type, "adopted").values()}
    assert set(world.books_tasks) - before["task"], "the task the legacy integration never copied is created"
    # invoiced legacy time was left as it is: no 'time_entry_invoiced' error about an entry nobody changed
    assert not [e for e in h.errors() if e.reason_code == "time_entry_invoiced"]
    # the transactions poll reads the adopted invoices whole and finds their claims already in place
    with h.engine.connect() as conn:
        claimed = sorted((r.item_id, r.books_invoice_id) for r in conn.execute(sa.select(billing_claims)))
    outcome = _pull(h)
    assert outcome.conflicts == 0 and outcome.released == 0
    with h.engine.connect() as conn:
        assert sorted((r.item_id, r.books_invoice_id) for r in conn.execute(sa.select(billing_claims))) == claimed
        lines = conn.execute(
            sa.select(transactions.c.payload).where(transactions.c.books_id.in_(world.awkward["legacy_invoices"]))
        ).all()
    assert lines and all(row.payload and row.payload["line_items"] for row in lines)
    # and a second sync writes nothing at all
    h.reset_requests()
    again = h.sync()
    assert again.status in ("succeeded", "partial")
    assert h.books_writes() == []


def _pull(h: SyncHarness) -> Any:
    import datetime as dt

    from scheduler.finance.zoho import books_client
    from worker.finance.pull import pull

    books = books_client(h.settings, h.integration)
    return pull(h.engine, books, h.integration.id, None, full=True, now=dt.datetime.now(dt.UTC), max_reads=1000)


KEY = "kRSjdTuoQ36b6JeNS1EPK5sIt9Ew3qwDvhCEtvCtUGs="


@pytest.fixture
def cli_legacy(
    sandbox_factory: Any, pg_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[SyncHarness, Any]]:
    """The legacy world, a disabled integration, and ``bpsync`` in this process with the harness's settings."""
    from click.testing import CliRunner

    from scheduler.cli import main
    from shared.config import get_settings

    for name in [k for k in os.environ if k.startswith("BPSYNC_")]:
        monkeypatch.delenv(name)
    server = sandbox_factory(size="tiny", legacy=True)
    with sync_harness(server, pg_url, worker=False, secret_key=KEY) as harness:
        disable(harness.engine, harness.integration.id)
        env = {
            "BPSYNC_DATABASE_URL": pg_url,
            "BPSYNC_SECRET_KEY": KEY,
            "BPSYNC_PROJECTS_API_URL": server.base_url,
            "BPSYNC_BOOKS_API_URL": f"{server.base_url}/books/v3",
            "BPSYNC_ACCOUNTS_URL": server.base_url,
            "BPSYNC_RATE_LIMITS_ENABLED": "false",
        }

        def invoke(*args: str) -> Any:
            get_settings.cache_clear()
            try:
                return CliRunner().invoke(main, ["migrate", harness.integration.name, *args], env=env, input="")
            finally:
                get_settings.cache_clear()

        yield harness, invoke


def test_cli_dry_run_then_migrate_then_refused(cli_legacy: tuple[SyncHarness, Any]) -> None:
    h, invoke = cli_legacy
    dry = invoke("--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    assert "... project 1/" in dry.stderr  # progress while Zoho is read
    planned = json.loads(dry.stdout)
    assert planned["dry_run"] is True and planned["run_id"] is None
    unconfirmed = invoke()  # one way: it asks, and no answer is no
    assert unconfirmed.exit_code == 1 and "Aborted" in unconfirmed.output
    with h.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(sync_runs)).scalar() == 0
    done = invoke("--yes", "--json")
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert result["entries"] == planned["entries"] and result["counts"] == planned["counts"]
    assert result["run_id"] is not None
    text = invoke("--dry-run")
    assert text.exit_code == 1
    assert text.stderr.startswith(f"error: integration {h.integration.name!r} was already migrated")
    assert f"run #{result['run_id']}" in text.stderr


def test_cli_text_report_lists_skipped_with_reasons(cli_legacy: tuple[SyncHarness, Any]) -> None:
    h, invoke = cli_legacy
    result = invoke("--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"{h.integration.name}: dry run: nothing was written"
    (orphan_invoice,) = h.sandbox.world.awkward["legacy_no_primary_client_invoices"]
    skipped = [line for line in lines if line.startswith("  invoice ") and orphan_invoice in line]
    assert skipped and "has no primary client" in skipped[0]


def test_history_and_errors_show_the_migration_and_status_badges_ignore_it(legacy: SyncHarness) -> None:
    from scheduler.status.errors import error_summary
    from scheduler.status.history import sync_history
    from scheduler.status.overview import integration_statuses

    h = legacy
    report = _migrate(h, dry_run=False)
    history = [e for e in sync_history(h.engine, h.integration.id) if e.run_id == report.run_id]
    assert {e.module for e in history} == {
        f"migrate_{k}s" for k in ("client", "project", "task", "bug", "timesheet", "invoice")
    }
    assert {e.trigger for e in history} == {"migrate"}
    by_module = {e.module: e for e in history}
    assert by_module["migrate_invoices"].status == "partial"
    assert by_module["migrate_invoices"].as_json()["counts"]["skipped"] == 1
    summary = {(g.module, g.reason_code): g.count for g in error_summary(h.engine, h.integration.id)}
    assert summary[("transactions", "no_primary_client")] == 1 and summary[("projects", "no_primary_client")] == 1
    enable(h.engine, h.settings, h.integration.id)
    (status,) = integration_statuses(h.engine, h.integration.id)
    modules = {m.module: m for m in status.modules}
    # a migration is history, not a module's health: no migrate_* badge, and the sync modules are not "Active"
    assert not [m for m in modules if m.startswith("migrate_")]
    assert modules["projects"].badge.state == "not_synced" and modules["projects"].open_errors == 1
    run = h.sync()
    assert run.status in ("succeeded", "partial")
    (status,) = integration_statuses(h.engine, h.integration.id)
    assert {m.module: m.badge.state for m in status.modules}["projects"] == "active"


WEB_TOKEN = "migrate-web-token-0123456789abcdef"


def test_web_dry_run_page_and_button_behind_a_confirmation(sandbox_factory: Any, pg_url: str, redis_url: str) -> None:
    from starlette.testclient import TestClient

    from scheduler.web.app import create_web_app

    server = sandbox_factory(size="tiny", legacy=True)
    with sync_harness(server, pg_url, worker=False, web_token=WEB_TOKEN) as h:
        iid = h.integration.id
        client = TestClient(create_web_app(h.settings, celery=h.app), headers={"Authorization": f"Bearer {WEB_TOKEN}"})
        enabled = client.get(f"/integrations/{iid}/migrate")
        assert enabled.status_code == 200 and 'id="blocked"' in enabled.text and 'id="migrate"' not in enabled.text
        disable(h.engine, iid)
        page = client.get(f"/integrations/{iid}/migrate")
        assert page.status_code == 200 and 'id="migrate"' in page.text
        (orphan_invoice,) = h.sandbox.world.awkward["legacy_no_primary_client_invoices"]
        assert f"<td>{orphan_invoice}</td>" in page.text and 'data-outcome="skipped"' in page.text
        unconfirmed = client.post(f"/integrations/{iid}/migrate", data={}, follow_redirects=False)
        assert unconfirmed.status_code == 400 and "one way" in unconfirmed.text
        with h.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(sync_runs)).scalar() == 0
        done = client.post(f"/integrations/{iid}/migrate", data={"confirm": "yes"}, follow_redirects=False)
        assert done.status_code == 303
        with h.engine.connect() as conn:
            run_id = conn.execute(sa.select(sync_runs.c.id).where(sync_runs.c.trigger == "migrate")).scalar_one()
        assert done.headers["location"] == f"/integrations/{iid}?migrated={run_id}"
        assert f"run #{run_id}" in client.get(done.headers["location"]).text
        after = client.get(f"/integrations/{iid}/migrate")
        assert 'id="migrated"' in after.text and 'id="migrate"' not in after.text
        again = client.post(f"/integrations/{iid}/migrate", data={"confirm": "yes"}, follow_redirects=False)
        assert again.status_code == 409 and "already migrated" in again.text
