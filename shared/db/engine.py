"""Engines, migrations and the "is this database migrated?" guard."""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from shared.db.revisions import MIGRATIONS_DIR, script_head

if TYPE_CHECKING:  # alembic loads only to migrate: every command's schema check reads the scripts' lines instead
    from alembic.config import Config


class SchemaNotReady(Exception):
    """The database is not at the schema this code needs; the message says which command fixes it."""


def normalize_url(url: str) -> str:
    # SQLAlchemy's bare "postgresql://" means psycopg2, which we don't ship; psycopg 3 is the driver.
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


@functools.cache
def make_engine(url: str) -> sa.Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    engine = sa.create_engine(url, pool_size=5, max_overflow=10)
    _ping_idle_connections(engine)
    return engine


# A pooled connection back in use within this many seconds skips the liveness ping (pool_pre_ping pings on every
# checkout: a round trip per transaction, which a sync slice checking out a connection per record paid thousands of
# times). One the server dropped since is still caught: the statement fails, SQLAlchemy sees the disconnect and
# invalidates the whole pool, and the caller's retry (a slice's backoff) gets fresh connections. One second: a
# slice's back-to-back transactions skip it, while a connection from before a server restart (which takes longer)
# is pinged and replaced instead of failing its first statement.
PING_AFTER_IDLE_SECONDS = 1.0


def _ping_idle_connections(engine: sa.Engine) -> None:
    def checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned_at = record.info.get("returned_at")  # none yet: a connection made for this checkout
        if returned_at is None or time.monotonic() - returned_at < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # the pool retries the checkout with a new connection
            raise sa.exc.DisconnectionError(f"pooled connection is dead: {exc}") from exc

    sa.event.listen(engine.pool, "checkin", checked_in)
    sa.event.listen(engine.pool, "checkout", checkout)


def inserted_id(result: sa.CursorResult[Any]) -> int:
    """The id of the row an INSERT created (SQLAlchemy types the key optional: other statements have none)."""
    key = result.inserted_primary_key
    assert key is not None, "not the result of an INSERT"
    return int(key[0])


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the embedded worker threads read while one writes; foreign keys are off by default in SQLite.
    # pysqlite's own transaction handling defers BEGIN until the first write, so two threads could both read
    # "no sync running" and both start one; we issue BEGIN IMMEDIATE ourselves (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    # One writer at a time, decided when the transaction starts: SQLite's stand-in for SELECT ... FOR UPDATE.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    from alembic import command

    _verified.discard(url)
    command.downgrade(alembic_config(url), revision)


@functools.cache
def head_revision() -> str:
    """The newest migration (alembic's own answer when the scripts branch, which ours never do)."""
    head = script_head()
    if head is not None:
        return head
    from alembic.script import ScriptDirectory

    return str(ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head())


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


_verified: set[str] = set()
_engines: dict[tuple[str, int], sa.Engine] = {}


def shared_engine(url: str) -> sa.Engine:
    """One engine (one connection pool) per database URL and process.

    Tasks used to build an engine each, so every slice opened fresh connections. Keyed by pid as well: a prefork
    child must never reuse connections its parent opened before the fork.
    """
    key = (url, os.getpid())
    engine = _engines.get(key)
    if engine is None:
        engine = _engines[key] = make_engine(url)
    return engine


def require_schema(url: str) -> sa.Engine:
    """The engine for ``url``, or SchemaNotReady if the database is not migrated to head.

    Checked once per process and URL: every task calls this, and reading the migration scripts each time would
    put file-system work on the hot path.
    """
    engine = shared_engine(url)
    if url in _verified:
        return engine
    try:
        current = current_revision(engine)
    except sa.exc.OperationalError as exc:
        raise SchemaNotReady(f"cannot open the database {engine.url!r}: {exc.orig}") from None
    head = head_revision()
    if current != head:
        state = "not migrated" if current is None else f"at revision {current}, this version needs {head}"
        raise SchemaNotReady(f"the database {engine.url!r} is {state}; run: bpsync db upgrade")
    _verified.add(url)
    return engine
