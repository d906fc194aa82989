"""Dispatch, coalescing and crash recovery: two beats, a refresh during a sync, a worker killed with SIGKILL."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter

import pytest
import requests
import sqlalchemy as sa

from scheduler.embedded import running_worker
from shared.celery_app import INSTANT_QUEUE, SYNC_QUEUE
from shared.db.integrations import get_integration, update_integration
from shared.db.schema import module_runs, sync_runs
from shared.dispatch import dispatch_due, request_sync, sweep
from tests.chaos.support import kill_group, start_worker, stop, worker_env
from tests.sync_support import sync_harness


def _runs(engine, integration_id):
    with engine.connect() as conn:
        return conn.execute(
            sa.select(sync_runs).where(sync_runs.c.integration_id == integration_id).order_by(sync_runs.c.id)
        ).all()


def test_two_beats_dispatch_a_due_integration_once(sandbox, pg_migrated_url):
    with sync_harness(sandbox, pg_migrated_url, worker=False) as h:
        connected = h.integration.connected_at
        now = connected + dt.timedelta(hours=49)
        barrier = threading.Barrier(2)
        started: list[list[int]] = []

        def beat() -> None:
            barrier.wait()
            started.append(dispatch_due(h.engine, h.app, now=now))

        threads = [threading.Thread(target=beat) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(len(s) for s in started) == [0, 1]
        assert len(_runs(h.engine, h.integration.id)) == 1
        # the schedule stays anchored to connect time: 49 h after connecting, the next slot is at 72 h
        assert get_integration(h.engine, h.integration.id).next_run_at == connected + dt.timedelta(hours=72)
        assert dispatch_due(h.engine, h.app, now=now) == []


@pytest.mark.slow
def test_a_refresh_during_a_sync_joins_it_and_never_runs_two_at_once(tiny_sandbox, pg_migrated_url, redis_url):
    with sync_harness(tiny_sandbox, pg_migrated_url, broker_url=redis_url, worker=False) as h:
        first = request_sync(h.engine, h.app, h.integration.id)
        assert not first.coalesced and first.start_module_run_id is not None
        # nothing has started yet: a refresh of "tasks" is already covered by the queued modules
        joined = request_sync(h.engine, h.app, h.integration.id, module="tasks")
        assert (joined.run_id, joined.coalesced, joined.start_module_run_id) == (first.run_id, True, None)
        # once users has run, a full refresh can't join: it waits as one follow-up run, and further ones merge in
        with h.engine.begin() as conn:
            conn.execute(
                module_runs.update().where(module_runs.c.id == first.start_module_run_id).values(status="succeeded")
            )
        follow_up = request_sync(h.engine, h.app, h.integration.id)
        again = request_sync(h.engine, h.app, h.integration.id, module="users")
        assert follow_up.coalesced and follow_up.run_id != first.run_id and again.run_id == follow_up.run_id
        assert [r.status for r in _runs(h.engine, h.integration.id)] == ["running", "queued"]
        with running_worker(h.app, concurrency=2):
            # users "ran"; clients was sent with it when the run started (siblings run at once), its end hands on
            h.wait(first.run_id)
            h.wait(follow_up.run_id)
        done = _runs(h.engine, h.integration.id)
        assert [r.status for r in done] == ["partial", "partial"]
        assert done[1].started_at >= done[0].finished_at  # never two syncs of one integration at once


# one process (solo pool), quiet, and nothing between workers to wait for at start
SOLO = ("--pool", "solo", "--without-heartbeat", "--without-mingle", "--without-gossip")


@pytest.mark.slow
def test_a_worker_killed_mid_module_is_replaced_and_nothing_is_duplicated(
    tiny_sandbox, pg_migrated_url, redis_url, tmp_path
):
    # Slow Books task creates so the kill lands in the middle of the tasks module: the tiny world's tasks module
    # creates 9 (the rest are blocked by their project), the kill comes after the third, 6 x 300 ms before its end.
    sandbox = tiny_sandbox
    requests.post(
        f"{sandbox.base_url}/_sandbox/faults",
        json={
            "api": "books",
            "method": "POST",
            "path": "/books/v3/projects/{project_id}/tasks",
            "kind": "latency",
            "latency_ms": 300,
        },
        timeout=5,
    ).raise_for_status()
    with sync_harness(
        sandbox,
        pg_migrated_url,
        broker_url=redis_url,
        worker=False,
        slice_pages=1,
        module_lease_seconds=2,
        stale_after_seconds=1,
    ) as h:
        env = worker_env(h.settings)
        request = request_sync(h.engine, h.app, h.integration.id)
        first = start_worker(env, "first", tmp_path / "worker1.log", loglevel="WARNING", options=SOLO)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                tasks = h.run(request.run_id).modules["tasks"]
                if tasks.created >= 3:
                    break
                time.sleep(0.05)
            assert tasks.created >= 3, "the tasks module never got going"
        finally:
            kill_group(first)
        # The kill may land between two slices, after the next slice's message was queued; dropping what is
        # queued makes the sweeper the only way back, whichever moment the kill hit.
        with h.app.connection_for_write() as conn:
            for queue in (SYNC_QUEUE, INSTANT_QUEUE):
                conn.default_channel.queue_purge(queue)
        interrupted = h.run(request.run_id)
        assert interrupted.status == "running" and interrupted.modules["tasks"].status == "running"
        second = start_worker(env, "second", tmp_path / "worker2.log", loglevel="WARNING", options=SOLO)
        try:
            deadline = time.monotonic() + 90
            resumed: list[int] = []
            while h.run(request.run_id).status == "running" and time.monotonic() < deadline:
                resumed += sweep(h.engine, h.app, h.settings)  # what beat's tick does
                time.sleep(0.5)
        finally:
            stop(second)
        finished = h.run(request.run_id)
        assert finished.status == "partial", finished
        assert finished.modules["tasks"].id in resumed  # the sweeper picked up the dead worker's module
        assert all(m.status in ("succeeded", "partial") for m in finished.modules.values())
        state = h.state()
        source_of = {p["name"]: p["id"] for p in state["projects"]}
        books_tasks = Counter((t["project_id"], t["task_name"]) for t in state["books_tasks"])
        expected = Counter()
        for project in state["books_projects"]:
            source = source_of[project["project_name"]]
            expected.update((project["project_id"], t["name"]) for t in state["tasks"] if t["project_id"] == source)
            expected.update(
                (project["project_id"], f"{b['key']}: {b['title']}") for b in state["bugs"] if b["project_id"] == source
            )
        assert books_tasks == expected  # every task and bug once (the generator also seeds same-name tasks)
        update_integration(h.engine, h.integration.id, state="disabled")


def test_instant_polls_start_a_recent_timesheets_run_for_synced_integrations(sandbox, pg_migrated_url):
    from shared.clock import utcnow
    from shared.dispatch import dispatch_instant_polls

    with sync_harness(sandbox, pg_migrated_url, worker=False) as h:
        now = utcnow()
        assert dispatch_instant_polls(h.engine, h.app, h.settings, now=now) == []  # never synced: nothing to poll
        with h.engine.begin() as conn:
            conn.execute(
                sync_runs.insert().values(
                    integration_id=h.integration.id,
                    trigger="beat",
                    modules=["users"],
                    status="partial",
                    requested_at=now - dt.timedelta(hours=1),
                )
            )
        later = now + dt.timedelta(minutes=h.settings.instant_poll_minutes + 1)
        [run_id] = dispatch_instant_polls(h.engine, h.app, h.settings, now=later)
        poll = next(r for r in _runs(h.engine, h.integration.id) if r.id == run_id)
        assert (poll.trigger, poll.modules, poll.status) == ("instant", ["timesheets"], "running")
        # one poll at a time, and not again within the interval
        assert dispatch_instant_polls(h.engine, h.app, h.settings, now=later + dt.timedelta(minutes=30)) == []
        with h.engine.begin() as conn:
            conn.execute(sync_runs.update().where(sync_runs.c.id == run_id).values(status="succeeded"))
        assert dispatch_instant_polls(h.engine, h.app, h.settings, now=later + dt.timedelta(seconds=30)) == []
        # a poll that cost 500 Projects calls (10 minutes of quota) waits 4x that before the next one
        with h.engine.begin() as conn:
            conn.execute(module_runs.update().where(module_runs.c.sync_run_id == run_id).values(projects_calls=500))
        assert dispatch_instant_polls(h.engine, h.app, h.settings, now=later + dt.timedelta(minutes=39)) == []
        [next_poll] = dispatch_instant_polls(h.engine, h.app, h.settings, now=later + dt.timedelta(minutes=40))
        with h.engine.begin() as conn:
            conn.execute(sync_runs.update().where(sync_runs.c.id == next_poll).values(status="succeeded"))
        update_integration(h.engine, h.integration.id, state="disabled")
        assert dispatch_instant_polls(h.engine, h.app, h.settings, now=later + dt.timedelta(hours=5)) == []
