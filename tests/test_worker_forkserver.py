"""The chaos scenarios' workers come from a fork server (tests/worker_forkserver.py): what it imports ahead must not
read the environment, and each forked worker must run on its own."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from shared.celery_app import create_celery
from shared.config import load_settings
from tests import worker_forkserver

ROOT = Path(__file__).resolve().parents[1]


def test_the_modules_imported_ahead_read_no_setting():
    # a fresh interpreter with settings no process would accept: importing the list must neither read them nor
    # import worker.app (which builds the Celery app from them)
    probe = (
        "import importlib, sys\n"
        "from tests.worker_forkserver import PRELOAD\n"
        "for name in PRELOAD: importlib.import_module(name)\n"
        "from shared.config import get_settings\n"
        "print(get_settings.cache_info().currsize, 'worker.app' in sys.modules, 'celery.bin.worker' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("BPSYNC_")}
    env |= {"BPSYNC_BEAT_TICK_SECONDS": "0", "BPSYNC_DATABASE_URL": "not a url"}
    out = subprocess.run([sys.executable, "-c", probe], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["0", "False", "True"]


def test_a_forked_worker_reads_the_environment_it_is_given(tmp_path):
    # the server was started with this process's environment; the worker must refuse the bad setting it is given,
    # in one line, as `python -m worker` does (tests/shared/test_config.py)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BPSYNC_")}
    env |= {"BPSYNC_BEAT_TICK_SECONDS": "0", "BPSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'never.sqlite'}"}
    log = tmp_path / "worker.log"
    assert worker_forkserver.start(["--pool", "solo"], env, ROOT, log).wait(60) == 2
    text = log.read_text()
    assert text.startswith("error: BPSYNC_BEAT_TICK_SECONDS: ") and text.count("\n") == 1, text


def test_a_forked_worker_answers_a_ping_and_dies_with_its_group(tmp_path, sqlite_migrated_url, redis_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BPSYNC_")}
    env |= {"BPSYNC_DATABASE_URL": sqlite_migrated_url, "BPSYNC_BROKER_URL": redis_url}
    log = tmp_path / "worker.log"
    worker = worker_forkserver.start(["--concurrency", "1", "-n", "forked@%h"], env, ROOT, log)
    try:
        assert os.getpgid(worker.pid) == worker.pid  # start() returns once it leads its own group
        app = create_celery(load_settings(broker_url=redis_url, database_url=sqlite_migrated_url), main="ping")
        replies: list = []
        deadline = time.monotonic() + 30
        while not replies and worker.poll() is None and time.monotonic() < deadline:
            replies = app.control.ping(timeout=0.5)
        assert [next(iter(r)) for r in replies] == [f"forked@{socket.gethostname()}"], log.read_text()
        pool = [int(p) for p in os.listdir("/proc") if p.isdigit() and _group(int(p)) == worker.pid]
        assert len(pool) == 2, pool  # the worker and its one pool process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
    assert worker.wait(10) == -signal.SIGKILL


def _group(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None
