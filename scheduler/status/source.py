"""Where ``bpsync status`` reads: a connection straight from the driver (psycopg or sqlite3), so the command
loads no SQLAlchemy (issue 19: its import was two thirds of the command's time budget).

Only when that is plainly fine: the database opens and is at the revision these scripts need. Anything else (a
missing file, an unreachable server, another revision, a URL the driver reads differently) goes the usual way,
through ``require_schema``, which says what is wrong in the words every command uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from scheduler.status.reads import Connectable, Reader
from shared.db.revisions import script_head


@contextmanager
def status_source(url: str) -> Iterator[Reader | Connectable]:
    """What to read the status from: a direct connection (closed after) or the engine ``require_schema`` gives."""
    reader = _direct(url)
    if reader is None:
        from shared.db.engine import require_schema

        yield require_schema(url)
        return
    try:
        yield reader
    finally:
        reader.connection.close()


def _direct(url: str) -> Reader | None:
    try:
        opened = _connect(url)
    except Exception:  # require_schema reports it (or works where the driver alone did not)
        return None
    if opened is None:
        return None
    reader = Reader(*opened)
    try:
        current = reader.rows("SELECT version_num FROM alembic_version")
    except Exception:  # not migrated: require_schema says so
        current = []
    head = script_head()
    if head is None or [tuple(r) for r in current] != [(head,)]:
        opened[0].close()
        return None
    return reader


def _connect(url: str) -> tuple[Any, str] | None:
    scheme, _, rest = url.partition("://")
    if scheme in ("postgresql", "postgresql+psycopg"):
        import psycopg
        from psycopg.conninfo import conninfo_to_dict

        conninfo = f"postgresql://{rest}"
        # the session in UTC: psycopg gives timestamps in the session's zone, and a server's "Etc/UTC" as a ZoneInfo
        # costs every one of them a conversion (~5 ms of the 13,000 at 1,000 integrations; timezone.utc is free)
        options = f"{conninfo_to_dict(conninfo).get('options') or ''} -c TimeZone=UTC".strip()
        # autocommit: each read is its own statement, as in SQLAlchemy's read-committed transaction
        return psycopg.connect(conninfo, autocommit=True, options=options), "postgresql"
    if scheme in ("sqlite", "sqlite+pysqlite"):
        path = url.split("///", 1)[-1]
        if not path or path == ":memory:" or not Path(path).is_file():
            return None
        import sqlite3

        return sqlite3.connect(path, timeout=30, isolation_level=None), "sqlite"
    return None
