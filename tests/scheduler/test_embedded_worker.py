"""The embedded worker (``scheduler/embedded.py``) stops cleanly however soon after its start it is asked to."""

from __future__ import annotations

import logging
import time

import pytest
from celery.worker import state as worker_state
from celery.worker.consumer.consumer import Consumer

from scheduler.embedded import running_worker
from shared.celery_app import create_celery
from shared.config import load_settings


def test_a_worker_stopped_before_its_first_loop_cycle_ends_without_an_unrecoverable_error(
    tmp_path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A command that refuses its input at once (`bpsync expense 3594 --wait` with no such integration) stops the
    # worker it started a moment after the worker said it was ready. On a busy machine the stop came before the
    # worker thread's first loop cycle, whose first prefetch update then met the consumer the stop had closed:
    # Celery logged "Unrecoverable error: AttributeError ... 'qos'" and its traceback into the command's output.
    # widen that window: the loop's first look at the shutdown flag after the worker said it was ready (after the
    # loop's check that the worker still runs, before the cycle) waits, and the main thread's stop runs meanwhile
    ready, look = Consumer.on_ready, worker_state.maybe_shutdown
    waited = []

    def on_ready(self: Consumer) -> None:
        waited.append(False)
        ready(self)

    def first_look_after_ready_waits() -> None:
        if waited == [False]:
            waited[0] = True
            time.sleep(0.3)
        look()

    monkeypatch.setattr(Consumer, "on_ready", on_ready)
    monkeypatch.setattr(worker_state, "maybe_shutdown", first_look_after_ready_waits)
    settings = load_settings(broker_url="memory://", database_url=f"sqlite:///{tmp_path / 'db.sqlite'}")
    app = create_celery(settings, main="embedded-stop")
    with caplog.at_level(logging.ERROR), running_worker(app):
        pass
    assert waited == [True], "the worker's loop never looked at the shutdown flag after ready: no window opened"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
