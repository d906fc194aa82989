"""Books wire formats: timestamps, dates, "HH:mm" durations, and parsing them back from requests."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sandbox.books.envelope import invalid_value

_HHMM = re.compile(r"^(\d{1,4}):([0-5]\d)$")


def timestamp(ms: int) -> str:
    """Epoch millis as Books writes them: ``2013-09-18T18:05:27+0000`` (the org time zone is UTC here)."""
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S%z")


def parse_timestamp(value: str, field: str) -> int:
    try:
        return int(dt.datetime.strptime(value.strip(), "%Y-%m-%dT%H:%M:%S%z").timestamp() * 1000)
    except ValueError:
        raise invalid_value(field) from None


def date_text(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


def parse_date(value: Any, field: str) -> dt.date:
    if not isinstance(value, str) or len(value) != 10:
        raise invalid_value(field)
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise invalid_value(field) from None


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_hhmm(value: Any, field: str) -> int:
    match = _HHMM.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise invalid_value(field)
    return int(match.group(1)) * 60 + int(match.group(2))


def parse_bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    raise invalid_value(field)


def parse_number(value: Any, field: str) -> float:
    if isinstance(value, bool):
        raise invalid_value(field)
    if value == "":
        return 0.0
    try:
        return float(value)
    except (TypeError, ValueError):
        raise invalid_value(field) from None


def money(value: float) -> float:
    return round(value + 0.0, 2)
