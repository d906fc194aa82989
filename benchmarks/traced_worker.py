"""The worker's Celery app with tracemalloc in each pool process, for ``engine_overhead --trace-memory DIR``.

``celery -A benchmarks.traced_worker worker …``: after each task, a pool process whose traced memory reached a new
high (by 1 MB or more) writes what is allocated and still alive, by allocating line, to
``DIR/<pid>-<n>.txt`` — what a busy child keeps between tasks, and what grew since its first such file.
The peak during a task (a page's parsing) shows as ``peak traced`` in the same file. tracemalloc slows the worker
several times: never combined with a timed run.
"""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path
from typing import Any

from celery import signals

from worker.app import app

__all__ = ["app"]

STEP = 1024 * 1024
_state: dict[str, Any] = {"high": 0, "n": 0, "first": None}


@signals.worker_process_init.connect(weak=False)
def _start(**_: Any) -> None:
    tracemalloc.start(8)


@signals.task_postrun.connect(weak=False)
def _note(**_: Any) -> None:
    current, peak = tracemalloc.get_traced_memory()
    if current < _state["high"] + STEP:
        return
    _state["high"], _state["n"] = current, _state["n"] + 1
    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    lines = [f"traced {current / 2**20:.1f} MB, peak traced {peak / 2**20:.1f} MB"]
    for stat in snapshot.statistics("traceback")[:25]:
        lines.append(f"{stat.size / 2**20:7.2f} MB {stat.count:8d} blocks  {_where(stat.traceback)}")
    if _state["first"] is None:
        _state["first"] = snapshot
    else:  # what grew since the first high: what the process accumulates as the run goes on
        lines.append("grown since the first file:")
        for diff in snapshot.compare_to(_state["first"], "traceback")[:25]:
            lines.append(f"{diff.size_diff / 2**20:+7.2f} MB {diff.count_diff:+8d} blocks  {_where(diff.traceback)}")
    directory = Path(os.environ["BENCH_TRACE_DIR"])
    (directory / f"{os.getpid()}-{_state['n']:03d}.txt").write_text("\n".join(lines) + "\n")


def _where(traceback: tracemalloc.Traceback) -> str:
    frames = [f"{f.filename.split('site-packages/')[-1]}:{f.lineno}" for f in traceback]
    return " < ".join(reversed(frames[-6:]))
