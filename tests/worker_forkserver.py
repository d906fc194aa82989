"""Worker processes forked from a server that has already imported their libraries.

The chaos scenarios start ~50 workers (every kill is followed by a start). A new ``python -m worker`` spends ~0.9
CPU-seconds before it reads a message, nearly all of it importing Celery, kombu, redis, SQLAlchemy, psycopg,
requests, pydantic and the project: a tenth of the suite's CPU. multiprocessing's forkserver imports them once per
test process (``PRELOAD``) and forks each worker from there (~0.2 CPU-seconds to ready). The forked process then
does what ``python -m worker`` does from its first line of our code: it takes the worker's environment, working
folder and log file, becomes the leader of its own process group (``kill_group`` SIGKILLs it and its pool child,
as a host that dies) and runs ``worker.__main__.main``, which imports ``worker.app`` and the task modules (they read
the settings, so they cannot be imported ahead) and starts Celery's prefork worker. What it skips is the
interpreter's start and the import of modules that read nothing of the environment. The real command's start is
tested where it is the subject: tests/worker/test_worker_command.py, tests/scheduler/test_cli.py.

This module is what the forked process unpickles its target from: it imports nothing of the project or the tests
at the top (``worker.app`` must not be imported before the worker's environment is in place).
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from multiprocessing.process import BaseProcess
from pathlib import Path

# Imported once by the fork server; none of them reads a setting at import (tests/test_worker_forkserver.py).
PRELOAD = [
    "celery.app.trace",
    "celery.apps.worker",
    "celery.bin.worker",
    "celery.concurrency.prefork",
    "celery.worker.consumer",
    "kombu.transport.redis",
    "psycopg",
    "sqlalchemy.dialects.postgresql",
    "shared.celery_app",
    "shared.db.engine",
    "shared.dispatch",
    "shared.zoho.books",
    "shared.zoho.projects",
    "worker.engine",
    "worker.finance",
    "worker.modules",
    __name__,
]

_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(PRELOAD)


def _run(args: list[str], env: dict[str, str], cwd: str, log: str) -> None:
    os.setsid()
    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    from worker.__main__ import main

    main(args)


class ForkedWorker:
    """What the chaos helpers use of ``subprocess.Popen``: ``pid``, ``poll``, ``wait``, ``terminate``."""

    def __init__(self, process: BaseProcess, args: list[str]) -> None:
        self._process = process
        self.args = args

    @property
    def pid(self) -> int:
        assert self._process.pid is not None
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def poll(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return self._process.exitcode

    def terminate(self) -> None:
        self._process.terminate()


def start(args: list[str], env: dict[str, str], cwd: Path, log: Path) -> ForkedWorker:
    """``python -m worker`` + ``args``, forked from the server, output appended to ``log``."""
    process = _context.Process(target=_run, args=(args, env, str(cwd), str(log)), name=f"worker {' '.join(args)}")
    process.start()
    # killpg must reach it from now on, as it reaches a process started with start_new_session
    deadline = time.monotonic() + 30
    while process.exitcode is None and _group_of(process.pid) != process.pid:
        assert time.monotonic() < deadline, "the forked worker did not start a process group of its own"
        time.sleep(0.005)
    return ForkedWorker(process, [sys.executable, "-m", "worker", *args])


def _group_of(pid: int | None) -> int | None:
    try:
        return os.getpgid(pid or 0)
    except ProcessLookupError:
        return None
