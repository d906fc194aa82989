"""scheduler.status: badges, status, history, errors and the per-project view, from real syncs and from rows."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from scheduler.embedded import running_worker
from scheduler.status import (
    error_details,
    error_summary,
    integration_statuses,
    metrics_snapshot,
    project_detail,
    project_summaries,
    sync_history,
)
from scheduler.status.badges import Badge, module_badge, overall_badge
from shared.clock import utcnow
from shared.db import engine as dbe
from shared.db import module_states
from shared.db.integrations import create_integration, update_integration
from shared.db.schema import entity_links, module_runs, sync_errors, sync_runs
from shared.modules import MODULE_ORDER
from tests.ops_sync import connect, sync

NOW = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(minutes=5)
EARLIER = NOW - dt.timedelta(minutes=5)


def badge(**kw: object) -> Badge:
    args = {
        "disabled": False,
        "now": NOW,
        "paused_until": None,
        "waiting_until": None,
        "in_progress": False,
        "last_finished_status": None,
    } | kw
    return module_badge(**args)


# ------------------------------------------------------------------------------------------------ badges
def test_badges_follow_the_documented_precedence():
    assert badge(disabled=True, in_progress=True, paused_until=LATER).label == "Disabled"
    waiting = badge(in_progress=True, waiting_until=LATER)
    assert (waiting.label, waiting.resumes_at) == ("Waiting for API quota", LATER)
    assert badge(in_progress=True, paused_until=LATER, waiting_until=NOW + dt.timedelta(minutes=1)).resumes_at == LATER
    assert badge(in_progress=True, paused_until=EARLIER).label == "Sync in Progress"  # the pause is over
    assert badge(last_finished_status="succeeded").label == "Active"
    assert badge(last_finished_status="partial").label == "Active"  # some records failed: counted as open errors
    assert badge(last_finished_status="failed").label == "Failed"
    assert badge(last_finished_status="skipped").label == "Failed"  # a fatal error skipped the module
    assert badge().label == "Not synced yet"
    # a finished module keeps its badge while the integration waits for quota elsewhere
    assert badge(last_finished_status="succeeded", paused_until=LATER).label == "Active"


def test_an_in_progress_module_says_when_it_backs_off_or_stalled_and_when_it_resumes():
    retrying = badge(in_progress=True, waiting_until=LATER, wait_reason="retry")
    assert (retrying.label, retrying.resumes_at, retrying.detail) == (
        "Sync in Progress",
        LATER,
        "retrying after a transient error",
    )
    # a worker died holding it: the lease lapsed, and the beat's next sweep (every 30 s here) resumes it
    stalled = badge(in_progress=True, lease_until=EARLIER, sweep_every=30.0)
    assert stalled.label == "Sync in Progress" and stalled.detail.startswith("stalled: its worker stopped at")
    assert stalled.resumes_at == NOW + dt.timedelta(seconds=30)
    running = badge(in_progress=True, lease_until=LATER)
    assert (running.detail, running.resumes_at) == (None, None)


def test_an_integration_shows_its_most_urgent_module_badge():
    assert overall_badge([Badge("active"), Badge("failed"), Badge("in_progress")]).label == "Sync in Progress"
    assert overall_badge([Badge("active"), Badge("failed")]).label == "Failed"
    assert overall_badge([]).label == "Not synced yet"


# ------------------------------------------------------------------------------------------------ real syncs
@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request):
    return request.getfixturevalue("sqlite_migrated_url" if request.param == "sqlite" else "pg_migrated_url")


def test_status_history_and_errors_after_a_real_sync(sandbox_factory, database_url):
    world = connect(sandbox_factory(size="tiny"), database_url)
    with running_worker(world.app):
        run_id, outcome = sync(world)
    assert outcome == "partial"  # the small world's awkward cases fail some projects on purpose
    engine, iid = world.engine, world.integration.id

    [status] = integration_statuses(engine, "acme")
    by_module = {m.module: m for m in status.modules}
    assert list(by_module) == list(MODULE_ORDER)
    assert {m.badge.label for m in status.modules} == {"Active"}
    assert all(m.last_success_at is not None and m.run_id == run_id for m in status.modules)
    with engine.connect() as conn:
        open_by_module = dict(
            conn.execute(
                sa.select(sync_errors.c.module, sa.func.count())
                .where(sync_errors.c.resolved_at.is_(None))
                .group_by(sync_errors.c.module)
            ).all()
        )
        rows = {r.module: r for r in conn.execute(sa.select(module_runs).where(module_runs.c.sync_run_id == run_id))}
    assert open_by_module["projects"] > 0
    assert {m: by_module[m].open_errors for m in MODULE_ORDER} == {m: open_by_module.get(m, 0) for m in MODULE_ORDER}
    assert status.as_json()["next_run_at"] is not None

    history = sync_history(engine, iid)
    assert [e.module for e in history] == list(reversed(MODULE_ORDER))  # newest first
    for entry in history:
        row = rows[entry.module]
        assert entry.trigger == "manual" and entry.run_id == run_id and entry.status == row.status
        assert entry.counts == {c: getattr(row, c) for c in entry.counts}
        assert entry.api_calls == row.api_calls > 0
        assert entry.duration_seconds is not None
    assert [e.module for e in sync_history(engine, "acme", module="tasks")] == ["tasks"]
    assert len(sync_history(engine, limit=2)) == 2

    summary = error_summary(engine, iid)
    reasons = {(g.module, g.reason_code): g for g in summary}
    assert ("projects", "no_primary_client") in reasons
    assert all(g.hint for g in summary), "every reason tells the admin how to fix it"
    assert sum(g.count for g in summary) == sum(open_by_module.values())
    assert [g.module for g in error_summary(engine, iid, module="projects")] == ["projects"] * len(
        [g for g in summary if g.module == "projects"]
    )

    details = error_details(engine, iid)
    project_errors = {e.id: e for e in details if e.entity_type == "project"}
    blocked = [e for e in details if e.reason_code == "parent_failed" and e.module in ("tasks", "bugs")]
    assert blocked and all(e.blocked_by in project_errors for e in blocked)
    assert [e.module for e in details] == sorted((e.module for e in details), key=MODULE_ORDER.index)


def test_the_project_view_shows_what_synced_and_what_is_blocked(sandbox_factory, sqlite_migrated_url):
    world = connect(sandbox_factory(size="tiny"), sqlite_migrated_url)
    with running_worker(world.app):
        sync(world)
    engine, iid = world.engine, world.integration.id
    summaries = {p.projects_id: p for p in project_summaries(engine, iid)}

    synced = next(p for p in summaries.values() if p.books_id and p.synced.get("task"))
    detail = project_detail(engine, iid, synced.projects_id)
    with engine.connect() as conn:
        task_links = conn.execute(
            sa.select(entity_links).where(
                entity_links.c.parent_projects_id == synced.projects_id, entity_links.c.entity_type == "task"
            )
        ).all()
    assert {c.projects_id for c in detail.children if c.entity_type == "task"} == {r.projects_id for r in task_links}
    assert all(c.books_id and c.name for c in detail.children)
    assert detail.error is None and detail.blocked == []

    failed = next(p for p in summaries.values() if p.error_id and p.blocked)
    detail = project_detail(engine, iid, failed.projects_id)
    assert detail.project.books_id is None and detail.project.name
    assert detail.error is not None and detail.error.hint
    assert len(detail.blocked) == failed.blocked
    assert {b.blocked_by for b in detail.blocked} == {detail.error.id}


# ------------------------------------------------------------------------------------------------ from rows
def _run(conn: sa.Connection, iid: int, status: str, modules: dict[str, dict[str, object]]) -> int:
    run_id = conn.execute(
        sync_runs.insert().values(
            integration_id=iid, trigger="beat", modules=list(modules), status=status, requested_at=NOW
        )
    ).inserted_primary_key[0]
    for position, (module, values) in enumerate(modules.items()):
        conn.execute(
            module_runs.insert().values(
                sync_run_id=run_id, integration_id=iid, module=module, position=position, **values
            )
        )
    module_states.rebuild(conn, iid)  # rows written by hand, not through shared/db/runs.py
    return run_id


@pytest.fixture
def pg_integration(pg_migrated_url):
    from shared.config import load_settings
    from shared.crypto import new_key

    dbe.upgrade(pg_migrated_url)
    engine = dbe.make_engine(pg_migrated_url)
    integration = create_integration(
        engine,
        load_settings(secret_key=new_key()),
        name="rows",
        organization_id="1",
        portal_id="2",
        credentials={"refresh_token": "x"},
    )
    return engine, integration.id


def test_in_progress_waiting_failed_and_disabled_from_rows(pg_integration):
    engine, iid = pg_integration
    now = utcnow()
    resume = now + dt.timedelta(minutes=3)
    with engine.begin() as conn:
        _run(
            conn,
            iid,
            "failed",
            {
                "users": {"status": "succeeded", "finished_at": now - dt.timedelta(hours=2)},
                "clients": {"status": "succeeded", "finished_at": now - dt.timedelta(hours=2)},
                "projects": {"status": "failed", "error": "Books said no", "finished_at": now - dt.timedelta(hours=1)},
            },
        )
        running = _run(
            conn,
            iid,
            "running",
            {
                "users": {"status": "succeeded", "finished_at": now},
                "clients": {"status": "running", "waiting_until": resume, "fetched": 7},
                "projects": {"status": "queued"},
            },
        )
    badges = {m.module: m for m in integration_statuses(engine, iid, now=now)[0].modules}
    assert badges["users"].badge.label == "Active"
    assert (badges["clients"].badge.label, badges["clients"].badge.resumes_at) == ("Waiting for API quota", resume)
    assert badges["clients"].counts["fetched"] == 7 and badges["clients"].run_id == running
    assert badges["projects"].badge.label == "Sync in Progress"
    assert badges["projects"].last_success_at is None and badges["projects"].last_finished_at is not None
    assert badges["tasks"].badge.label == "Not synced yet"

    snapshot = metrics_snapshot(engine, now=now)
    assert snapshot.modules_in_progress == {("rows", "clients"): 1, ("rows", "projects"): 1}
    assert snapshot.module_runs_by_status[("projects", "failed")] == 1
    assert snapshot.records[("clients", "fetched")] == 0  # counted when the module run ends
    # the stalest module's success: clients, two hours ago
    assert snapshot.last_success_age_seconds["rows"] == pytest.approx(2 * 3600, abs=1)

    with engine.begin() as conn:  # the running sync ends; the earlier failure is now the latest for projects
        conn.execute(sync_runs.delete().where(sync_runs.c.id == running))
        module_states.rebuild(conn, iid)
    status = integration_statuses(engine, iid, now=now)[0]
    projects = next(m for m in status.modules if m.module == "projects")
    assert (projects.badge.label, projects.error) == ("Failed", "Books said no")
    assert status.badge.label == "Failed"

    update_integration(engine, iid, state="disabled")
    status = integration_statuses(engine, iid, now=now)[0]
    assert {m.badge.label for m in status.modules} == {"Disabled"}
    assert status.as_json()["next_run_at"] is None


def test_the_status_counts_the_counters_module_runs_keep():
    # scheduler/status/overview.py names them itself, so reading the status does not load SQLAlchemy
    from scheduler.status import overview
    from shared.db.runs import COUNTERS

    assert overview.COUNTERS == COUNTERS
