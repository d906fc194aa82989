"""Fixtures for real services. Under CI (CI=true) a missing service fails the test instead of skipping it.

- ``pg_url`` / ``sqlite_url``: a brand-new *empty* database (for the migration tests and the "not migrated" errors);
- ``pg_migrated_url`` / ``sqlite_migrated_url``: a fresh database already at the head revision, copied from a template
  migrated once per session (``CREATE DATABASE ... TEMPLATE``, a file copy for SQLite) instead of migrating each;
- ``redis_url``: a Redis database of this test process alone, flushed before and after the test.

Under pytest-xdist every worker is its own session with its own Redis database number; the templates and the synced
worlds are built once per run and shared by all of them (tests/shared_worlds.py).
"""

from __future__ import annotations

import gc
import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import sqlalchemy as sa

PG_ADMIN_URL = os.environ.get("BPSYNC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BPSYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# pytest-xdist names its workers gw0, gw1, ...; without xdist the process is "master"
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "master")
pytest_plugins = ["tests.sandbox_fixtures"]

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_configure(config: pytest.Config) -> None:
    """Write the byte-code every process of the suite reads, once, before the xdist processes start."""
    if hasattr(config, "workerinput"):  # an xdist process: its controller did it
        return
    from tests.precompile import precompile

    precompile(config)


def service_missing(what: str, exc: BaseException) -> None:
    message = f"{what} is not reachable ({exc}); start it or set the BPSYNC_TEST_* URL"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def pg_admin_engine() -> Iterator[sa.Engine]:
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as exc:  # any connection failure means the service is missing
        service_missing("PostgreSQL", exc)
    yield engine
    engine.dispose()


# A commit that waits for its WAL flush was half of a sync's time. Without the wait, a commit is as atomic and as
# visible to every other connection as before; only a crash of the PostgreSQL server could lose the last ones, and
# no test crashes this server (tests/chaos crashes a cluster of its own, whose databases keep the default).
# A database setting: a copy made from a template does not inherit it, so every database made here gets it.
FAST_COMMITS = 'ALTER DATABASE "{name}" SET synchronous_commit = off'


def create_pg_database(admin: sa.Engine, template: str | None = None) -> str:
    """URL of a new PostgreSQL database (empty, or a copy of ``template``), which the caller drops."""
    name = f"bpsync_t_{uuid.uuid4().hex[:12]}"
    clause = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"{clause}'))
        conn.execute(sa.text(FAST_COMMITS.format(name=name)))
    return admin.url.set(database=name).render_as_string(hide_password=False)


@contextmanager
def pg_database(admin: sa.Engine, template: str | None = None) -> Iterator[str]:
    """URL of a new PostgreSQL database (empty, or a copy of ``template``), dropped on exit."""
    url = create_pg_database(admin, template)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{sa.engine.make_url(url).database}" WITH (FORCE)'))


@pytest.fixture
def pg_url(pg_admin_engine: sa.Engine) -> Iterator[str]:
    """URL of a brand-new, empty PostgreSQL database, dropped after the test."""
    with pg_database(pg_admin_engine) as url:
        yield url


@pytest.fixture(scope="session")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder all the processes of this test run share (tests/shared_worlds.py)."""
    from tests.shared_worlds import run_folder

    return run_folder(tmp_path_factory)


def kept_pg_database(admin: sa.Engine, folder: Path, template: str | None = None) -> str:
    """A new database that outlives this process: dropped when the whole run is over."""
    from tests.shared_worlds import keep_database

    url = create_pg_database(admin, template)
    keep_database(folder, str(sa.engine.make_url(url).database))
    return url


@pytest.fixture(scope="session")
def pg_template(pg_admin_engine: sa.Engine, run_folder: Path) -> str:
    """Name of a database migrated to head once per run, the template of every ``pg_migrated_url``.

    Alembic's env.py connects with a NullPool and disposes it, so no connection to the template stays open
    (PostgreSQL refuses to copy a database anyone is connected to).
    """
    from shared.db import engine as dbengine
    from tests.shared_worlds import built_once

    def make() -> str:
        url = kept_pg_database(pg_admin_engine, run_folder)
        dbengine.upgrade(url)
        return str(sa.engine.make_url(url).database)

    return built_once(run_folder, "pg-template", make)


@pytest.fixture
def pg_migrated_url(pg_admin_engine: sa.Engine, pg_template: str) -> Iterator[str]:
    """URL of a new PostgreSQL database at the head revision (a copy of the session's template), dropped after."""
    with pg_database(pg_admin_engine, template=pg_template) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a new, empty SQLite file."""
    return f"sqlite:///{tmp_path / 'bpsync.sqlite'}"


@pytest.fixture(scope="session")
def sqlite_template(run_folder: Path) -> Path:
    """A SQLite file migrated to head once per run (checkpointed: the copy needs no -wal file)."""
    from shared.db import engine as dbengine
    from tests.shared_worlds import built_once

    def make() -> Path:
        folder = run_folder / "sqlite-template"
        folder.mkdir()
        path = folder / "bpsync.sqlite"
        dbengine.upgrade(f"sqlite:///{path}")
        with closing(sqlite3.connect(path)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return path

    return built_once(run_folder, "sqlite-template", make)


@pytest.fixture
def sqlite_migrated_url(tmp_path: Path, sqlite_template: Path) -> str:
    """URL of a new SQLite file at the head revision (a copy of the session's template)."""
    path = tmp_path / "bpsync.sqlite"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def synced_tiny_snapshot(run_folder: Path, sqlite_template: Path):
    """A ``tiny`` world after one real embedded sync on SQLite, made once per run; tests take a copy
    with ``synced_tiny_snapshot.copy(tmp_path, sandbox_factory)`` (tests/synced_world_support.py)."""
    from tests.shared_worlds import built_once
    from tests.synced_world_support import SyncedSnapshot

    def make() -> SyncedSnapshot:
        folder = run_folder / "synced-tiny"
        folder.mkdir()
        return SyncedSnapshot.make(folder, sqlite_template)

    return built_once(run_folder, "synced-tiny", make)


def harness_snapshot(admin: sa.Engine, template: str, folder: Path, size: str):
    """The first full sync of a ``size`` world (seed 1) on PostgreSQL, made once per run (its database kept)."""
    from tests.shared_worlds import built_once, keep_database
    from tests.sync_support import HarnessSnapshot

    def make() -> HarnessSnapshot:
        snapshot = HarnessSnapshot.built(admin, template, size=size)  # type: ignore[arg-type]
        keep_database(folder, snapshot.database)
        return snapshot

    return built_once(folder, f"{size}-snapshot", make)


@pytest.fixture(scope="session")
def small_snapshot(pg_admin_engine: sa.Engine, pg_template: str, run_folder: Path):
    """The first full sync of the `small` world (seed 1) on PostgreSQL, made once per run; a test takes its own copy
    with ``small_snapshot.harness(...)`` and carries ``tests.sync_support.small_snapshot_test``."""
    snapshot = harness_snapshot(pg_admin_engine, pg_template, run_folder, "small")
    assert snapshot.first.status == "partial", snapshot.first  # the seeded awkward cases fail on purpose
    return snapshot


@pytest.fixture(scope="session")
def tiny_snapshot(pg_admin_engine: sa.Engine, pg_template: str, run_folder: Path):
    """A `tiny` world after one full sync on PostgreSQL, made once per run; a test takes its own copy with
    ``tiny_snapshot.harness(...)`` (the worker tests' ``tiny``, the finance tests' ``fin``)."""
    return harness_snapshot(pg_admin_engine, pg_template, run_folder, "tiny")


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The controlling process (or a run without xdist) drops the databases the run's processes kept, once every
    process is done with them."""
    if XDIST_WORKER.startswith("gw"):
        return
    from tests.shared_worlds import drop_kept_databases

    with suppress(sa.exc.OperationalError):  # PostgreSQL is down: nothing was kept
        drop_kept_databases(session.config._tmp_path_factory.getbasetemp(), PG_ADMIN_URL)  # type: ignore[attr-defined]


def worker_redis_url(url: str = REDIS_URL, worker: str = XDIST_WORKER) -> str:
    """``url`` for this test process: xdist worker gwN uses database number (the configured one minus N), so
    parallel workers never flush each other's keys; gw0 and a run without xdist use the configured database."""
    if not worker.startswith("gw"):
        return url
    parts = urlsplit(url)
    path = parts.path.strip("/")
    number = int(path or 0) - int(worker.removeprefix("gw"))
    if number < 0:
        raise pytest.UsageError(f"xdist worker {worker} has no Redis database of its own below {url}")
    return urlunsplit(parts._replace(path=f"/{number}"))


@contextmanager
def redis_database() -> Iterator[str]:
    """URL of this test process's Redis database, flushed on entry and on exit."""
    import redis

    url = worker_redis_url()
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except Exception as exc:
        service_missing("Redis", exc)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def redis_url() -> Iterator[str]:
    with redis_database() as url:
        yield url


def empty_memory_broker() -> None:
    """kombu's memory transport is one broker for the whole process: a message an earlier test left behind (a beat
    tick's poll, a continuation its worker stopped before taking) must not reach this test's queue or worker.
    Module-scoped fixtures that run a memory-broker worker call this first: they are set up before this autouse one."""
    from kombu.transport import memory

    for queue in memory.Channel.queues.values():
        queue.queue.clear()


@pytest.fixture(autouse=True)
def _empty_memory_broker() -> None:
    empty_memory_broker()


MEMORY_DRAIN_SECONDS = 0.1


def prompt_memory_worker_stop() -> None:
    """An in-process worker on the memory broker stops within 0.1 s instead of up to 2 s.

    Celery's blocking loop (the memory transport has no event loop) checks whether the worker is stopping only
    between calls draining the broker, each given 2 s; the memory transport polls every 0.01 s inside that call
    (``embedded_polling_interval``) whatever its timeout, so a shorter one changes nothing but how soon a stopped
    worker's thread ends. ``running_worker`` joins that thread: the wait was ~1-2 s of every test with a worker.
    """
    from kombu.transport import memory

    drain = memory.Transport.drain_events

    def drain_events(self: memory.Transport, connection: object, timeout: float | None = None) -> object:
        return drain(self, connection, timeout=min(timeout, MEMORY_DRAIN_SECONDS) if timeout else timeout)

    memory.Transport.drain_events = drain_events  # type: ignore[method-assign]  # a test process's own transport


prompt_memory_worker_stop()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist, start the long tests first, the ``chaos`` scenarios (the longest) before the other
    ``slow`` ones, and among those the ones marked ``slow(seconds=N)`` longest first: a worker that picks a
    two-minute chaos scenario up last would end the run minutes after every other worker went idle."""
    in_worker = getattr(config.option, "loadgroup", False)  # set in an xdist worker when --dist is loadgroup
    if in_worker:
        name_groups(items)
    # The order that counts is the workers' (xdist schedules by what they collected; the controlling process's own
    # collection is not run): sorting only where numprocesses is set left the slow tests of tests/worker/ to start
    # in file order, the last of them four minutes in.
    if not in_worker and not getattr(config.option, "numprocesses", None):
        return

    def rank(item: pytest.Item) -> tuple[int, float]:
        slow = item.get_closest_marker("slow")
        # longest first among the slow ones that say how long they take (``slow(seconds=N)``): a 30-second test
        # picked up last, in collection order, kept one worker busy after the others had gone idle
        seconds = -float(slow.kwargs.get("seconds", 0)) if slow else 0.0
        if item.get_closest_marker("chaos"):
            return 0, seconds
        return (1, seconds) if slow else (2, 0.0)

    items.sort(key=rank)


def name_groups(items: list[pytest.Item]) -> None:
    """Give each test marked ``xdist_group(name)`` the node id ``...@name`` that loadgroup schedules by.

    pytest-xdist 3.8 does it by setting ``item._nodeid``, which pytest 9.2 no longer reads (the id is ``item._id``):
    every group was split across the workers and each one built the group's shared world again. Done here the
    way pytest 9.2 keeps ids, and only where the id lacks the suffix (an xdist that sets it itself is left alone).
    """
    try:
        from _pytest.nodes import NodeId
    except ImportError:  # a pytest before 9.2, where xdist's own suffix works
        return

    for item in items:
        names = sorted(
            {str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in item.iter_markers("xdist_group")}
        )
        suffix = "@" + "_".join(names)
        if names and not item.nodeid.endswith(suffix):
            item._id = NodeId.parse(item.nodeid + suffix)  # pytest's private id: no public way to rename a test


def pytest_collection_finish(session: pytest.Session) -> None:
    """Leave what collection imported (Celery, SQLAlchemy, hypothesis, the ~140 test modules) out of the garbage
    collector's full passes, which walked it all again each time: ~0.5 of the ~2.3 CPU-seconds a process spent in
    them."""
    gc.collect()
    gc.freeze()
