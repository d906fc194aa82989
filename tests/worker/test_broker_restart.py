"""A broker (Redis) restart in the middle of a sync: both workers survive it and the run completes, once.

The test runs its own redis-server on a free port (the shared test Redis must never be restarted), two real
``celery worker`` processes as production starts them (prefork pool, heartbeat, mingle and gossip on), and
kills Redis while a module slice is in flight. Whatever was queued dies with Redis (no persistence here, as
with a lost broker host); the sweeper re-enqueues the module once it looks stale, as the beat's tick would.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
import requests
from kombu.exceptions import OperationalError

from shared.db.integrations import update_integration
from shared.dispatch import request_sync, sweep
from tests.chaos.support import PrivateRedis, claims, logs, start_worker, stop, worker_env
from tests.sync_support import sync_harness
from tests.worker.timesheet_expectation import Expectation

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.chaos]
STALL_SECONDS = 6
OUTAGE_SECONDS = 1.5


def test_workers_survive_a_broker_restart_mid_sync_and_the_run_completes_once(tiny_sandbox, pg_migrated_url, tmp_path):
    sandbox = tiny_sandbox  # the outage needs a slice in flight, not a big world
    broker = PrivateRedis(tmp_path)
    workers: list[subprocess.Popen] = []
    try:
        broker.start()
        with sync_harness(
            sandbox,
            pg_migrated_url,
            broker_url=broker.url,
            worker=False,
            slice_pages=1,
            # the lease outlasts the stalled call (a live slice is never taken over); a module whose message was
            # lost looks stale after 2 s
            module_lease_seconds=STALL_SECONDS + 4,
            stale_after_seconds=2,
            beat_tick_seconds=1,
        ) as h:
            env = worker_env(h.settings)
            workers = [start_worker(env, name, tmp_path / f"{name}.log") for name in ("w1", "w2")]

            # One Books task create stalls for STALL_SECONDS: the slice making it is in flight (its message delivered,
            # not yet acknowledged) for the whole broker outage, and finishes after Redis is back.
            faults = f"{sandbox.base_url}/_sandbox/faults"
            stall = {"api": "books", "method": "POST", "path": "/books/v3/projects/{project_id}/tasks"}
            stall |= {"kind": "latency", "latency_ms": STALL_SECONDS * 1000, "count": 1}
            requests.post(faults, json=stall, timeout=5).raise_for_status()
            request = request_sync(h.engine, h.app, h.integration.id)
            deadline = time.monotonic() + 90
            while requests.get(faults, timeout=5).json()["faults"] and time.monotonic() < deadline:
                time.sleep(0.05)  # a fault with count 1 leaves the list when it fires
            assert not requests.get(faults, timeout=5).json()["faults"], f"no task create came\n{logs(tmp_path)}"
            assert h.run(request.run_id).modules["tasks"].status == "running"

            claimed = claims(h.engine, request.run_id)
            killed_at = time.monotonic()
            broker.kill()  # SIGKILL: no goodbye to the clients, everything queued is lost
            time.sleep(OUTAGE_SECONDS)
            broker.start()

            claim_times: list[tuple[float, int]] = []
            # the beat's part: re-enqueue what looks stale (the in-flight slice's continuation died with Redis)
            deadline = time.monotonic() + 150
            while h.run(request.run_id).status in ("queued", "running") and time.monotonic() < deadline:
                assert all(w.poll() is None for w in workers), f"a worker died\n{logs(tmp_path)}"
                claim_times.append((time.monotonic(), claims(h.engine, request.run_id)))
                with contextlib.suppress(OperationalError):  # the test's own publisher may still be reconnecting
                    sweep(h.engine, h.app, h.settings)
                time.sleep(0.5)

            finished = h.run(request.run_id)
            # recovery (benchmarks/RESULTS.md, Reliability): from the broker's kill to the next claim of a module
            first_claim = next((t for t, n in claim_times if n > claimed), None)
            print(f"\nnext module claim {first_claim - killed_at:.2f}s after the broker kill" if first_claim else "")
            assert finished.status in ("succeeded", "partial"), f"{finished}\n{logs(tmp_path)}"
            assert all(m.status in ("succeeded", "partial") for m in finished.modules.values()), finished
            # both workers are alive and back on the broker (each answers a broadcast ping)
            assert all(w.poll() is None for w in workers), logs(tmp_path)
            assert "Unrecoverable error" not in logs(tmp_path)
            replies = {}
            deadline = time.monotonic() + 20
            while len(replies) < 2 and time.monotonic() < deadline:
                for reply in h.app.control.ping(timeout=2) or []:
                    replies.update(reply)
            assert sorted(n.split("@")[0] for n in replies) == ["w1", "w2"], f"{replies}\n{logs(tmp_path)}"

            # nothing written twice to Books: projects, tasks and bugs, time entries
            state = h.state()
            source_of = {p["name"]: p["id"] for p in state["projects"]}
            assert all(n == 1 for n in Counter(p["project_name"] for p in state["books_projects"]).values())
            books_tasks = Counter((t["project_id"], t["task_name"]) for t in state["books_tasks"])
            expected = Counter()
            for project in state["books_projects"]:
                source = source_of[project["project_name"]]
                expected.update((project["project_id"], t["name"]) for t in state["tasks"] if t["project_id"] == source)
                expected.update(
                    (project["project_id"], f"{b['key']}: {b['title']}")
                    for b in state["bugs"]
                    if b["project_id"] == source
                )
            assert books_tasks == expected
            integration = h.integration
            expect = Expectation(h, general=integration.general_timesheets, cutoff=integration.timesheet_cutoff_date)
            written = expect.written()
            assert written
            assert Counter(expect.entry_key(e) for e in expect.entries) == Counter(expect.key(x) for x in written)
            update_integration(h.engine, h.integration.id, state="disabled")
            h.engine.dispose()
    finally:
        for worker in workers:
            stop(worker)
        broker.kill()
