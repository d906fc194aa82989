"""module_states, open_error_counts and sync_run_totals stay equal to a full recomputation from history after
real syncs, record failures and fixes, a refresh joining a sync, a killed worker, a fatal error and a rebuild."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from shared.clock import utcnow
from shared.db import module_states, runs, sync_errors
from shared.db.schema import module_runs
from shared.db.schema import module_states as module_states_table
from shared.db.schema import sync_errors as errors_table
from shared.dispatch import request_sync, sweep
from tests.shared.db.state_recompute import assert_states_match_history
from tests.sync_support import sync_harness


def _lapse(h, module_run_id: int) -> None:
    """What a SIGKILLed worker leaves behind: a lease in the past."""
    with h.engine.begin() as conn:
        conn.execute(
            module_runs.update()
            .where(module_runs.c.id == module_run_id)
            .values(lease_until=utcnow() - dt.timedelta(seconds=1))
        )


@pytest.mark.slow  # full syncs of the tiny world (its seeded awkward cases fail) and more: started early under xdist
def test_states_follow_real_syncs_failures_and_fixes(tiny_sandbox, pg_migrated_url):
    with sync_harness(tiny_sandbox, pg_migrated_url) as h:
        first = h.sync()
        assert first.status == "partial" and h.errors()  # the sandbox seeds records that must fail
        assert_states_match_history(h.engine)
        assert h.sync("tasks").status in ("succeeded", "partial")
        assert_states_match_history(h.engine)
        fixed = h.errors()[0]
        with h.engine.begin() as conn:  # what a record that syncs at last does to its error
            sync_errors.resolve(conn, h.integration.id, fixed.entity_type, fixed.source_id)
            sync_errors.resolve(conn, h.integration.id, fixed.entity_type, fixed.source_id)  # twice: counted once
        assert_states_match_history(h.engine)
        with h.engine.begin() as conn:  # it fails again, then under another module
            problem = sync_errors.Problem("again", "it failed again")
            for module in (fixed.module, "bugs"):
                sync_errors.record(
                    conn,
                    h.integration.id,
                    module=module,
                    entity_type=fixed.entity_type,
                    source_id=fixed.source_id,
                    source_name=None,
                    problem=problem,
                    module_run_id=None,
                )
        assert_states_match_history(h.engine)


@pytest.fixture
def harness(sandbox, pg_migrated_url):
    with sync_harness(sandbox, pg_migrated_url, worker=False, max_module_attempts=1) as h:
        yield h


def test_states_follow_a_killed_worker_a_follow_up_run_and_a_fatal_error(harness):
    h = harness
    request = request_sync(h.engine, h.app, h.integration.id)
    follow_up = request_sync(h.engine, h.app, h.integration.id, module="users")  # users is queued: joins
    assert follow_up.run_id == request.run_id
    assert_states_match_history(h.engine)
    users = runs.claim_module(h.engine, request.start_module_run_id, lease_seconds=60)
    assert users is not None
    runs.add_calls(h.engine, users.id, {"api_calls": 3, "projects_calls": 3})
    waiting = request_sync(h.engine, h.app, h.integration.id, module="users")  # users runs: a follow-up waits
    assert waiting.run_id != request.run_id
    _lapse(h, users.id)
    sweep(h.engine, h.app, h.settings)  # one lapse resumes it
    assert runs.claim_module(h.engine, users.id, lease_seconds=60) is not None
    _lapse(h, users.id)
    sweep(h.engine, h.app, h.settings)  # the second gives up (max attempts 1): failed, the run hands on
    with h.engine.connect() as conn:
        row = conn.execute(sa.select(module_runs).where(module_runs.c.id == users.id)).one()
        state = conn.execute(sa.select(module_states_table).where(module_states_table.c.module == "users")).one()
    assert row.status == "failed"
    assert state.current_module_run_id == h.run(waiting.run_id).modules["users"].id  # the follow-up's users
    assert_states_match_history(h.engine)

    runs.add_calls(h.engine, users.id, {"api_calls": 2, "books_calls": 2})  # a late worker's calls still count
    clients = runs.claim_module(h.engine, h.run(request.run_id).modules["clients"].id, lease_seconds=60)
    assert clients is not None
    runs.finish(h.engine, clients, "succeeded")
    projects = runs.claim_module(h.engine, h.run(request.run_id).modules["projects"].id, lease_seconds=60)
    assert projects is not None
    next_module = runs.fail_run(h.engine, projects, "the refresh token was revoked")  # skips the rest
    assert next_module == [h.run(waiting.run_id).modules["users"].id]  # the follow-up starts
    assert h.run(request.run_id).status == "failed"
    assert_states_match_history(h.engine)


def test_rebuild_recomputes_rows_written_by_hand(harness):
    h = harness
    request = request_sync(h.engine, h.app, h.integration.id)
    with h.engine.begin() as conn:
        conn.execute(
            module_runs.update()
            .where(module_runs.c.id == request.start_module_run_id)
            .values(status="succeeded", finished_at=utcnow(), created=4)
        )
        conn.execute(
            errors_table.insert().values(
                integration_id=h.integration.id,
                module="projects",
                entity_type="project",
                source_id="1",
                reason_code="x",
                message="m",
                first_seen_at=utcnow(),
                last_seen_at=utcnow(),
            )
        )
    with pytest.raises(AssertionError):
        assert_states_match_history(h.engine)
    with h.engine.begin() as conn:
        module_states.rebuild(conn, h.integration.id)
    assert_states_match_history(h.engine)


@pytest.mark.parametrize("url_fixture", ["pg_url", "sqlite_url"])
def test_the_migration_backfills_the_states_from_history_and_downgrades(request, sandbox, url_fixture):
    from shared.db import engine as dbengine

    url = request.getfixturevalue(url_fixture)
    with sync_harness(sandbox, url, worker=False) as h:
        first = request_sync(h.engine, h.app, h.integration.id)
        users = runs.claim_module(h.engine, first.start_module_run_id, lease_seconds=60)
        assert users is not None
        runs.finish(h.engine, users, "partial")
        request_sync(h.engine, h.app, h.integration.id, module="users")  # a follow-up waits
        with h.engine.begin() as conn:
            sync_errors.record(
                conn,
                h.integration.id,
                module="users",
                entity_type="user",
                source_id="9",
                source_name=None,
                problem=sync_errors.Problem("x", "y"),
                module_run_id=users.id,
            )
        dbengine.downgrade(url, "0005")
        dbengine.upgrade(url)
        assert_states_match_history(h.engine)
