"""Liveness and readiness, and the cap on request bodies.

``/healthz`` answers while the process serves (liveness: restart it when this fails). ``/readyz`` checks what a
request needs — the database, the broker and the shared Redis — and answers 503 naming what is down, so a load
balancer stops sending work instead of the app answering 202 to refreshes nothing will run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from scheduler.web.context import web_context

CHECK_TIMEOUT_SECONDS = 2.0
# The largest body any route accepts (API payloads and forms are small; the webhook receivers cap lower).
MAX_BODY_BYTES = 1024 * 1024

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


async def healthz(_request: Request) -> Response:
    return JSONResponse({"ok": True})


def _database(request: Request) -> None:
    import sqlalchemy as sa

    with web_context(request).engine.connect() as conn:
        conn.execute(sa.text("select 1"))


def _broker(request: Request) -> None:
    with web_context(request).celery.connection_for_write() as conn:
        # kombu takes the timeout in (float) seconds; celery-types declares it int
        conn.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT_SECONDS)  # type: ignore[arg-type]


def _shared_redis(request: Request) -> None:
    url = web_context(request).settings.shared_redis_url
    if url is None:
        return  # embedded: the limiter and token cache live in this process
    import redis

    client = redis.Redis.from_url(
        url, socket_timeout=CHECK_TIMEOUT_SECONDS, socket_connect_timeout=CHECK_TIMEOUT_SECONDS
    )
    try:
        client.ping()
    finally:
        client.close()


CHECKS: dict[str, Callable[[Request], None]] = {"database": _database, "broker": _broker, "redis": _shared_redis}


async def readyz(request: Request) -> Response:
    down: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            await run_in_threadpool(check, request)
        except Exception as exc:  # any failure of a dependency is "down", with its reason
            down[name] = f"{type(exc).__name__}: {exc}"[:300]
    if down:
        return JSONResponse({"ready": False, "down": down}, 503)
    return JSONResponse({"ready": True, "checked": list(CHECKS)})


ROUTES = [Route("/healthz", healthz), Route("/readyz", readyz)]


class BodyLimit:
    """Refuses a body over ``max_bytes`` with 413: by Content-Length before anything is read, and by counting
    while it streams in (a chunked upload has no length), so no route ever buffers more than the cap."""

    def __init__(self, app: Callable[..., Awaitable[None]], max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]], send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            response = JSONResponse({"error": f"body over {self.max_bytes} bytes"}, 413)
            await response(scope, receive, send)
            return
        received = 0
        refused = False

        async def limited() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # answer 413 now and let the route see a client that went away (raising here would surface
                    # through the other middlewares' task groups as a 500)
                    refused = True
                    await JSONResponse({"error": f"body over {self.max_bytes} bytes"}, 413)(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        try:
            await self.app(scope, limited, guarded_send)
        except Exception:
            if not refused:
                raise  # the route's own failure; after a refusal it only noticed the "disconnect"
