"""`bpsync worker --detach` (Celery's daemon mode) starts a worker that answers, as the umbrella command did."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import suppress
from pathlib import Path

import pytest

from shared.celery_app import create_celery
from shared.config import load_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_detached_worker_starts_and_answers_a_ping(sqlite_migrated_url, redis_url, tmp_path):
    # Celery's --detach starts the worker again as `python -m celery` + the process's arguments: from `python -m
    # worker` those arguments alone named no app and no command, and the detached process died at once
    env = {k: v for k, v in os.environ.items() if not k.startswith("BPSYNC_")}
    env |= {"BPSYNC_DATABASE_URL": sqlite_migrated_url, "BPSYNC_BROKER_URL": redis_url}
    pidfile, name = tmp_path / "worker.pid", f"detached-{uuid.uuid4().hex[:6]}"
    command = [sys.executable, "-m", "scheduler.cli", "worker", "--detach", "--pidfile", str(pidfile)]
    command += ["--logfile", str(tmp_path / "worker.log"), "--pool", "solo", "-n", f"{name}@%h"]
    started = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert started.returncode == 0, started.stderr
    app = create_celery(load_settings(broker_url=redis_url, database_url=sqlite_migrated_url), main="detached-ping")
    pid = None
    try:
        deadline, replies = time.monotonic() + 30, []
        while time.monotonic() < deadline and not replies:
            if pid is None and pidfile.exists() and pidfile.read_text().strip():
                pid = int(pidfile.read_text())
            replies = [r for r in app.control.ping(timeout=1) or [] if any(k.startswith(name) for k in r)]
        assert replies, f"no detached worker answered (pidfile {'written' if pid else 'missing'})"
    finally:
        if pid is None and pidfile.exists():
            pid = int(pidfile.read_text() or 0) or None
        if pid:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
def test_sighup_restarts_the_worker_in_place(sqlite_migrated_url, redis_url, tmp_path):
    # off a terminal Celery restarts a worker on SIGHUP by executing python + sys.argv again: `python -m worker` comes
    # back as itself, not as its file run as a script (which starts too, but with worker/ first on the import path,
    # where its modules could shadow top-level ones of the same name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BPSYNC_")}
    env |= {"BPSYNC_DATABASE_URL": sqlite_migrated_url, "BPSYNC_BROKER_URL": redis_url}
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "worker", "--pool", "solo", "-n", f"hup-{uuid.uuid4().hex[:6]}@%h"],
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:

        def readies() -> int:
            return log.read_text().count(" ready.")

        deadline = time.monotonic() + 30
        while readies() < 1 and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.1)
        assert readies() == 1, log.read_text()
        worker.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while readies() < 2 and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.1)
        text = log.read_text()
        assert readies() == 2 and worker.poll() is None, text
        assert "Restarting celery worker (-m worker " in text and "Traceback" not in text, text
    finally:
        worker.kill()
        worker.wait(10)
