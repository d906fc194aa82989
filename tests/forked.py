"""Processes forked from a server that has already imported their libraries: the chaos scenarios' workers and the
``bpsync`` commands the CLI tests run.

A new ``python -m worker`` spends ~0.9 CPU-seconds before it reads a message, a ``bpsync`` command that reads the
database or Zoho 0.3-0.9 before it does anything, nearly all of it importing Celery, kombu, redis, SQLAlchemy,
psycopg, requests, pydantic and the project; the suite starts ~45 workers and dozens of commands. multiprocessing's
forkserver imports those once per test process (``PRELOAD``) and forks each process from there. The forked process
then does what ``python -m <module>`` does from the module's first line on: it takes the arguments, environment,
working folder and standard streams it is given and runs the module as ``__main__`` (runpy, as ``-m`` does); a
worker also leads a process group of its own, as one started with ``start_new_session`` (``kill_group`` SIGKILLs it
and its pool child: a host that dies). ``worker.app`` and the task modules build the Celery app from the settings
at import, so they are imported in the forked process, never ahead. What is skipped is the interpreter's start and
the imports of modules that read nothing of the environment (tests/test_forked.py checks that); the import path is
the server's (PYTHONPATH is not read again) with the working folder first. The real commands' start is tested where
it is the subject: tests/scheduler/test_startup.py, tests/scheduler/test_cli.py, tests/worker/test_worker_command.py,
tests/shared/test_config.py, tests/scheduler/test_demo.py.

This module is what a forked process unpickles its target from: it imports nothing of the project at the top.
"""

from __future__ import annotations

import multiprocessing
import os
import runpy
import subprocess
import sys
import tempfile
import time
from multiprocessing.process import BaseProcess
from pathlib import Path

# Imported once by the fork server; none of them reads a setting at import (tests/test_forked.py).
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
    "click",
    "scheduler.cli_support",  # not scheduler.cli: runpy would warn that the module it runs was imported already
    "scheduler.commands.finance",
    "scheduler.commands.keys",
    "scheduler.commands.lifecycle",
    "scheduler.commands.ops",
    "scheduler.commands.sync",
    "scheduler.embedded",
    __name__,
]

_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(PRELOAD)


class Forked:
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


def start_worker(args: list[str], env: dict[str, str], cwd: Path, log: Path) -> Forked:
    """``python -m worker`` + ``args`` in a process group of its own, output appended to ``log``."""
    streams = (os.devnull, str(log), str(log))
    process = _process("worker", args, env, cwd, streams, group=True)
    process.start()
    # killpg must reach it from now on, as it reaches a process started with start_new_session
    deadline = time.monotonic() + 30
    pid = process.pid
    while process.exitcode is None and _group_of(pid) != pid:
        assert time.monotonic() < deadline, "the forked worker did not start a process group of its own"
        time.sleep(0.005)
    return Forked(process, [sys.executable, "-m", "worker", *args])


def run(
    module: str, args: list[str], *, env: dict[str, str], cwd: Path | str, timeout: float, input: str = ""
) -> subprocess.CompletedProcess[str]:
    """``subprocess.run([python, "-m", module, *args], capture_output=True, text=True, ...)`` from the fork server."""
    command = [sys.executable, "-m", module, *args]
    with tempfile.TemporaryDirectory(prefix="forked-") as folder:
        stdin, stdout, stderr = (Path(folder) / name for name in ("stdin", "stdout", "stderr"))
        stdin.write_text(input)
        streams = (str(stdin), str(stdout), str(stderr))
        process = _process(module, args, env, cwd, streams, group=False)
        process.start()
        process.join(timeout)
        if process.exitcode is None:
            process.kill()
            process.join()
            raise subprocess.TimeoutExpired(command, timeout, stdout.read_text(), stderr.read_text())
        return subprocess.CompletedProcess(command, process.exitcode, stdout.read_text(), stderr.read_text())


def _process(
    module: str, args: list[str], env: dict[str, str], cwd: Path | str, streams: tuple[str, str, str], *, group: bool
) -> BaseProcess:
    # daemonic: one a failed test left running gets SIGTERM when its test process exits, instead of that exit waiting
    # for it to end (multiprocessing joins the others); billiard, which forks a worker's pool, keeps its own flag
    return _context.Process(target=_main, args=(module, args, env, str(cwd), streams, group), name=module, daemon=True)


def _main(
    module: str, args: list[str], env: dict[str, str], cwd: str, streams: tuple[str, str, str], group: bool
) -> None:
    if group:
        os.setsid()
    written = os.O_WRONLY | os.O_CREAT | os.O_APPEND
    for fd, (path, flags) in enumerate(zip(streams, (os.O_RDONLY, written, written), strict=True)):
        opened = os.open(path, flags, 0o644)
        os.dup2(opened, fd)
        os.close(opened)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115  # multiprocessing gave it /dev/null on some other descriptor
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    sys.path.insert(0, cwd)  # ``python -m`` puts the working folder first
    sys.argv = [module, *args]  # runpy puts the module's file first, as ``python -m`` does
    runpy.run_module(module, run_name="__main__", alter_sys=True)


def _group_of(pid: int | None) -> int | None:
    if pid is None:  # not started
        return None
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None
