"""Leases, fencing and the sweeper (issue 13 items 2, 4, 5, 6, 7): what the database guarantees when workers die,
stall or run twice, checked directly on the tables (PostgreSQL, where the locks are real)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from shared.clock import utcnow
from shared.db import runs
from shared.db.schema import module_runs
from shared.dispatch import enqueue_module, request_sync, sweep
from tests.sync_support import sync_harness

LONG_AGO = dt.timedelta(hours=2)


def _set(h, module_run_id: int, **values) -> None:
    with h.engine.begin() as conn:
        conn.execute(module_runs.update().where(module_runs.c.id == module_run_id).values(**values))


def _row(h, module_run_id: int) -> sa.Row:
    with h.engine.connect() as conn:
        return conn.execute(sa.select(module_runs).where(module_runs.c.id == module_run_id)).one()


def _lapse(h, module_run_id: int) -> None:
    """What a SIGKILLed worker leaves behind: a lease in the past."""
    _set(h, module_run_id, lease_until=utcnow() - dt.timedelta(seconds=1))


@pytest.fixture
def harness(sandbox, pg_migrated_url):
    # a sweep must never wait stale_after_seconds for a dead worker: the lapsed lease is the proof
    with sync_harness(sandbox, pg_migrated_url, worker=False, stale_after_seconds=300, max_module_attempts=2) as h:
        yield h


def test_a_lapsed_lease_is_resumed_at_once_not_after_the_stale_delay(harness):
    h = harness
    request = request_sync(h.engine, h.app, h.integration.id)
    users = runs.claim_module(h.engine, request.start_module_run_id, lease_seconds=60)
    assert sweep(h.engine, h.app, h.settings) == []  # a live lease: nobody touches it
    _lapse(h, users.id)
    assert sweep(h.engine, h.app, h.settings) == [users.id]
    assert _row(h, users.id).attempts == 1
    # the worker that lapsed cannot come back and write: its claim was taken over
    successor = runs.claim_module(h.engine, users.id, lease_seconds=60)
    assert successor is not None and successor.token == users.token + 1
    with pytest.raises(runs.LeaseLost), h.engine.begin() as conn:
        runs.checkpoint(conn, users, {"page": 9}, {"created": 5}, 60)
    with pytest.raises(runs.LeaseLost):
        runs.release(h.engine, users)
    with pytest.raises(runs.LeaseLost):
        runs.finish(h.engine, users, "succeeded")
    with pytest.raises(runs.LeaseLost), h.engine.begin() as conn:
        runs.extend_lease(conn, users, 60)
    row = _row(h, users.id)
    assert (row.status, row.checkpoint, row.created) == ("running", None, 0)
    assert row.lease_until is not None  # the successor's lease is intact
    with h.engine.begin() as conn:
        runs.checkpoint(conn, successor, {"page": 2}, {"created": 3}, 60)
    row = _row(h, users.id)
    assert (row.checkpoint, row.created, row.attempts) == ({"page": 2}, 3, 0)  # progress resets the attempts


def test_a_module_whose_worker_keeps_dying_without_progress_fails_and_the_run_moves_on(harness):
    h = harness
    request = request_sync(h.engine, h.app, h.integration.id)
    users = request.start_module_run_id
    for attempt in (1, 2):
        assert runs.claim_module(h.engine, users, lease_seconds=60) is not None
        _lapse(h, users)
        assert sweep(h.engine, h.app, h.settings) == [users]
        assert _row(h, users).attempts == attempt
    assert runs.claim_module(h.engine, users, lease_seconds=60) is not None
    _lapse(h, users)
    modules = h.run(request.run_id).modules
    assert request.start_module_run_ids == (users, modules["clients"].id)  # siblings: sent at once
    assert sweep(h.engine, h.app, h.settings) == []  # users gave up; projects waits for clients too
    assert _row(h, users).status == "failed"
    assert "stopped 2 times without progress" in _row(h, users).error
    clients = runs.claim_module(h.engine, modules["clients"].id, lease_seconds=60)
    assert runs.finish(h.engine, clients, "succeeded") == [modules["projects"].id]  # the run moves on


def test_finishing_a_module_and_handing_on_are_one_transaction(harness, monkeypatch):
    h = harness
    request = request_sync(h.engine, h.app, h.integration.id, module="bugs")
    bugs = runs.claim_module(h.engine, request.start_module_run_id, lease_seconds=60)

    def crash(*_args):
        raise RuntimeError("worker killed between finishing and handing on")

    monkeypatch.setattr(runs, "_advance", crash)
    with pytest.raises(RuntimeError):
        runs.finish(h.engine, bugs, "succeeded")
    monkeypatch.undo()
    assert _row(h, bugs.id).status == "running"  # nothing half-done: the module is not finished either
    assert runs.finish(h.engine, bugs, "succeeded") == [h.run(request.run_id).modules["timesheets"].id]


def test_a_run_left_running_with_every_module_finished_is_closed_and_its_follow_up_started(harness):
    h = harness
    first = request_sync(h.engine, h.app, h.integration.id, module="timesheets")
    _set(h, first.start_module_run_id, status="succeeded", finished_at=utcnow(), heartbeat_at=utcnow())
    assert h.run(first.run_id).status == "running"  # what a crash in the old two-transaction finish left
    waiting = request_sync(h.engine, h.app, h.integration.id, module="bugs")
    assert waiting.coalesced and waiting.run_id != first.run_id  # it waits behind the stuck run
    follow_up_bugs = h.run(waiting.run_id).modules["bugs"].id
    assert sweep(h.engine, h.app, h.settings) == [follow_up_bugs]
    assert h.run(first.run_id).status == "succeeded"
    assert h.run(waiting.run_id).status == "running"


def test_a_pending_wait_is_respected_and_resumed_by_the_tick_not_by_an_eta(harness):
    h = harness
    request = request_sync(h.engine, h.app, h.integration.id)
    users = runs.claim_module(h.engine, request.start_module_run_id, lease_seconds=60)
    runs.pause(h.engine, users, utcnow() + dt.timedelta(minutes=10), "retry", error="attempt 1 failed: 502")
    _set(h, users.id, heartbeat_at=utcnow() - LONG_AGO)  # even an old heartbeat does not end a wait
    assert sweep(h.engine, h.app, h.settings) == []
    assert runs.claim_module(h.engine, users.id, lease_seconds=60) is None  # a stray message cannot end it
    _set(h, users.id, waiting_until=utcnow() - dt.timedelta(seconds=1))
    assert sweep(h.engine, h.app, h.settings) == [users.id]
    assert sweep(h.engine, h.app, h.settings) == []  # sent once
    row = _row(h, users.id)
    assert (row.waiting_until, row.wait_reason, row.attempts) == (None, None, 0)


def test_a_throttled_wait_ends_by_its_own_message_the_sweep_sends_one_only_if_lost(harness, monkeypatch):
    # fairness (issue 19): a slice throttled for a second sent itself with a countdown; a second message from the
    # sweep would give that tenant two slices in the queue
    h = harness
    request = request_sync(h.engine, h.app, h.integration.id)
    users = runs.claim_module(h.engine, request.start_module_run_id, lease_seconds=60)
    runs.pause(h.engine, users, utcnow() - dt.timedelta(seconds=1), runs.THROTTLED)
    assert sweep(h.engine, h.app, h.settings) == []  # due, but its message is on the way
    _set(h, users.id, waiting_until=utcnow() - dt.timedelta(seconds=301))  # not taken stale_after_seconds on
    assert sweep(h.engine, h.app, h.settings) == [users.id]
    # a message that could not be sent (broker down) is sent by the next sweep once the wait is over
    users = runs.claim_module(h.engine, users.id, lease_seconds=60)
    runs.pause(h.engine, users, utcnow() - dt.timedelta(seconds=1), runs.THROTTLED)
    monkeypatch.setattr(h.app, "send_task", lambda *_a, **_k: (_ for _ in ()).throw(ConnectionRefusedError("down")))
    assert enqueue_module(h.app, users.id, countdown=1.0) is False
    monkeypatch.undo()
    assert sweep(h.engine, h.app, h.settings) == [users.id]


def test_a_lost_message_is_sent_again_without_costing_an_attempt(harness):
    h = harness
    request = request_sync(h.engine, h.app, h.integration.id)
    users = request.start_module_run_id
    assert sweep(h.engine, h.app, h.settings) == []  # just sent
    _set(h, users, heartbeat_at=utcnow() - LONG_AGO)
    assert sweep(h.engine, h.app, h.settings) == [users]
    assert _row(h, users).attempts == 0


def test_a_send_that_fails_is_repeated_by_the_next_sweep(harness, monkeypatch):
    h = harness
    request = request_sync(h.engine, h.app, h.integration.id)
    users = request.start_module_run_id

    def broker_down(*_args, **_kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(h.app, "send_task", broker_down)
    assert enqueue_module(h.app, users) is False
    monkeypatch.undo()
    assert sweep(h.engine, h.app, h.settings) == [users]  # at once, not stale_after_seconds later


def test_two_sweeps_at_once_resume_a_dead_module_once(harness):
    h = harness
    request = request_sync(h.engine, h.app, h.integration.id)
    users = request.start_module_run_id
    assert runs.claim_module(h.engine, users, lease_seconds=60) is not None
    _lapse(h, users)
    barrier = threading.Barrier(2)
    results: list[list[int]] = []

    def beat() -> None:
        barrier.wait()
        results.append(sweep(h.engine, h.app, h.settings))

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results, key=len) == [[], [users]]
    assert _row(h, users).attempts == 1


def test_beat_ticks_expire_so_a_backlog_never_runs_stale_sweeps(harness):
    schedule = harness.app.conf.beat_schedule["bpsync-tick"]
    assert 0 < schedule["options"]["expires"] <= harness.settings.beat_tick_seconds
