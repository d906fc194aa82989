"""The throttled path end to end (issue 13): the product's own limiter on, Zoho's 429s, 5xx bursts and broken bodies.

Every test syncs a `tiny` world under the trouble and requires the troubled sync to end exactly like an untroubled
sync of the same world (``baseline``: the first sync of ``tiny_snapshot``): the same Books records (nothing twice,
nothing missing) and the same counts in its history. Waits are resumed by a beat stand-in that calls the sweep, as
the real tick does.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests

from sandbox.config import SandboxConfig
from sandbox.generator import credentials
from sandbox.limits import preset
from sandbox.server import SandboxServer
from scheduler.embedded import running_beat
from scheduler.status.overview import integration_statuses
from shared.clock import utcnow
from shared.db.integrations import get_integration, update_integration
from shared.db.schema import module_runs
from shared.dispatch import request_sync, sweep
from shared.zoho.factory import reset_embedded_state
from tests.sync_support import RunResult, SyncHarness, sync_harness
from tests.synced_world_support import copy_world
from tests.worker.throttle_support import add_fault, books_picture, books_picture_of, run_counts, sandbox_429s

pytestmark = pytest.mark.slow

FAST_TROUBLE = {"retry_backoff_seconds": 0.2, "http_retry_base_seconds": 0.01, "max_module_attempts": 5}


@pytest.fixture(scope="module")
def baseline(tiny_snapshot):
    """The untroubled sync of the `tiny` world (seed 1): what every troubled sync must end with. The first sync
    ``tiny_snapshot`` made once per test process (no limits, no faults); Books as a sandbox serving a copy of the
    world it left shows it."""
    sandbox = SandboxServer(config=SandboxConfig(rate_limits=preset("off")), world=copy_world(tiny_snapshot.world))
    sandbox.start()
    try:
        state = requests.get(f"{sandbox.base_url}/_sandbox/state", timeout=30).json()
    finally:
        sandbox.stop()
    organization = credentials(tiny_snapshot.world)["organization_id"]
    first = tiny_snapshot.first
    return first.status, run_counts(first), books_picture_of(state, organization)


@contextmanager
def beat(h: SyncHarness) -> Iterator[None]:
    with running_beat(lambda: sweep(h.engine, h.app, h.settings), 0.2):
        yield


def _same_as(baseline, h: SyncHarness, run: RunResult) -> None:
    status, counts, picture = baseline
    assert books_picture(h) == picture  # nothing twice, nothing missing
    assert run_counts(run) == counts  # exact history, however often the run was interrupted
    assert run.status == status


@pytest.mark.slow(seconds=20)  # mostly waiting out the quota: started first among the slow tests
def test_a_sync_that_must_wait_for_quota_shows_it_resumes_by_itself_and_ends_exactly(
    baseline, sandbox_factory, pg_migrated_url
):
    sandbox = sandbox_factory(size="tiny", config=SandboxConfig(rate_limits=preset("fast")))
    # The product's limiter, stricter than the sandbox's compressed windows: it must wait (never a 429), and
    # a wait longer than max_inline_wait_seconds hands the module back until the window reopens. 16 calls a window
    # (the sandbox allows 100): the tiny sync's ~150 Projects calls still wait out ~9 windows.
    limits = {
        "rate_limits_enabled": True,
        "projects_requests_per_window": 16,
        "projects_window_seconds": 2.0,
        "books_requests_per_minute": 100,
        "books_window_seconds": 1.0,
        "max_inline_wait_seconds": 0.2,
    }
    with sync_harness(sandbox, pg_migrated_url, **limits, **FAST_TROUBLE) as h, beat(h):
        seen: list[tuple[str, str, object]] = []
        stop = threading.Event()

        def watch() -> None:
            while not stop.is_set():
                for m in integration_statuses(h.engine, h.integration.id)[0].modules:
                    if m.badge.state == "waiting":
                        seen.append((m.module, m.badge.label, m.badge.resumes_at))
                time.sleep(0.05)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            run = h.sync(timeout=180)
        finally:
            stop.set()
            watcher.join()
        assert seen, "the sync never showed a quota wait"
        assert len({resumes_at for _, _, resumes_at in seen}) > 1, "it waited for one window only"
        assert all(label == "Waiting for API quota" and resumes_at is not None for _, label, resumes_at in seen)
        _same_as(baseline, h, run)
        assert sandbox_429s(h) == 0  # the limiter kept the product inside Zoho's limits
        assert get_integration(h.engine, h.integration.id).paused_until is None  # cleared once it went on
        assert sum(r.throttled_calls for r in run.modules.values()) == 0


@pytest.mark.slow(seconds=30)  # 25 waits of Zoho's Retry-After
def test_a_429_storm_is_waited_out_by_zohos_retry_after_not_a_fixed_minute(baseline, sandbox_factory, pg_migrated_url):
    sandbox = sandbox_factory(size="tiny")
    with sync_harness(sandbox, pg_migrated_url, **FAST_TROUBLE) as h, beat(h):
        add_fault(h, api="projects", kind="429", count=25, retry_after_s=1)
        add_fault(h, api="books", kind="429", rate=0.2, retry_after_s=1)
        started = time.monotonic()
        run = h.sync(timeout=150)  # a fixed minute per 429 would need 25+ minutes for the Projects storm alone
        _same_as(baseline, h, run)
        assert sandbox_429s(h) >= 25
        assert sum(r.throttled_calls for r in run.modules.values()) == sandbox_429s(h)
        assert time.monotonic() - started < 150


def test_5xx_bursts_and_broken_bodies_at_a_steady_rate_end_like_an_untroubled_sync(
    baseline, sandbox_factory, pg_migrated_url
):
    sandbox = sandbox_factory(size="tiny")
    with sync_harness(sandbox, pg_migrated_url, **FAST_TROUBLE) as h, beat(h):
        for api in ("projects", "books"):
            add_fault(h, api=api, method="GET", kind="error5xx", status=503, rate=0.05)
            add_fault(h, api=api, method="GET", kind="malformed", rate=0.03)
            add_fault(h, api=api, method="GET", kind="truncated", rate=0.03)
            add_fault(h, api=api, method="GET", kind="cut", rate=0.02)
        # a write answered 5xx is not repeated blindly: the module backs off and looks the record up first
        add_fault(h, api="books", method="POST", kind="error5xx", status=500, rate=0.05)
        run = h.sync(timeout=150)
        _same_as(baseline, h, run)


def test_faults_beyond_the_retry_budget_fail_the_module_clearly_never_a_silent_partial(
    sandbox_factory, pg_migrated_url
):
    sandbox = sandbox_factory(size="tiny")
    with sync_harness(sandbox, pg_migrated_url, **(FAST_TROUBLE | {"max_module_attempts": 2})) as h, beat(h):
        add_fault(h, api="books", path="/books/v3/contacts", method="GET", kind="error5xx", status=503)
        run = h.sync(timeout=60)
        clients = run.modules["clients"]
        assert (run.status, clients.status) == ("failed", "failed")
        assert "gave up after 3 attempts without progress" in clients.error
        assert "503" in clients.error or "Zoho Books" in clients.error
        # children of the failed module are not reported as synced
        assert all(run.modules[m].status in ("skipped", "failed", "partial") for m in ("projects",))


def test_the_books_daily_quota_pauses_the_integration_until_the_reset(baseline, sandbox_factory, pg_migrated_url):
    sandbox = sandbox_factory(size="tiny", config=SandboxConfig(rate_limits=preset("fast")))
    org = next(iter(sandbox.world.organizations.values()))
    org.daily_limit = 25  # the sync needs more than this: it runs out half-way
    # the product's limiter matches the sandbox's compressed windows, so only the daily quota stops it
    limits = {
        "rate_limits_enabled": True,
        "projects_requests_per_window": 100,
        "projects_window_seconds": 2.0,
        "books_requests_per_minute": 100,
        "books_window_seconds": 1.0,
    }
    with sync_harness(sandbox, pg_migrated_url, **limits, **FAST_TROUBLE) as h, beat(h):
        request = request_sync(h.engine, h.app, h.integration.id)
        deadline = time.monotonic() + 60
        while get_integration(h.engine, h.integration.id).paused_until is None:
            assert time.monotonic() < deadline, "the daily quota never paused the integration"
            time.sleep(0.05)
        paused = get_integration(h.engine, h.integration.id)
        assert paused.paused_until > utcnow() and "daily" in (paused.paused_reason or "").lower()
        badges = {m.module: m.badge for m in integration_statuses(h.engine, h.integration.id)[0].modules}
        waiting = [b for b in badges.values() if b.state == "waiting"]
        # siblings (tasks and bugs) may each meet the spent quota: each reads the reset from its own answer
        assert waiting and all(abs(b.resumes_at - paused.paused_until) < dt.timedelta(seconds=2) for b in waiting)
        # several sweeps: nothing resumes before the reset. And a Projects window (and more) with no call: the reset
        # below forgets the product's count of the window, which must then be empty at the sandbox too, or the
        # product's next burst oversteps it and Projects locks the user out for 30 minutes
        time.sleep(limits["projects_window_seconds"] + 1.0)
        assert h.run(request.run_id).status == "running"
        # the reset, without waiting for midnight: Zoho serves the organization again and our clock reaches the
        # time the pause named (moving the sandbox clock a day would also move every "recent" time-log window)
        org.daily_limit = 10_000
        reset_embedded_state()  # the limiter learned the quota was spent until midnight: that day is over too
        update_integration(h.engine, h.integration.id, paused_until=utcnow())
        with h.engine.begin() as conn:
            conn.execute(
                module_runs.update()
                .where(module_runs.c.sync_run_id == request.run_id, module_runs.c.waiting_until.is_not(None))
                .values(waiting_until=utcnow())
            )
        run = h.wait(request.run_id, timeout=120)
        _same_as(baseline, h, run)
