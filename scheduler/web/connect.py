"""The web's Connect flow: sign in with Zoho, choose the portal and organization, set the preferences.

    GET  /connect           what happens, the redirect URI to register; a "Connect with Zoho" button
    POST /connect/start     a sealed ``state`` (nonce in a cookie) -> redirect to Zoho's authorization page
    GET  /connect/callback  Zoho's redirect: the state is checked, the code exchanged, the sign-in kept (cookie)
    GET  /connect/choose    portals and organizations (those that cannot be chosen greyed out with the reason),
                            and the preferences
    POST /connect/finish    ``connect_checked``, exactly as ``bpsync connect`` -> the integration's page
    POST /connect/cancel    revokes the refresh token of the sign-in and forgets it

Only /connect/callback is open without the web token: Zoho's redirect is a cross-site navigation, which does not
carry the SameSite=Strict token cookie. The state authorizes it instead: made for a signed-in admin, sealed with
BPSYNC_SECRET_KEY, and bound to that browser's cookie. The callback then moves on with a same-site navigation (a
script on our own page), so /connect/choose gets the token cookie again.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from scheduler import oauth_flow
from scheduler.connect import ConnectError, connect_checked, exchange_code
from scheduler.connect_choices import list_choices
from scheduler.web.context import web_context
from shared.zoho.factory import build_accounts
from shared.zoho.oauth import AUTHORIZATION_CODE

STATE_COOKIE = "bpsync_connect_state"
SIGN_IN_COOKIE = "bpsync_connect"
COOKIE_PATH = "/connect"
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
# the chooser page is shown again with the error: the person repeats the connect with its button, not a command
AGAIN_ON_THE_PAGE = "press Connect on this page again"


def _render(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    response = web_context(request).templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers.update(NO_STORE)
    return response


def _problem(request: Request, message: str, status_code: int = 400) -> Response:
    response = _render(request, "connect.html", status_code, problem=message, **_start_context(request))
    response.delete_cookie(STATE_COOKIE, path=COOKIE_PATH)
    return response


def _start_context(request: Request) -> dict[str, Any]:
    settings = web_context(request).settings
    return {
        "unconfigured": oauth_flow.configuration_problem(settings),
        "redirect_uri": settings.connect_redirect_uri,
        "scopes": oauth_flow.ZOHO_SCOPES,
    }


def start_page(request: Request) -> Response:
    return _render(request, "connect.html", **_start_context(request))


def start(request: Request) -> Response:
    settings = web_context(request).settings
    problem = oauth_flow.configuration_problem(settings)
    if problem:
        return _problem(request, problem, 409)
    state, nonce = oauth_flow.new_state(settings)
    response = RedirectResponse(oauth_flow.authorization_url(settings, state), 303)
    # Lax, not Strict: it must come back with Zoho's (cross-site) redirect to the callback
    response.set_cookie(
        STATE_COOKIE,
        nonce,
        max_age=oauth_flow.STATE_TTL_SECONDS,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


async def callback(request: Request) -> Response:
    settings = web_context(request).settings
    params = request.query_params
    try:
        oauth_flow.check_state(settings, params.get("state", ""), request.cookies.get(STATE_COOKIE, ""))
    except oauth_flow.StateRefused as exc:
        return _problem(request, str(exc))
    if params.get("error"):
        return _problem(request, f"Zoho did not grant access ({params['error']}); nothing was connected")
    try:
        if not params.get("code"):
            raise ConnectError("Zoho's answer has no authorization code; start Connect again")
        creds = oauth_flow.client_credentials(settings, oauth_flow.data_center_of(settings, params.get("location")))
        creds = await run_in_threadpool(
            partial(exchange_code, redirect_uri=settings.connect_redirect_uri, what=AUTHORIZATION_CODE),
            settings,
            creds,
            params["code"],
        )
    except ConnectError as exc:
        return _problem(request, str(exc))
    response = _render(request, "connect_return.html")
    response.delete_cookie(STATE_COOKIE, path=COOKIE_PATH)  # the state is spent
    response.set_cookie(
        SIGN_IN_COOKIE,
        oauth_flow.seal_sign_in(settings, creds),
        max_age=oauth_flow.SIGN_IN_TTL_SECONDS,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


def _signed_in(request: Request) -> Any:
    return oauth_flow.open_sign_in(web_context(request).settings, request.cookies.get(SIGN_IN_COOKIE))


NOT_SIGNED_IN = "no Zoho sign-in in progress in this browser (or it is older than 30 minutes): start Connect again"


async def choose(request: Request, form: dict[str, str] | None = None, problem: str | None = None) -> Response:
    ctx = web_context(request)
    creds = _signed_in(request)
    if creds is None:
        return _problem(request, NOT_SIGNED_IN)
    try:
        choices = await run_in_threadpool(list_choices, ctx.engine, ctx.settings, creds)
    except ConnectError as exc:
        return _problem(request, str(exc), 502)
    form = form or {
        "portal_id": choices.only("portals") or "",
        "organization_id": choices.only("organizations") or "",
        "contact_duplication": "merge",
        "sync_interval_hours": f"{ctx.settings.default_sync_interval_hours:g}",
    }
    return _render(request, "connect_choose.html", 400 if problem else 200, choices=choices, form=form, problem=problem)


def _preferences(form: dict[str, str]) -> dict[str, Any]:
    raw_date, raw_hours = form.get("cutoff_date", "").strip(), form.get("sync_interval_hours", "").strip()
    try:
        cutoff = dt.date.fromisoformat(raw_date) if raw_date else None
    except ValueError:
        raise ConnectError(f"the cutoff date must be a date (YYYY-MM-DD), got {raw_date!r}") from None
    try:
        hours = float(raw_hours) if raw_hours else None
    except ValueError:
        raise ConnectError(f"the sync interval must be a number of hours, got {raw_hours!r}") from None
    if not form.get("portal_id") or not form.get("organization_id"):
        raise ConnectError("choose a Zoho Projects portal and a Zoho Books organization")
    return {
        "name": form.get("name", ""),
        "portal_id": form["portal_id"],
        "organization_id": form["organization_id"],
        "contact_duplication": form.get("contact_duplication", "merge"),
        "timesheet_cutoff_date": cutoff,
        "general_timesheets": form.get("general_timesheets") == "on",  # an unticked box is not sent at all
        "sync_interval_hours": hours,
    }


async def finish(request: Request) -> Response:
    ctx = web_context(request)
    creds = _signed_in(request)
    if creds is None:
        return _problem(request, NOT_SIGNED_IN)
    form = {k: str(v) for k, v in (await request.form()).items()}
    try:
        connected = await run_in_threadpool(
            partial(connect_checked, **_preferences(form), again=AGAIN_ON_THE_PAGE), ctx.engine, ctx.settings, creds
        )
    except ConnectError as exc:
        return await choose(request, form, str(exc))
    response = RedirectResponse(f"/integrations/{connected.integration.id}?connected=1", 303)
    response.delete_cookie(SIGN_IN_COOKIE, path=COOKIE_PATH)
    return response


async def cancel(request: Request) -> Response:
    creds = _signed_in(request)
    if creds is not None:  # a refresh token nobody will use: Zoho keeps only 20 per user and client
        await run_in_threadpool(lambda: build_accounts(web_context(request).settings, creds).revoke())
    response = RedirectResponse("/integrations", 303)
    response.delete_cookie(SIGN_IN_COOKIE, path=COOKIE_PATH)
    return response


ROUTES = [
    Route("/connect", start_page),
    Route("/connect/start", start, methods=["POST"]),
    Route("/connect/callback", callback),
    Route("/connect/choose", choose),
    Route("/connect/finish", finish, methods=["POST"]),
    Route("/connect/cancel", cancel, methods=["POST"]),
]
