"""The web app (``bpsync web``): status pages, JSON API under /api, /metrics, webhook receiver.

Every route except /healthz, /login, the webhook receivers (/webhooks/..., authorized by the integration's
own webhook token) and Zoho's redirect back to the Connect flow (/connect/callback, authorized by its sealed state)
requires the configured token (``Authorization: Bearer
<BPSYNC_WEB_TOKEN>``, the ``token`` cookie set by /login, or a ``token`` query parameter); a missing or wrong
token is a 401 (browsers get the sign-in form with it).
"""

from __future__ import annotations

import secrets

from celery import Celery
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from scheduler.web import api, connect, finance, health, login, metrics, pages, webhooks
from scheduler.web.context import WebContext
from scheduler.web.problems import EXCEPTION_HANDLERS
from shared.config import Settings

# /connect/callback: Zoho's redirect carries no token cookie (SameSite=Strict); its sealed state authorizes it
OPEN_PATHS = {"/healthz", "/readyz", "/login", "/connect/callback"}


def token_matches(given: str, token: str) -> bool:
    return secrets.compare_digest(given.encode(), token.encode())


class TokenAuth(BaseHTTPMiddleware):
    def __init__(self, app, token: str | None) -> None:
        super().__init__(app)
        self.token = token

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.url.path in OPEN_PATHS or request.url.path.startswith(webhooks.PREFIX):
            return await call_next(request)
        if not self.token:
            return JSONResponse({"error": "BPSYNC_WEB_TOKEN is not set; the web app refuses all requests"}, 503)
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        given = given or request.cookies.get("token", "") or request.query_params.get("token", "")
        if not token_matches(given, self.token):
            if login.wants_html(request):
                return login.sign_in_form(request, "missing or wrong token", 401)
            return JSONResponse({"error": "missing or wrong token"}, 401)
        return await call_next(request)


def create_web_app(settings: Settings, *, celery: Celery | None = None) -> Starlette:
    """The web app; ``celery`` sends the refreshes (default: an app built from ``settings``)."""
    context = WebContext(settings, celery)
    app = Starlette(
        routes=[
            *health.ROUTES,
            *login.ROUTES,
            *pages.ROUTES,
            *connect.ROUTES,
            *api.ROUTES,
            *finance.ROUTES,
            *metrics.ROUTES,
            *webhooks.ROUTES,
        ],
        middleware=[Middleware(health.BodyLimit), Middleware(TokenAuth, token=settings.web_token)],
        exception_handlers=EXCEPTION_HANDLERS,
    )
    app.state.settings = settings
    app.state.web = context
    return app
