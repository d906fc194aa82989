"""A worker SIGKILLed 20 times at random points of a full ``small`` sync, restarted each time.

One real worker, ``python -m worker`` (prefork, one pool process, as production starts it; forked from a server
that imported its libraries, tests/forked.py) works the run; at each kill point the whole worker (main process and
pool child, like a host that dies) gets SIGKILL and a new one starts at once. The test process sweeps every 0.5 s,
as the beat's tick does; leases are 2 s, so a killed worker's module is claimed again ~2 s later.

Kill points are random (``random.Random(seed)``; set ``BPSYNC_CHAOS_SEED`` to replay a failure): each is a point
of progress (in Zoho calls, at least one point inside each module) plus a random delay, and one of three kinds:
``anytime``; ``books-request``, while a Books create is on the wire (a count-1 latency fault: the sandbox never
handles it); ``link-commit``, after Books created the record but while the transaction completing its link sleeps
(a test-only trigger), so the link stays pending and the next worker must find the record instead of creating it
again. After the run: Books is exactly what an undisturbed run of the same world makes (nothing lost, nothing
doubled), every counter of every module run equals the undisturbed run's, the sum of ``created`` equals the
records Books gained (ground truth, /_sandbox/state), and no module was ever held by two workers at once (a
trigger logs every claim).
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
import time
from dataclasses import dataclass

import pytest
import requests

from sandbox.generator import credentials
from shared.db.integrations import update_integration
from shared.dispatch import request_sync, sweep
from tests.chaos.conftest import sandbox_requests
from tests.chaos.support import (
    LinkStall,
    books_picture,
    books_posts,
    claims,
    counts_of,
    harness_summary,
    install_lease_audit,
    kill_group,
    lease_violations,
    logs,
    module_rows,
    processes,
    start_worker,
    wait_until,
    worker_env,
)
from tests.sync_support import sync_harness

pytestmark = [pytest.mark.slow, pytest.mark.chaos]

KILLS = 20
LEASE_SECONDS = 2.0
SWEEP_EVERY = 0.5
STALL_MS = 600
KINDS = ("anytime", "books-request", "link-commit")


@dataclass
class Kill:
    number: int
    kind: str  # "anytime" or "books-write" (a Books POST was in flight)
    module: str
    counts: str
    requests: int
    recovery: float = 0.0  # seconds from the kill to the next claim of one of the run's modules

    def __str__(self) -> str:
        where = f"{self.module} ({self.counts}, request {self.requests})"
        return f"#{self.number} {self.kind} in {where}: claimed again after {self.recovery:.2f}s"


def _sweeping(h, stop: threading.Event) -> threading.Thread:
    def loop() -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception):
                sweep(h.engine, h.app, h.settings)
            stop.wait(SWEEP_EVERY)

    thread = threading.Thread(target=loop, name="sweeper", daemon=True)
    thread.start()
    return thread


def _current(h, run_id: int) -> tuple[str, str]:
    for row in module_rows(h.engine, run_id):
        if row.status not in ("succeeded", "partial", "failed", "skipped"):
            counts = f"fetched={row.fetched} created={row.created} token={row.lease_token}"
            return row.module, counts
    return "-", "all finished"


def test_a_worker_killed_20_times_at_random_points_of_a_full_sync_loses_and_doubles_nothing(
    sandbox, pg_migrated_url, redis_url, tmp_path, reference
):
    ref = reference("small")
    seed = int(os.environ.get("BPSYNC_CHAOS_SEED") or random.SystemRandom().randrange(1 << 32))
    rng = random.Random(seed)
    # progress points spread over the whole sync, each with its kind and a delay after it
    # one point inside each module (by the Zoho calls the undisturbed run made before and in it), the rest anywhere
    points, before = [], 0
    for calls in ref.calls.values():
        points.append(before + rng.uniform(0.1, 0.9) * calls)
        before += calls
    points = sorted(points + [rng.uniform(0.02, 0.9) * before for _ in range(KILLS - len(points))])
    plan = [(p, rng.choice(KINDS), rng.uniform(0.02, STALL_MS / 1000 - 0.1)) for p in points]
    faults = f"{sandbox.base_url}/_sandbox/faults"
    kills: list[Kill] = []
    stop_sweeping = threading.Event()
    sweeper = None

    def about() -> str:
        return f"seed={seed} (BPSYNC_CHAOS_SEED={seed} replays it); kills:\n" + "\n".join(map(str, kills))

    with (
        sync_harness(
            sandbox,
            pg_migrated_url,
            broker_url=redis_url,
            worker=False,
            slice_pages=1,
            module_lease_seconds=LEASE_SECONDS,
            stale_after_seconds=2,
            beat_tick_seconds=1,
            # the 20 kills may all land in one module before it makes progress; the give-up rule (lapses without
            # progress) is tested in tests/shared/test_leases.py, here the run must survive every kill
            max_module_attempts=25,
        ) as h,
        processes() as started,
    ):
        try:
            install_lease_audit(h.engine)
            stall = LinkStall(h.engine)
            organization = credentials(sandbox.world)["organization_id"]
            records_before = books_picture(h.state(), organization).records()
            env = worker_env(h.settings)
            worker = start_worker(env, "w0", tmp_path / "w0.log")
            started.append(worker)
            sweeper = _sweeping(h, stop_sweeping)
            request = request_sync(h.engine, h.app, h.integration.id)
            run_id = request.run_id
            began = time.monotonic()
            for number, (point, kind, delay) in enumerate(plan, start=1):
                reached = wait_until(lambda point=point: sandbox_requests(sandbox) >= point, 120)
                assert reached, (
                    f"kill #{number}: the sync stalled before request {point:.0f}; {about()}\n{logs(tmp_path)}"
                )
                if kind == "books-request":  # the worker dies while its Books create is on the wire
                    latency = {"api": "books", "method": "POST", "kind": "latency", "latency_ms": STALL_MS}
                    requests.post(faults, json=latency | {"count": 1}, timeout=5).raise_for_status()
                    fired = wait_until(lambda: not requests.get(faults, timeout=5).json()["faults"], 5)
                    requests.delete(faults, timeout=5)
                elif kind == "link-commit":  # Books wrote the record; the worker dies before its link commits
                    stall.arm(STALL_MS / 1000)
                    fired = wait_until(stall.fired, 5, interval=0.01)
                    stall.disarm()
                else:
                    fired = True
                if not fired:  # the module wrote nothing to Books for a while: kill it anyway
                    kind = "anytime"
                time.sleep(delay)
                assert h.run(run_id).status == "running", f"the run ended before kill #{number}; {about()}"
                module, counts = _current(h, run_id)
                kill = Kill(number, kind, module, counts, sandbox_requests(sandbox))
                kill_group(worker)
                killed_at = time.monotonic()
                worker = start_worker(env, f"w{number}", tmp_path / f"w{number}.log")
                started.append(worker)
                # a claim the dead worker had already sent may still commit: count claims once that has settled
                time.sleep(0.1)
                claimed = claims(h.engine, run_id)
                again = wait_until(lambda claimed=claimed: claims(h.engine, run_id) > claimed, 60, interval=0.02)
                kill.recovery = time.monotonic() - killed_at
                kills.append(kill)
                assert again, f"nothing was claimed again after kill #{number}; {about()}\n{logs(tmp_path)}"
            finished = h.wait(run_id, timeout=180)
            elapsed = time.monotonic() - began
            assert worker.poll() is None, f"the last worker died; {about()}\n{logs(tmp_path)}"
        finally:
            stop_sweeping.set()
            if sweeper is not None:
                sweeper.join(5)

        summary = harness_summary(h, run_id)
        print(f"\n{KILLS} kills, run {finished.status} in {elapsed:.1f}s (reference {ref.seconds:.1f}s); {about()}")
        assert len(kills) == KILLS, about()
        assert finished.status == ref.status, f"{summary}; {about()}"
        assert {m: r.status for m, r in finished.modules.items()} == ref.module_statuses, f"{summary}; {about()}"

        # nothing lost, nothing doubled: Books holds exactly what the undisturbed run made
        picture = books_picture(h.state(), credentials(sandbox.world)["organization_id"])
        assert not picture.doubled(ref.picture), f"duplicates in Books: {picture.doubled(ref.picture)}; {about()}"
        assert picture == ref.picture, f"Books differs from the undisturbed run: {picture.diff(ref.picture)}; {about()}"
        # a kill can cut off at most the one Books call in flight (it never reached the handler: no record)
        posts = books_posts(sandbox.base_url)
        extra = posts - ref.posts
        assert not ref.posts - posts and sum(extra.values()) <= KILLS, (
            f"Books POSTs {dict(posts)}, undisturbed {dict(ref.posts)}; {about()}"
        )

        # exact counts: each counter of each module as in the undisturbed run; every create counted once
        counts = counts_of(h.engine, run_id)
        created = sum(c["created"] for c in counts.values())
        books_created = picture.records() - records_before
        assert created == books_created == ref.books_created, (
            f"created={created}, Books gained {books_created} records (undisturbed: {ref.books_created}); {about()}"
        )
        wrong = {m: (counts[m], ref.counts[m]) for m in counts if counts[m] != ref.counts[m]}
        assert not wrong, f"counts (killed run, undisturbed run) differ: {wrong}; {about()}"

        # the tables: no claim ever took a live lease
        violations = lease_violations(h.engine)
        assert not violations, f"{violations}; {about()}"
        update_integration(h.engine, h.integration.id, state="disabled")
        h.engine.dispose()
