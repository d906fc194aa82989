"""Issue 13 item 11: what Flower shows for a module slice is what happened to it.

Flower reads Celery's task events; the worker emits the same outcomes as in-process signals, which these tests
record: a failed module is a FAILURE (it used to be a SUCCESS whose result said "failed: …"), a backoff is a RETRY,
and neither stops the database-driven retry.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from celery import signals

from sandbox.generator import credentials
from scheduler.embedded import running_beat
from shared.dispatch import sweep
from tests.sync_support import sync_harness
from tests.worker.throttle_support import add_fault

MODULE_TASK = "bpsync.sync.module"


@contextmanager
def task_outcomes() -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def failed(sender=None, exception=None, **_kw):
        if getattr(sender, "name", None) == MODULE_TASK:
            seen.append(("FAILURE", exception))

    def retried(sender=None, reason=None, **_kw):
        if getattr(sender, "name", None) == MODULE_TASK:
            seen.append(("RETRY", reason))

    def succeeded(sender=None, result=None, **_kw):
        if getattr(sender, "name", None) == MODULE_TASK:
            seen.append(("SUCCESS", result))

    handlers = ((signals.task_failure, failed), (signals.task_retry, retried), (signals.task_success, succeeded))
    for signal, handler in handlers:
        signal.connect(handler, weak=False)
    try:
        yield seen
    finally:
        for signal, handler in handlers:
            signal.disconnect(handler)


def test_a_failed_module_is_a_failed_task(sandbox, pg_migrated_url):
    with task_outcomes() as seen, sync_harness(sandbox, pg_migrated_url) as h:
        refresh_token = credentials(sandbox.world)["admin"]["refresh_token"]
        requests.post(f"{sandbox.base_url}/oauth/v2/token/revoke", params={"token": refresh_token}, timeout=5)
        run = h.sync()
        # users and clients start at once: each meets the revoked token and fails, unless the other's failure
        # skipped it first
        ended = {m: run.modules[m].status for m in ("users", "clients")}
        assert run.status == "failed" and "failed" in ended.values() and set(ended.values()) <= {"failed", "skipped"}
        failed = list(ended.values()).count("failed")
        # the slice commits the failure, then raises it: Celery reports it a moment after the run reads failed
        deadline = time.monotonic() + 5
        while sum(state == "FAILURE" for state, _ in seen) < failed and time.monotonic() < deadline:
            time.sleep(0.01)
        failures = [exc for state, exc in seen if state == "FAILURE"]
        assert len(failures) == failed and {type(f).__name__ for f in failures} == {"ModuleFailed"}
        assert all("refused the refresh token" in str(f) for f in failures)
        assert not [r for state, r in seen if state == "SUCCESS" and "fail" in str(r)]


def test_a_backoff_is_a_retry_and_the_database_still_resumes_it(sandbox_factory, pg_migrated_url):
    sandbox = sandbox_factory(size="tiny")
    settings = {"retry_backoff_seconds": 0.2, "http_retry_base_seconds": 0.01}
    with task_outcomes() as seen, sync_harness(sandbox, pg_migrated_url, **settings) as h:
        # more 503s than one call's on-the-spot retries: the users slice fails once, then succeeds
        add_fault(h, api="books", path="/books/v3/users", method="GET", kind="error5xx", status=503, count=3)
        with running_beat(lambda: sweep(h.engine, h.app, h.settings), 0.2):
            run = h.sync()
        assert run.modules["users"].status == "succeeded"
        retries = [str(reason) for state, reason in seen if state == "RETRY"]
        assert len(retries) == 1 and "attempt 1 failed" in retries[0]
        assert not [exc for state, exc in seen if state == "FAILURE"]
