"""The status's reads as SQL text on a DB-API connection, for PostgreSQL and SQLite alike.

``bpsync status`` is a start-up of Python plus a few reads: SQLAlchemy's import alone cost it 0.2 s of a 0.3 s
goal at 1,000 integrations (issue 19). So the status, the integrations listing and /metrics' per-integration
read are written in the SQL both databases speak and run on a bare DB-API connection: the web app's comes from
its SQLAlchemy pool (``engine.raw_connection()``), the CLI's straight from the driver (scheduler/status/source.py).
The text stays as plain as the SQLAlchemy queries it replaced; tests/scheduler/test_status*.py run it on both.

Two things differ between the databases and are kept here: a list of ids (an array parameter on PostgreSQL,
``json_each`` on SQLite) and timestamps (SQLite holds them as text in SQLAlchemy's format).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

_NAMED = re.compile(r"(?<![:\w]):(\w+)")
# how SQLAlchemy writes a DateTime into SQLite (and so how it compares as text there)
SQLITE_TIMESTAMP = "%Y-%m-%d %H:%M:%S.%f"
MAX_ID = 2**31 - 1  # an id past PostgreSQL's integer names nothing (as shared.db.integrations says)


class Connectable(Protocol):
    """A SQLAlchemy Engine, as far as the reads need one."""

    def raw_connection(self) -> Any: ...

    @property
    def dialect(self) -> Any: ...


class Reader:
    """Runs the status's SQL on one DB-API connection (``:name`` parameters, converted for the driver)."""

    def __init__(self, connection: Any, dialect: str) -> None:
        self.connection = connection
        self.postgres = dialect == "postgresql"
        self._texts: dict[str, str] = {}

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        # psycopg's binary results: the same values, read without parsing text (timestamps, integers)
        cursor = self.connection.cursor(binary=True) if self.postgres else self.connection.cursor()
        try:
            cursor.execute(self._text(sql), params)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def _text(self, sql: str) -> str:
        text = self._texts.get(sql)
        if text is None:  # psycopg takes %(name)s; sqlite3 takes :name as written
            text = self._texts[sql] = _NAMED.sub(r"%(\1)s", sql) if self.postgres else sql
        return text

    def one_of(self, column: str, param: str) -> str:
        """``column`` is one of the ids in parameter ``param`` (give its value through ``ids``)."""
        if self.postgres:  # one array parameter: 6,000 ids as an IN list cost more to send and plan than to look up
            return f"{column} = ANY(CAST(:{param} AS integer[]))"
        return f"{column} IN (SELECT value FROM json_each(:{param}))"

    def ids(self, values: Sequence[int]) -> Any:
        # the array as its text: psycopg writes a list of 6,000 ints as an array in Python (~5 ms)
        text = ",".join(str(int(v)) for v in values)
        return "{" + text + "}" if self.postgres else f"[{text}]"

    def when(self, value: dt.datetime) -> Any:
        """A timestamp parameter, compared the way the database holds timestamps."""
        if self.postgres:
            return value
        return value.astimezone(dt.UTC).strftime(SQLITE_TIMESTAMP)


def integration_id(reader: Reader, ref: int | str) -> int:
    """The id of the integration ``ref`` names (its id, or its name), as ``get_integration`` resolves it."""
    by_id = isinstance(ref, int) or str(ref).isdigit()
    if by_id and 0 < int(ref) <= MAX_ID:
        found = reader.rows("SELECT id FROM integrations WHERE id = :ref", ref=int(ref))
    elif not by_id:
        found = reader.rows("SELECT id FROM integrations WHERE name = :ref", ref=str(ref))
    else:
        found = []
    if not found:
        from shared.db.integrations import IntegrationNotFound  # loads SQLAlchemy: only for this error

        raise IntegrationNotFound(ref)
    return int(found[0][0])


def of_integration_and_module(
    reader: Reader, alias: str, ref: int | str | None, module: str | None
) -> tuple[list[str], dict[str, Any]]:
    """Conditions on the rows ``alias`` names: of ``ref``'s integration (id or name), of ``module``; and their
    parameters (``:integration``, ``:module``)."""
    where: list[str] = []
    params: dict[str, Any] = {}
    if ref is not None:
        where.append(f"{alias}.integration_id = :integration")
        params["integration"] = integration_id(reader, ref)
    if module is not None:
        where.append(f"{alias}.module = :module")
        params["module"] = module
    return where, params


def timestamp(value: Any) -> dt.datetime | None:
    """A timestamp column's value as an aware UTC datetime (SQLite hands back text)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value is None or value.tzinfo is not None:  # as_utc inline: 12,000 of these at 1,000 integrations
        return value
    return value.replace(tzinfo=dt.UTC)


@contextmanager
def reading(source: Connectable | Reader) -> Iterator[Reader]:
    """A Reader on ``source``: a SQLAlchemy Engine (a pooled connection, returned after) or a Reader itself."""
    if isinstance(source, Reader):
        yield source
        return
    connection = source.raw_connection()
    try:
        yield Reader(connection, source.dialect.name)
    finally:
        connection.close()  # back to the pool, which rolls back the read's transaction
