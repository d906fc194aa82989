"""Sibling modules (users and clients; tasks and bugs) run at once: what the run's tables guarantee when they start,
end together, or when one of them meets a fatal error while the other runs (PostgreSQL, where the locks are real)."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from shared.db import runs
from shared.db.schema import module_runs
from shared.dispatch import request_sync, sweep
from tests.sync_support import sync_harness


@pytest.fixture
def harness(sandbox, pg_migrated_url):
    with sync_harness(sandbox, pg_migrated_url, worker=False) as h:
        yield h


def _claim(h, module_run_id: int) -> runs.ModuleRun:
    claimed = runs.claim_module(h.engine, module_run_id, lease_seconds=60)
    assert claimed is not None
    return claimed


def _end_at_once(h, *claimed: runs.ModuleRun) -> list[list[int]]:
    """Each module finished by its own thread, the transactions started together."""
    barrier = threading.Barrier(len(claimed))
    handed_on: list[list[int]] = [[] for _ in claimed]

    def end(i: int) -> None:
        barrier.wait()
        handed_on[i] = runs.finish(h.engine, claimed[i], "succeeded")

    threads = [threading.Thread(target=end, args=(i,)) for i in range(len(claimed))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return handed_on


def test_siblings_start_together_and_the_module_waiting_for_both_is_handed_on_once(harness):
    h = harness
    request = request_sync(h.engine, h.app, h.integration.id)
    modules = {name: row.id for name, row in h.run(request.run_id).modules.items()}
    assert request.start_module_run_ids == (modules["users"], modules["clients"])
    users, clients = _claim(h, modules["users"]), _claim(h, modules["clients"])
    # a stray message for projects while its parents run is sent back to wait
    assert runs.parents_unfinished(h.engine, runs.get_module_run(h.engine, modules["projects"]))
    assert sorted(_end_at_once(h, users, clients)) == [[], [modules["projects"]]]
    projects = _claim(h, modules["projects"])
    assert sorted(runs.finish(h.engine, projects, "succeeded")) == [modules["tasks"], modules["bugs"]]
    tasks, bugs = _claim(h, modules["tasks"]), _claim(h, modules["bugs"])
    assert sweep(h.engine, h.app, h.settings) == []  # both live: the sweeper leaves them
    assert sorted(_end_at_once(h, tasks, bugs)) == [[], [modules["timesheets"]]]
    assert runs.finish(h.engine, _claim(h, modules["timesheets"]), "succeeded") == []
    assert h.run(request.run_id).status == "succeeded"


def _tasks_and_bugs_running(h) -> tuple[int, runs.ModuleRun, runs.ModuleRun]:
    """A refresh of projects, projects ended: its run's id and the two siblings, each claimed by a worker."""
    request = request_sync(h.engine, h.app, h.integration.id, module="projects")
    modules = {name: row.id for name, row in h.run(request.run_id).modules.items()}
    runs.finish(h.engine, _claim(h, modules["projects"]), "succeeded")
    return request.run_id, _claim(h, modules["tasks"]), _claim(h, modules["bugs"])


def test_a_fatal_error_skips_the_running_sibling_whose_next_write_is_refused(harness):
    h = harness
    run_id, tasks, bugs = _tasks_and_bugs_running(h)
    assert runs.fail_run(h.engine, tasks, "the refresh token was revoked") == []
    with h.engine.connect() as conn:
        row = conn.execute(sa.select(module_runs).where(module_runs.c.id == bugs.id)).one()
    assert (row.status, row.error, row.lease_until) == ("skipped", "the refresh token was revoked", None)
    with pytest.raises(runs.LeaseLost), h.engine.begin() as conn:
        runs.checkpoint(conn, bugs, {"page": 2}, {"created": 1}, 60)  # the sibling stops at its next write
    with pytest.raises(runs.LeaseLost):
        runs.finish(h.engine, bugs, "succeeded")
    assert {m: r.status for m, r in h.run(run_id).modules.items()} == {
        "projects": "succeeded",
        "tasks": "failed",
        "bugs": "skipped",
        "timesheets": "skipped",
    }
    assert h.run(run_id).status == "failed"


def test_a_sibling_that_ended_before_a_fatal_error_keeps_its_end(harness):
    h = harness
    run_id, tasks, bugs = _tasks_and_bugs_running(h)
    assert runs.finish(h.engine, bugs, "partial") == []  # timesheets waits for tasks
    runs.fail_run(h.engine, tasks, "the refresh token was revoked")
    statuses = {m: r.status for m, r in h.run(run_id).modules.items()}
    assert (statuses["bugs"], statuses["timesheets"]) == ("partial", "skipped")
