"""Issue 18: a slice's SyncContext (and its memo: customer index, users, parent links) goes when the slice ends.

It used to sit in a reference cycle (the context -> its Zoho clients -> their metrics hook -> the lease keeper ->
the context), so every slice's lookups stayed in memory until the cyclic collector's oldest generation ran. With
the collector off, what a finished slice leaves alive is what reference counting alone cannot free.
"""

from __future__ import annotations

import gc
import time
import weakref
from typing import Any

import worker.tasks.sync as sync_task
from tests.sync_support import sync_harness
from worker.modules.base import SyncContext


def test_a_finished_slice_leaves_no_sync_context_alive(tiny_sandbox, pg_migrated_url, monkeypatch):
    contexts: list[weakref.ref[SyncContext]] = []

    def tracked(*args: Any, **kwargs: Any) -> SyncContext:
        ctx = SyncContext(*args, **kwargs)
        contexts.append(weakref.ref(ctx))
        return ctx

    monkeypatch.setattr(sync_task, "SyncContext", tracked)
    with sync_harness(tiny_sandbox, pg_migrated_url) as h:  # tiny: 6 slices (small: 8) at a quarter of the CPU
        gc.collect()
        gc.disable()
        try:
            result = h.sync("clients")  # its slices build the Books customer index
            assert result.status in ("succeeded", "partial"), result
            # the run is marked finished from inside the last slice's task: give its thread a moment to return
            deadline = time.monotonic() + 10
            while any(ref() is not None for ref in contexts) and time.monotonic() < deadline:
                time.sleep(0.05)
            alive = sum(ref() is not None for ref in contexts)
        finally:
            gc.enable()
    assert contexts, "no slice ran through the task"
    assert alive == 0, f"{alive} of {len(contexts)} slices' contexts still alive"
