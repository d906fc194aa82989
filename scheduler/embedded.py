"""Embedded mode: a Celery worker and the beat tick inside the current process (``bpsync demo``).

Same code paths as production: tasks go through the Celery app and its (``memory://``) broker; only the
processes are threads. The memory transport is per process, which is why this cannot be a subprocess.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from celery import Celery
from celery.worker import WorkController
from celery.worker import state as worker_state

from shared.celery_app import INSTANT_QUEUE, SYNC_QUEUE


@contextmanager
def running_worker(app: Celery, *, concurrency: int = 4, loglevel: str = "WARNING") -> Iterator[WorkController]:
    """Run a thread-pool worker consuming both queues until the block exits."""
    ready = threading.Event()
    # current_app is thread-local; without a default, the worker thread would publish chain continuations
    # through a fresh default app (amqp://localhost) instead of this app's broker.
    app.set_default()
    app.finalize()
    worker = app.WorkController(
        app=app,
        pool="threads",
        concurrency=concurrency,
        loglevel=loglevel,
        queues=[SYNC_QUEUE, INSTANT_QUEUE],
        ready_callback=lambda consumer: _ready(consumer, ready),
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
        hostname=f"embedded@{threading.get_ident()}",
    )
    thread = threading.Thread(target=worker.start, name="bpsync-worker", daemon=True)
    thread.start()
    if not ready.wait(30):
        raise RuntimeError("the embedded Celery worker did not start within 30 s")
    try:
        yield worker
    finally:
        worker.stop(in_sighandler=False)
        thread.join(15)
        worker_state.should_terminate = None


def _ready(consumer: Any, ready: threading.Event) -> None:
    """Set the consumer's prefetch count here, in the worker thread, before saying it is ready.

    Celery's blocking loop sets it in its first cycle, which a stop from this process's main thread can come before
    (a command refusing its input at once): the cycle then met the consumer the stop had closed and Celery logged an
    "Unrecoverable error" traceback into the command's output. Set now, the first cycle has nothing to update.
    """
    consumer.qos.update()
    ready.set()


@contextmanager
def running_beat(tick: Callable[[], object], interval: float) -> Iterator[threading.Event]:
    """Call ``tick`` every ``interval`` seconds in a thread (the embedded stand-in for ``celery beat``)."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval):
            tick()

    thread = threading.Thread(target=loop, name="bpsync-beat", daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(5)
