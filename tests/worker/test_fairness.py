"""Fairness between tenants (issue 19): a throttled integration never holds a worker while it waits.

Two integrations share one worker pool (concurrency 2, Redis broker) and one sandbox: the healthy one syncs the
main portal into the main Books organization, the throttled one the same portal into the second organization, whose
every Books call is answered 429. What is asserted is structural, never a duration (the speed comparison is
benchmarks/fairness.py): each slice of the throttled tenant spends exactly one 429 and hands its worker back, and
no slice of the healthy tenant ever waited in the queue behind more than one slice of the throttled tenant.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from celery.signals import before_task_publish, task_postrun, task_prerun

from sandbox.generator import credentials
from scheduler.embedded import running_beat
from scheduler.finance.create import request_expense
from shared.db.integrations import Integration, create_integration
from shared.db.schema import module_runs
from shared.dispatch import MODULE_TASK, request_sync, sweep
from shared.finance_dispatch import PULL_TASK, request_pull
from shared.finance_requests import TASK as FINANCE_TASK
from tests.sync_support import SyncHarness, sync_harness
from tests.worker.finance_support import ACCOUNT, PAID_THROUGH, PROJECT, wait_request
from tests.worker.throttle_support import add_fault, sandbox_429s

pytestmark = pytest.mark.slow

# the product's limiter on (it remembers Zoho's 429 as a penalty) with limits the sandbox never reaches
LIMITER_ON = {
    "rate_limits_enabled": True,
    "books_requests_per_minute": 10_000,
    "projects_requests_per_window": 10_000,
    "retry_backoff_seconds": 0.2,
    "slice_pages": 1,  # many short slices: many turns at the queue for either tenant
}


@dataclass
class Slice:
    integration_id: int
    module: str
    published: float
    started: float | None = None
    outcome: str | None = None


@dataclass
class SliceLog:
    """Every module slice the worker ran: which tenant, when it was queued and started, what it returned."""

    slices: dict[str, Slice] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def published(self, headers: dict[str, Any], body: Any, **_: Any) -> None:
        if headers.get("task") != MODULE_TASK:
            return
        kwargs = body[1] if isinstance(body, (list, tuple)) else {}
        with self.lock:
            self.slices[headers["id"]] = Slice(
                int(kwargs.get("integration_id", 0)), str(kwargs.get("module")), time.monotonic()
            )

    def started(self, task_id: str, task: Any, **_: Any) -> None:
        with self.lock:
            if task.name == MODULE_TASK and task_id in self.slices:
                self.slices[task_id].started = time.monotonic()

    def ended(self, task_id: str, task: Any, retval: Any = None, **_: Any) -> None:
        with self.lock:
            if task.name == MODULE_TASK and task_id in self.slices:
                self.slices[task_id].outcome = str(retval)

    def of(self, integration_id: int) -> list[Slice]:
        with self.lock:
            return [s for s in self.slices.values() if s.integration_id == integration_id and s.started is not None]


@contextmanager
def slice_log() -> Iterator[SliceLog]:
    log = SliceLog()
    before_task_publish.connect(log.published, weak=False)
    task_prerun.connect(log.started, weak=False)
    task_postrun.connect(log.ended, weak=False)
    try:
        yield log
    finally:
        before_task_publish.disconnect(log.published)
        task_prerun.disconnect(log.started)
        task_postrun.disconnect(log.ended)


def second_tenant(h: SyncHarness) -> Integration:
    """The same portal into the sandbox's second Books organization (its admin is the same person)."""
    creds = credentials(h.sandbox.world)
    other = next(o for o in creds["organization_ids"] if o != creds["organization_id"])
    return create_integration(
        h.engine,
        h.settings,
        name="throttled",
        organization_id=other,
        portal_id=creds["portal_id"],
        credentials={
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
            "refresh_token": creds["admin"]["refresh_token"],
        },
    )


def throttled_calls(h: SyncHarness, integration_id: int) -> dict[str, int]:
    """The 429s each module of the integration met (all its runs)."""
    with h.engine.connect() as conn:
        rows = conn.execute(
            sa.select(module_runs.c.module, sa.func.sum(module_runs.c.throttled_calls))
            .where(module_runs.c.integration_id == integration_id)
            .group_by(module_runs.c.module)
        ).all()
    return {module: int(calls) for module, calls in rows if calls}


def test_a_tenant_whose_every_books_call_is_429_never_holds_a_worker_while_the_other_syncs(
    sandbox_factory, pg_migrated_url, redis_url
):
    sandbox = sandbox_factory(size="tiny")
    with sync_harness(sandbox, pg_migrated_url, broker_url=redis_url, **LIMITER_ON) as h, slice_log() as log:
        throttled = second_tenant(h)
        # Zoho asks to come back in a second, every time: short enough that a worker could sleep it out inline
        add_fault(h, api="books", kind="429", organization_id=throttled.books_organization_id, retry_after_s=1)
        with running_beat(lambda: sweep(h.engine, h.app, h.settings), 0.2):
            request_sync(h.engine, h.app, throttled.id)
            deadline = time.monotonic() + 30
            while not any((s.outcome or "").startswith("waiting") for s in log.of(throttled.id)):
                assert time.monotonic() < deadline, "the throttled tenant never reached Zoho Books"
                time.sleep(0.05)
            run = h.sync(timeout=120)
        assert run.status in ("succeeded", "partial"), run
        assert all(m.throttled_calls == 0 for m in run.modules.values())

        throttled_slices = log.of(throttled.id)
        waited = [s for s in throttled_slices if (s.outcome or "").startswith("waiting for API quota")]
        assert len(waited) >= 2, "the throttled tenant should have come back several times during the sync"
        # at most one 429 per slice: the slice handed its worker back at Zoho's first "come back later" and was sent
        # again for when Zoho said; it never slept the wait out (nor retried the call) while holding the worker. A
        # sibling module (users beside clients) may meet the wait the limiter learned from that 429 and make no call
        met = throttled_calls(h, throttled.id)
        assert sum(met.values()) >= 2
        for module, calls in met.items():
            assert calls <= sum(1 for s in waited if s.module == module), (module, calls, waited)

        # round robin: a healthy slice queued behind at most one slice of each throttled module that runs at once
        # (siblings: users and clients, tasks and bugs)
        for healthy in log.of(h.integration.id):
            assert healthy.started is not None
            overtaken = [
                s for s in throttled_slices if s.started is not None and healthy.published < s.started < healthy.started
            ]
            assert len(overtaken) <= 2 and len({s.module for s in overtaken}) == len(overtaken), (healthy, overtaken)


def test_a_throttled_transactions_pull_hands_its_instant_worker_back_and_comes_back_by_itself(tiny):
    h = tiny
    pulls: list[Any] = []

    def ended(task: Any, retval: Any = None, **_: Any) -> None:
        if task.name == PULL_TASK:
            pulls.append(retval)

    task_postrun.connect(ended, weak=False)
    try:
        h.reset_requests()
        add_fault(h, api="books", kind="429", organization_id=h.integration.books_organization_id, retry_after_s=1)
        request_pull(h.engine, h.app, h.integration.id, full=True)
        deadline = time.monotonic() + 30
        while sum(1 for p in list(pulls) if isinstance(p, dict) and "waiting" in p) < 3:
            assert time.monotonic() < deadline, f"the throttled pull did not come back by itself: {pulls}"
            time.sleep(0.05)
        requests.delete(f"{h.sandbox.base_url}/_sandbox/faults", timeout=5).raise_for_status()  # Zoho serves again
        while not any(isinstance(p, dict) and "waiting" not in p and "skipped" not in p for p in list(pulls)):
            assert time.monotonic() < deadline + 30, f"the pull never went through once Zoho served again: {pulls}"
            time.sleep(0.05)
    finally:
        task_postrun.disconnect(ended)
    waited = [p for p in pulls if isinstance(p, dict) and "waiting" in p]
    # one 429 per pull: never slept out (nor retried) in the instant worker, which the tick and every other
    # tenant's pulls and invoices share
    assert sandbox_429s(h) == len(waited)


def test_a_throttled_finance_request_hands_its_instant_worker_back_and_is_sent_once_books_serves(tiny):
    h = tiny
    sends: list[Any] = []

    def ended(task: Any, retval: Any = None, **_: Any) -> None:
        if task.name == FINANCE_TASK:
            sends.append(str(retval))

    task_postrun.connect(ended, weak=False)
    try:
        h.reset_requests()
        # the request's own checks (GETs) pass; every POST to the organization is answered 429, come back in 1 s
        add_fault(
            h, api="books", kind="429", method="POST", organization_id=h.integration.books_organization_id,
            retry_after_s=1,
        )  # fmt: skip
        request = request_expense(
            h.engine, h.settings, h.app, h.integration.id, PROJECT, amount="12.50", account_id=ACCOUNT,
            paid_through_account_id=PAID_THROUGH, date="2026-11-20", description="Taxi to the client",
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while sum(1 for s in list(sends) if s.startswith("queued")) < 3:
            assert time.monotonic() < deadline, f"the throttled request did not come back by itself: {sends}"
            time.sleep(0.05)
        requests.delete(f"{h.sandbox.base_url}/_sandbox/faults", timeout=5).raise_for_status()
        assert wait_request(h, request.id).state == "confirmed"
    finally:
        task_postrun.disconnect(ended)
    # one 429 per send: never slept out (nor retried) in the instant worker
    assert sandbox_429s(h) == sum(1 for s in sends if s.startswith("queued"))
