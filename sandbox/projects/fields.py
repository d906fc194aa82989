"""Parsing of classic form/query values (dates ``MM-DD-YYYY``, durations ``hh:mm``, enumerations).

Strict on purpose: a value Zoho would refuse raises the 400 envelope instead of being coerced.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Mapping

from sandbox.projects.envelope import invalid_param, missing_param

_MDY = re.compile(r"^(\d{2})-(\d{2})-(\d{4})$")
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")
_DIGITS = re.compile(r"^\d+$")


def required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name, "")
    if value.strip() == "":
        raise missing_param(name)
    return value


def mdy(name: str, raw: str) -> dt.date:
    match = _MDY.match(raw)
    if match is None:
        raise invalid_param(name, raw, "a date MM-DD-YYYY")
    month, day, year = (int(g) for g in match.groups())
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise invalid_param(name, raw, "a real calendar date MM-DD-YYYY") from None


def optional_mdy(params: Mapping[str, str], name: str) -> dt.date | None:
    raw = params.get(name, "")
    return mdy(name, raw) if raw else None


def hours(name: str, raw: str) -> int:
    """``hh:mm`` → minutes."""
    match = _HHMM.match(raw)
    if match is None or int(match.group(2)) >= 60:
        raise invalid_param(name, raw, "a duration hh:mm")
    return int(match.group(1)) * 60 + int(match.group(2))


def choice(name: str, raw: str, allowed: Collection[str]) -> str:
    if raw not in allowed:
        raise invalid_param(name, raw, " | ".join(sorted(allowed)))
    return raw


def id_list(name: str, raw: str) -> list[str]:
    values = [v.strip() for v in raw.split(",") if v.strip()]
    if not values or not all(_DIGITS.match(v) for v in values):
        raise invalid_param(name, raw, "comma-separated numeric ids")
    return values


def long_value(name: str, raw: str) -> int:
    if not _DIGITS.match(raw):
        raise invalid_param(name, raw, "epoch milliseconds")
    return int(raw)
