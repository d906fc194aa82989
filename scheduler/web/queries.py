"""Reading and checking request parameters: bad input is a 400 with one line saying what to send instead."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from shared.modules import MODULE_ORDER, PLANNED, UnknownModule

MAX_LIMIT = 1000


class BadRequest(ValueError):
    """A parameter is wrong; the message names it and the accepted values."""


def module_param(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    if value not in (*MODULE_ORDER, *PLANNED):
        raise UnknownModule(value)
    return value


def limit_param(request: Request, default: int) -> int:
    raw = request.query_params.get("limit", "")
    if raw == "":
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}, got {raw!r}")
    return int(raw)


def integration_page_params(request: Request, default_limit: int) -> dict[str, Any]:
    """``badge``, ``name``, ``limit`` and ``offset`` of the integrations listing (the API and the page)."""
    raw = request.query_params.get("offset", "")
    if raw != "" and not raw.isdigit():
        raise BadRequest(f"offset must be a whole number, 0 or more, got {raw!r}")
    return {
        "badge": request.query_params.get("badge") or None,
        "name": request.query_params.get("name") or None,
        "limit": limit_param(request, default_limit),
        "offset": int(raw or 0),
    }


def error_id_param(request: Request) -> int:
    raw = request.path_params["error_id"]
    if not raw.isdigit():
        raise BadRequest(f"an error id is a number (see the error details), got {raw!r}")
    return int(raw)
