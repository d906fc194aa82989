"""From an HTTP request to a handler call: method dispatch, organization check, body parsing, errors.

Handlers are plain functions ``(call: BooksCall) -> Response`` so that they read like the API table in
the reference; everything cross-cutting for Books (but not auth or rate limits, which the platform
middleware does) happens here once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.books import rules
from sandbox.books.envelope import BooksError
from sandbox.world import Organization, World

Emit = Callable[[str, dict], None]


@dataclass
class BooksCall:
    world: World
    org: Organization
    zuid: str | None
    query: dict[str, str]
    body: dict[str, Any]
    path: dict[str, str]
    emit: Emit

    @property
    def org_id(self) -> str:
        return self.org.organization_id


Handler = Callable[[BooksCall], Response]
_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")


def endpoint(path: str, *, org_required: bool = True, **handlers: Handler) -> Route:
    """One Route per path; a method without a handler gets Books' 405 envelope, not Starlette's text."""
    by_method = {method.upper(): handler for method, handler in handlers.items()}

    async def dispatch(request: Request) -> Response:
        handler = by_method.get(request.method)
        if handler is None:
            return BooksError(
                405,
                rules.CODE_METHOD_NOT_ALLOWED,
                f"The HTTP method {request.method} is not allowed for the requested resource",
            ).response()
        try:
            call = await _call_of(request, org_required)
            with call.world.lock:
                return handler(call)
        except BooksError as error:
            return error.response()

    return _slash_tolerant(Route(path, dispatch, methods=list(_METHODS)))


def _slash_tolerant(route: Route) -> Route:
    # Zoho answers a Books path with or without a trailing slash (widely used clients send
    # ``/contacts/{id}/``). Matching both in one route keeps the 405 envelope per path and needs no
    # redirect, which would drop a POST body.
    pattern = route.path_regex.pattern
    if pattern.endswith("$") and not pattern.endswith("/$"):
        route.path_regex = re.compile(pattern[:-1] + "/?$")
    return route


async def _call_of(request: Request, org_required: bool) -> BooksCall:
    world: World = request.app.state.world
    zuid = getattr(request.state, "zuid", None)
    query = {key: value for key, value in request.query_params.items()}
    org = _organization(world, query.get("organization_id", ""), zuid) if org_required else None
    body = await _body(request, query) if request.method in {"POST", "PUT"} else {}
    emit = getattr(request.app.state, "emit", None) or _no_emit
    return BooksCall(world, org, zuid, query, body, dict(request.path_params), emit)


def _organization(world: World, org_id: str, zuid: str | None) -> Organization:
    org = world.organizations.get(org_id)
    if org is None or zuid not in org.member_zuids:
        raise BooksError(
            400,
            rules.CODE_NOT_IN_ORGANIZATION,
            f"This user is not associated with the CompanyID/CompanyName:{org_id}.",
        )
    return org


async def _body(request: Request, query: dict[str, str]) -> dict[str, Any]:
    """JSON body, or the legacy ``JSONString`` form field (or query param) that old wrappers send."""
    raw = await request.body()
    content_type = request.headers.get("content-type", "")
    text: str | None
    if "application/x-www-form-urlencoded" in content_type:
        text = parse_qs(raw.decode("utf-8", "replace")).get("JSONString", [None])[0]
    elif "multipart/form-data" in content_type:
        form = await request.form()
        value = form.get("JSONString")
        text = value if isinstance(value, str) else None
    else:
        text = raw.decode("utf-8", "replace") if raw.strip() else None
    if text is None:
        text = query.get("JSONString")
    if text is None:
        return {}
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise BooksError(400, rules.CODE_INVALID_JSONSTRING, "Invalid value passed for JSONString")
    return body


def _no_emit(event: str, payload: dict) -> None:
    """Stand-in when the app has no webhook queue (unit-test apps)."""


async def _invalid_url(request: Request) -> Response:
    return BooksError(404, rules.CODE_INVALID_URL, "Invalid URL Passed").response()


def invalid_url_route() -> Route:
    """Last route of the Books mount: Zoho answers unknown paths with its envelope, not an HTML 404."""
    return Route("/{rest:path}", _invalid_url, methods=list(_METHODS))
