"""Zoho Books v3 wire facts in one place: resources (path, envelope keys), paging, error codes."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.zoho.errors import (
    AuthError,
    DailyQuotaExhausted,
    NotFound,
    RateLimited,
    ServerError,
    ValidationFailed,
    ZohoError,
)
from shared.zoho.ratelimit import retry_after

PER_PAGE = 200  # documented default and maximum
CODE_DOES_NOT_EXIST = 1002
CODE_NOT_IN_ORGANIZATION = 6041
# 429 codes from a third-party client's map (reference §5, unverified): per-minute, daily, concurrency.
CODE_PER_MINUTE = 44
CODE_DAILY = 45
CODE_CONCURRENCY = 1070
# "back off ~60s on 429" (reference §6); the concurrency limit frees as soon as a call finishes. Both are
# fallbacks: a ``Retry-After`` header, when Zoho sends one, decides.
PER_MINUTE_PENALTY_SECONDS = 60.0
CONCURRENCY_PENALTY_SECONDS = 2.0


@dataclass(frozen=True)
class Resource:
    path: str  # collection path; the item is path + "/{id}"
    many: str  # list envelope key
    one: str  # single-record envelope key
    label: str  # for messages: "invoice", "contact"


RESOURCES = {
    r.many: r
    for r in (
        Resource("/organizations", "organizations", "organization", "organization"),
        Resource("/users", "users", "user", "user"),
        Resource("/settings/currencies", "currencies", "currency", "currency"),
        Resource("/contacts", "contacts", "contact", "contact"),
        Resource("/projects", "projects", "project", "project"),
        Resource("/projects/timeentries", "time_entries", "time_entry", "time entry"),
        Resource("/invoices", "invoices", "invoice", "invoice"),
        Resource("/estimates", "estimates", "estimate", "estimate"),
        Resource("/expenses", "expenses", "expense", "expense"),
        Resource("/recurringinvoices", "recurring_invoices", "recurring_invoice", "recurring invoice"),
    )
}


def books_error(status: int, body: Any, headers: Mapping[str, str], endpoint: str) -> ZohoError:
    """Books envelope ``{"code", "message"}`` → our hierarchy."""
    code = body.get("code") if isinstance(body, dict) else None
    message = str(body.get("message")) if isinstance(body, dict) and body.get("message") else f"HTTP {status}"
    common: dict[str, Any] = {"api": "books", "endpoint": endpoint, "status": status, "code": code}
    if status == 429:
        return _throttled(code, message, headers, common)
    if code == CODE_NOT_IN_ORGANIZATION:
        return AuthError(
            message,
            hint="the connected Zoho user is not a member of this Books organization: give credentials of one who is "
            "(bpsync update-credentials)",
            **common,
        )
    if status == 404 or code == CODE_DOES_NOT_EXIST:
        return NotFound(message, **common)
    if status >= 500:
        return ServerError(message, **common)
    if status == 401:
        return ZohoError(message, **common)  # the HTTP layer turns a repeated 401 into AuthError
    return ValidationFailed(message, **common)


def _throttled(code: Any, message: str, headers: Mapping[str, str], common: dict[str, Any]) -> RateLimited:
    now = time.time()
    asked = retry_after(headers, now)
    if code == CODE_DAILY or headers.get("X-Rate-Limit-Remaining") == "0":
        reset = now + asked if asked is not None else _daily_reset(headers, now)
        return DailyQuotaExhausted(f"Zoho Books daily quota exhausted: {message}", retry_at=reset, **common)
    if asked is not None:
        wait = asked
    else:
        wait = CONCURRENCY_PENALTY_SECONDS if code == CODE_CONCURRENCY else PER_MINUTE_PENALTY_SECONDS
    return RateLimited(f"Zoho Books rate limit hit: {message}", retry_at=now + wait, **common)


def _daily_reset(headers: Mapping[str, str], now: float) -> float:
    try:
        return now + float(headers["X-Rate-Limit-Reset"])
    except (KeyError, ValueError):
        # no header: assume the next UTC midnight (inferred; Zoho resets per organization time zone)
        tomorrow = dt.datetime.fromtimestamp(now, tz=dt.UTC).date() + dt.timedelta(days=1)
        return dt.datetime.combine(tomorrow, dt.time(), tzinfo=dt.UTC).timestamp()
