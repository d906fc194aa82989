"""Timestamps in status output: ISO 8601 UTC in JSON, so scripts parse them the same on every database."""

from __future__ import annotations

import datetime as dt

from shared.clock import as_utc


def iso(value: dt.datetime | None) -> str | None:
    if value is None:  # as_utc inline: a status of 1,000 integrations writes 20,000 of these
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.isoformat().replace("+00:00", "Z")


# zones PostgreSQL's UTC comes back in (psycopg gives the session's zone): offset 0, always
_UTC_KEYS = frozenset({"UTC", "Etc/UTC"})


def as_written(value: dt.datetime | None) -> dt.datetime | str | None:
    """``value`` for a JSON writer that writes a UTC datetime as ``iso`` does (``emit_json(utc_datetimes=True)``):
    a naive or UTC datetime as it is, any other ``iso(value)`` now. orjson formats 13,000 timestamps in a
    millisecond where ``isoformat`` took ten (a status of 1,000 integrations)."""
    if value is None:
        return None
    zone = value.tzinfo
    if zone is None or zone is dt.UTC or getattr(zone, "key", None) in _UTC_KEYS:
        return value
    return iso(value)


def seconds_between(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    start, end = as_utc(start), as_utc(end)
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


def display(value: dt.datetime | None, empty: str = "-") -> str:
    """A timestamp for people: UTC to the second (CLI tables and web pages)."""
    value = as_utc(value)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value is not None else empty
