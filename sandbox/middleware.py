"""The platform layer every API request passes: counting → faults → auth → rate limit → the route.

Runs for ``/restapi/`` (Projects), ``/books/v3/`` (Books) and ``/oauth/`` (Accounts; counting and faults
only, since the token endpoint authenticates with client credentials). A pure ASGI middleware, so a fault
can cut the connection or truncate a body, which a Starlette ``BaseHTTPMiddleware`` cannot do.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import Any

from starlette.datastructures import Headers, QueryParams
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox import auth, envelopes
from sandbox.envelopes import API_ACCOUNTS, API_BOOKS, API_PROJECTS
from sandbox.faults import Fault

API_PREFIXES = (("/restapi/", API_PROJECTS), ("/books/v3/", API_BOOKS), ("/oauth/", API_ACCOUNTS))
UNMATCHED = "(unmatched)"
MALFORMED_BODY = b'{"code": 0, "message": "success", "items": [{"id": '


def api_of(path: str) -> str | None:
    for prefix, api in API_PREFIXES:
        if path.startswith(prefix):
            return api
    return None


def route_template(routes: list[Any], scope: Scope, prefix: str = "") -> str | None:
    """The path template of the route that serves ``scope`` (e.g. ``/restapi/portal/{portal_id}/``)."""
    partial = None
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.NONE:
            continue
        if isinstance(route, Mount):
            found = route_template(route.routes, {**scope, **child}, prefix + route.path)
            if found:
                return found
            continue
        if match is Match.FULL:
            return prefix + route.path
        partial = partial or prefix + route.path  # path matched, method did not (405)
    return partial


class SandboxMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        api = api_of(scope["path"]) if scope["type"] == "http" else None
        if api is None:
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        method = scope["method"]
        template = route_template(scope["app"].router.routes, scope) or UNMATCHED
        state.counter.count_request(api, method, template)
        send = _counting_statuses(send, api, state.counter)
        transport_receive = receive  # a fault that drops the connection finds the transport through it
        if state.journal.recording:
            receive, send = await state.journal.record(api, method, template, scope, receive, send)

        world = state.world
        org_id = QueryParams(scope.get("query_string", b"")).get("organization_id", "")
        latency_ms, fault = state.faults.pick(api, method, template, scope["path"], world.clock(), org_id)
        if latency_ms:
            await asyncio.sleep(latency_ms / 1000)
        if fault is not None:
            answered, send = await self._apply_fault(fault, api, scope, transport_receive, send)
            if answered:
                return
        if api != API_ACCOUNTS:
            passed, send = await self._guard(api, scope, receive, send)
            if not passed:
                return
        try:
            await self.app(scope, receive, send)
        finally:
            org_id = scope.get("state", {}).get("books_org_in_flight")
            if org_id:
                state.limiter.finish_books(org_id)

    async def _guard(self, api: str, scope: Scope, receive: Receive, send: Send) -> tuple[bool, Send]:
        """Auth then rate limit; answers the request itself when either refuses it."""
        state = scope["app"].state
        world = state.world
        zuid = auth.caller_zuid(world, Headers(scope=scope).get("authorization"))
        if zuid is None:
            await JSONResponse(envelopes.UNAUTHORIZED[api], status_code=401)(scope, receive, send)
            return False, send
        scope.setdefault("state", {})["zuid"] = zuid
        preset = state.config.rate_limits
        now = world.clock()
        if api == API_PROJECTS:
            verdict = state.limiter.check_projects(zuid, preset, now)
        else:
            org = world.organizations.get(QueryParams(scope.get("query_string", b"")).get("organization_id", ""))
            if org is None:
                return True, send  # the route answers 6041; Zoho counts calls against a real org only
            verdict = state.limiter.check_books(org, preset, now)
            if verdict.allowed:  # in flight until the response is done (concurrency cap)
                scope["state"]["books_org_in_flight"] = org.organization_id
        if verdict.headers:
            send = _adding_headers(send, verdict.headers)
        if not verdict.allowed:
            await JSONResponse(verdict.body, status_code=429)(scope, receive, send)
            return False, send
        return True, send

    async def _apply_fault(
        self, fault: Fault, api: str, scope: Scope, receive: Receive, send: Send
    ) -> tuple[bool, Send]:
        """Act out ``fault``; True when the request has been answered (or dropped) here."""
        world = scope["app"].state.world
        authorization = Headers(scope=scope).get("authorization")
        if fault.kind == "error5xx":
            await JSONResponse(envelopes.SERVER_ERROR[api], status_code=fault.status)(scope, receive, send)
        elif fault.kind == "429":
            headers = None if fault.retry_after_s is None else {"Retry-After": str(fault.retry_after_s)}
            await JSONResponse(envelopes.THROTTLED[api], status_code=429, headers=headers)(scope, receive, send)
        elif fault.kind == "malformed":
            await Response(MALFORMED_BODY, media_type="application/json")(scope, receive, send)
        elif fault.kind == "reset":
            await _drop_connection(receive)
        elif fault.kind == "truncated":
            return False, _truncating(send)
        elif fault.kind == "cut":
            return False, _cutting(send, receive)
        elif fault.kind == "expire_token":
            auth.expire_access_token(world, authorization)
            return False, send
        elif fault.kind == "revoke_token":
            auth.revoke_access_token(world, authorization)
            return False, send
        return True, send


def _counting_statuses(send: Send, api: str, counter: Any) -> Send:
    async def counting_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            counter.count_status(api, message["status"])
        await send(message)

    return counting_send


def _adding_headers(send: Send, headers: list[tuple[bytes, bytes]]) -> Send:
    async def header_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *headers]}
        await send(message)

    return header_send


def _truncating(send: Send) -> Send:
    """Buffer the real response and send only the first half of its body (with a matching length)."""
    start: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def truncating_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
            return
        if message["type"] != "http.response.body":
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body"):
            return
        full = b"".join(chunks)
        half = full[: len(full) // 2]
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(half)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": half})

    return truncating_send


def _cutting(send: Send, receive: Receive) -> Send:
    """Announce the real response's full length, send the first half of its body, then drop the connection."""
    start: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def cutting_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
            return
        if message["type"] != "http.response.body":
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body"):
            return
        full = b"".join(chunks)
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(full)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": full[: len(full) // 2], "more_body": True})
        _close_connection(receive)

    return cutting_send


def _close_connection(receive: Receive) -> None:
    """Close the TCP connection after what was sent (a FIN, not a reset), mid-response."""
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if transport is None:
        raise ConnectionResetError("sandbox fault: connection closed mid-body")
    transport.close()


async def _drop_connection(receive: Receive) -> None:
    """Close the TCP connection without a response, with an RST, so the client sees a reset."""
    # uvicorn's receive is a bound method of its request cycle, which holds the transport; the ASGI spec
    # has no way to drop a connection without answering.
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if transport is None:
        raise ConnectionResetError("sandbox fault: connection reset")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    for _ in range(3):  # let the server see the disconnect, so it does not try to answer 500
        await asyncio.sleep(0)
