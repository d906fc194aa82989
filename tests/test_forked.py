"""The chaos scenarios' workers and the CLI tests' commands come from a fork server (tests/forked.py): what it imports
ahead must not read the environment, and each forked process must run as ``python -m`` would run it."""

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
from tests import forked

ROOT = Path(__file__).resolve().parents[1]


def test_the_modules_imported_ahead_read_no_setting():
    # a fresh interpreter with settings no process would accept: importing the list must neither read them nor
    # import worker.app (which builds the Celery app from them)
    probe = (
        "import importlib, sys\n"
        "from tests.forked import PRELOAD\n"
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
    assert forked.start_worker(["--pool", "solo"], env, ROOT, log).wait(60) == 2
    text = log.read_text()
    assert text.startswith("error: BPSYNC_BEAT_TICK_SECONDS: ") and text.count("\n") == 1, text


def test_a_forked_worker_answers_a_ping_and_dies_with_its_group(tmp_path, sqlite_migrated_url, redis_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BPSYNC_")}
    env |= {"BPSYNC_DATABASE_URL": sqlite_migrated_url, "BPSYNC_BROKER_URL": redis_url}
    log = tmp_path / "worker.log"
    worker = forked.start_worker(["--concurrency", "1", "-n", "forked@%h"], env, ROOT, log)
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


def test_a_forked_command_reads_its_arguments_environment_folder_and_input_and_exits_with_its_code(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BPSYNC_")}
    bad = {"BPSYNC_BEAT_TICK_SECONDS": "0", "BPSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'never.sqlite'}"}
    out = forked.run("scheduler.cli", ["status"], env=env | bad, cwd=ROOT, timeout=60)
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr.startswith("error: BPSYNC_BEAT_TICK_SECONDS: ") and out.stderr.count("\n") == 1, out.stderr

    probe = tmp_path / "probe.py"
    probe.write_text(
        "import os, sys\n"
        "print(sys.argv[0] == __file__, sys.argv[1:], os.getcwd(), os.environ['PROBE'], sys.stdin.read())\n"
        "print('to stderr', file=sys.stderr)\n"
        "sys.exit(3)\n"
    )
    # the working folder comes first on the import path, as with ``python -m``
    out = forked.run("probe", ["a", "b c"], env=env | {"PROBE": "yes"}, cwd=tmp_path, timeout=60, input="typed")
    assert out.returncode == 3, out.stderr
    assert out.stdout == f"True ['a', 'b c'] {tmp_path} yes typed\n" and out.stderr == "to stderr\n"


def test_a_forked_command_that_outlives_its_timeout_is_killed(tmp_path):
    (tmp_path / "sleeper.py").write_text("import time\nprint('started', flush=True)\ntime.sleep(60)\n")
    env = dict(os.environ)
    started = time.monotonic()
    try:
        forked.run("sleeper", [], env=env, cwd=tmp_path, timeout=2)
        raise AssertionError("no timeout")
    except subprocess.TimeoutExpired as expired:
        assert expired.output == "started\n"
    assert time.monotonic() - started < 10
