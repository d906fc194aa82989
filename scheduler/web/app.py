"""The web app (``bpsync web``): status pages, JSON API under /api, /metrics, webhook receiver.

Every route except /healthz requires the configured token (``Authorization: Bearer <BPSYNC_WEB_TOKEN>`` or
the ``token`` cookie set by /login).
"""

from __future__ import annotations

import secrets

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from shared.config import Settings

OPEN_PATHS = {"/healthz"}


class TokenAuth(BaseHTTPMiddleware):
    def __init__(self, app, token: str | None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(app)
        self.token = token

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.url.path in OPEN_PATHS:
            return await call_next(request)
        if not self.token:
            return JSONResponse({"error": "BPSYNC_WEB_TOKEN is not set; the web app refuses all requests"}, 503)
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        given = given or request.cookies.get("token", "") or request.query_params.get("token", "")
        if not secrets.compare_digest(given.encode(), self.token.encode()):
            return JSONResponse({"error": "missing or wrong token"}, 401)
        return await call_next(request)


async def healthz(_request: Request) -> Response:
    return JSONResponse({"ok": True})


def create_web_app(settings: Settings) -> Starlette:
    app = Starlette(
        routes=[Route("/healthz", healthz)],
        middleware=[Middleware(TokenAuth, token=settings.web_token)],
    )
    app.state.settings = settings
    return app
