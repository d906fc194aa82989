"""Byte-code written once, by the controlling pytest process, for every process of the suite to read.

With PYTHONDONTWRITEBYTECODE set (as on the CI machine) no process writes byte-code: each of the suite's processes
(five pytest processes, ~50 Celery workers, the ``bpsync`` commands the tests run) compiled every module of ours it
imported again, and each pytest process rewrote the asserts of all ~140 test modules again (~3 of the ~5 CPU-seconds
a process spends collecting). The variable stops imports from writing byte-code, not from reading it: the controller
writes both kinds before the xdist processes start, and they read them.
"""

from __future__ import annotations

import compileall
import multiprocessing
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("shared", "worker", "scheduler", "sandbox", "tests")


def precompile(config: pytest.Config) -> None:
    for package in PACKAGES:
        compileall.compile_dir(ROOT / package, quiet=1, workers=2)
    if (getattr(config.option, "numprocesses", None) or 0) < 2:
        return  # one pytest process rewrites what it imports once either way
    global _CONFIG
    _CONFIG = config  # the forked children rewrite with this config (the assert-rewrite options it holds)
    with multiprocessing.get_context("fork").Pool(2) as pool:
        pool.map(_rewrite, _rewritten_modules(), chunksize=8)


def _rewritten_modules() -> list[Path]:
    """The files pytest rewrites the asserts of: the test modules, the conftests and the plugin they name."""
    tests = ROOT / "tests"
    return sorted(
        {*tests.rglob("test_*.py"), *tests.rglob("*_test.py"), *tests.rglob("conftest.py")}
        | {tests / "sandbox_fixtures.py"}
    )


_CONFIG: pytest.Config | None = None


def _rewrite(path: Path) -> None:
    """Write pytest's own cache of one rewritten module, as its import hook would if byte-code were written.

    Uses pytest's private helpers (``_pytest.assertion.rewrite``): a pytest that moved them makes this a no-op and
    each process rewrites again, slower but the same tests.
    """
    config = _CONFIG  # set before the fork
    if config is None:
        return
    try:
        from _pytest.assertion import rewrite

        state = config.stash[rewrite.assertstate_key]
        pyc = rewrite.get_cache_dir(path) / (path.name[:-3] + rewrite.PYC_TAIL)
        if rewrite._read_pyc(path, pyc) is not None:  # up to date (a local checkout's earlier run)
            return
        pyc.parent.mkdir(exist_ok=True)
        source_hash, code = rewrite._rewrite_test(path, config)
        rewrite._write_pyc(state, code, source_hash, pyc)
    except (ImportError, AttributeError, KeyError, OSError):
        return
