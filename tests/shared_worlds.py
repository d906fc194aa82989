"""What a test run builds once and every pytest-xdist process shares: the migrated templates and the synced worlds.

Each xdist process is a session of its own, so a session-scoped fixture used to build its world once per process:
four tiny syncs where one does. ``built_once`` builds a value in the first process that asks for it, under a file
lock in the folder all the run's processes share (the parent of each worker's ``basetemp``), and saves it there
pickled; a process asking later, or while it is being built, waits on the lock and loads it. A PostgreSQL database
such a value names (a template, a synced snapshot) outlives the process that made it: ``keep_database`` lists it,
and the controlling process drops the list's databases when the whole run is over (``drop_kept_databases``).
"""

from __future__ import annotations

import copyreg
import fcntl
import os
import pickle
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest
import sqlalchemy as sa

from sandbox.world import World

T = TypeVar("T")
DATABASES = "databases.txt"


def _world_without_lock(world: World) -> tuple[Callable[[dict], World], tuple[dict]]:
    # a lock cannot be pickled; the copy gets a new one, as copy_world's deep copy does
    return _world_with_lock, ({k: v for k, v in world.__dict__.items() if k != "lock"},)


def _world_with_lock(state: dict) -> World:
    world = World.__new__(World)
    world.__dict__.update(state)
    world.lock = threading.RLock()
    return world


copyreg.pickle(World, _world_without_lock)


def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder every process of this run sees: xdist gives worker gwN the basetemp ``<controller's>/gwN``."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER", "").startswith("gw") else base


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, also when the process dies
        yield


def built_once(folder: Path, name: str, make: Callable[[], T]) -> T:
    """``make()`` in the first process of the run asking for ``name``; the others load what it saved."""
    saved = folder / f"{name}.pickle"
    with _locked(folder / f"{name}.lock"):
        if saved.exists():
            return pickle.loads(saved.read_bytes())
        value = make()
        partial = saved.with_suffix(".partial")
        partial.write_bytes(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
        partial.rename(saved)
        return value


def keep_database(folder: Path, name: str) -> None:
    """List a database for ``drop_kept_databases`` at the end of the run."""
    with _locked(folder / f"{DATABASES}.lock"), (folder / DATABASES).open("a") as listed:
        listed.write(name + "\n")


def drop_kept_databases(folder: Path, admin_url: str) -> None:
    listed = folder / DATABASES
    if not listed.exists():
        return
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for name in dict.fromkeys(listed.read_text().split()):
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()
    listed.unlink()


def pickled_copy(value: T) -> T:
    """A deep copy through pickle: for plain data (a generated sandbox world) a few times faster than deepcopy."""
    return pickle.loads(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
