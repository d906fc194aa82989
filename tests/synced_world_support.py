"""A ``tiny`` world synced once per test process, handed to each test as a copy of its own.

A real embedded sync (SQLite, memory broker, in-process worker, the sandbox over HTTP) takes seconds; the web and
ops tests need its outcome, not its making. ``SyncedSnapshot.make`` runs that sync once and keeps what it left:
the SQLite file (checkpointed) and the sandbox's world (the sandbox stopped). ``copy`` gives a test a new file and a
new sandbox serving a deep copy of that world, so whatever a test changes (rows, Zoho records, tokens) is its own.
The copy is what the sync left, byte for byte and record for record; only the sandbox's request log starts empty
and its port is new (the settings point at it; the secret key is the one that encrypted the credentials).
"""

from __future__ import annotations

import copy
import pickle
import shutil
import sqlite3
import threading
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from sandbox.config import SandboxConfig
from sandbox.limits import preset
from sandbox.server import SandboxServer
from sandbox.world import World as SandboxWorld
from scheduler.embedded import running_worker
from shared.celery_app import create_celery
from shared.config import Settings
from shared.db import engine as dbe
from shared.db.integrations import get_integration
from shared.zoho.factory import reset_embedded_state
from tests.ops_sync import World, connect, sync


def copy_world(world: SandboxWorld) -> SandboxWorld:
    """A deep copy of a sandbox world, with a lock of its own (a lock cannot be copied).

    Through pickle (tests/shared_worlds.py gives the copy its lock): a few times less CPU than ``copy.deepcopy``
    for a synced world, which every test taking a snapshot's copy paid; a world pickle cannot take (a test's
    lambda for a clock) is deep-copied."""
    from tests.shared_worlds import pickled_copy

    try:
        return pickled_copy(world)
    except (pickle.PicklingError, AttributeError, TypeError):
        return copy.deepcopy(world, {id(world.lock): threading.RLock()})


@dataclass(frozen=True)
class SyncedSnapshot:
    database: Path
    world: SandboxWorld
    settings: Settings
    integration_id: int

    @classmethod
    def make(cls, folder: Path, sqlite_template: Path) -> SyncedSnapshot:
        database = folder / "synced.sqlite"
        shutil.copyfile(sqlite_template, database)
        sandbox = SandboxServer(config=SandboxConfig(rate_limits=preset("off")), size="tiny").start()
        try:
            world = connect(sandbox, f"sqlite:///{database}")
            with running_worker(world.app):
                sync(world)
            world.engine.dispose()
        finally:
            sandbox.stop()
        with closing(sqlite3.connect(database)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return cls(database, copy_world(sandbox.world), world.settings, world.integration.id)

    def copy(self, folder: Path, start_sandbox: Callable[..., SandboxServer]) -> World:
        """The synced world for one test: its own SQLite file and its own sandbox (started by ``start_sandbox``)."""
        database = folder / "bpsync.sqlite"
        shutil.copyfile(self.database, database)
        sandbox = start_sandbox(world=copy_world(self.world))
        base = sandbox.base_url
        settings = self.settings.model_copy(
            update={
                "database_url": f"sqlite:///{database}",
                "projects_api_url": base,
                "books_api_url": base + "/books/v3",
                "accounts_url": base,
            }
        )
        reset_embedded_state()  # in-process tokens of an earlier test's sandbox are stale
        engine = dbe.make_engine(settings.database_url)
        integration = get_integration(engine, self.integration_id)
        return World(sandbox, settings, engine, create_celery(settings), integration)
