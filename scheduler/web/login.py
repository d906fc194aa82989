"""Signing in from a browser: the token goes in once (form), then rides in an HttpOnly cookie.

The cookie is SameSite=Strict, which is also what keeps other sites from posting our Refresh/Retry forms.
"""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from scheduler.web.context import web_context

COOKIE_MAX_AGE = 7 * 24 * 3600


def wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api") and "text/html" in request.headers.get("accept", "")


def _safe_next(value: str | None) -> str:
    # only local paths: an open redirect would let a link to our login send the admin anywhere
    if value and value.startswith("/") and not value.startswith("//"):
        return value
    return "/integrations"


def sign_in_form(request: Request, message: str | None, status_code: int = 200) -> Response:
    nxt = request.url.path if request.url.path != "/login" else request.query_params.get("next")
    return web_context(request).templates.TemplateResponse(
        request, "login.html", {"message": message, "next": _safe_next(nxt)}, status_code=status_code
    )


async def sign_in(request: Request) -> Response:
    token = web_context(request).settings.web_token
    if request.method == "GET":
        given, nxt = request.query_params.get("token"), request.query_params.get("next")
        if given is None:
            return sign_in_form(request, None)
    else:
        form = await request.form()
        given, nxt = str(form.get("token") or ""), str(form.get("next") or "")
    if not token or not secrets.compare_digest(given.encode(), token.encode()):
        return sign_in_form(request, "missing or wrong token" if token else "BPSYNC_WEB_TOKEN is not set", 401)
    response = RedirectResponse(_safe_next(nxt), 303)
    response.set_cookie("token", token, max_age=COOKIE_MAX_AGE, httponly=True, samesite="strict")
    return response


ROUTES = [Route("/login", sign_in, methods=["GET", "POST"])]
