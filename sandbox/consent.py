"""Zoho Accounts' authorization endpoint: ``GET /oauth/v2/auth`` shows a consent page, approving it redirects to the
client's ``redirect_uri`` with a single-use ``code`` and the caller's ``state``.

Facts: reference/zoho-books-api.md §3 (``/oauth/v2/auth?scope=…&client_id=…&response_type=code&access_type=offline
&redirect_uri=…``). There is no sign-in: the person consenting is ``SandboxConfig.consent_zuid``, else the owner of
the first portal (the admin of ``GET /_sandbox/credentials``), and the page approves itself at once, so a browser
test walks through it like an admin who clicks Accept. (inferred) Zoho appends ``location`` and ``accounts-server``
to the redirect (its multi-data-center flow); the sandbox does too, with ``location=us``.
"""

from __future__ import annotations

import html
import urllib.parse

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from sandbox.accounts import grant_authorization_code
from sandbox.world import World

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Zoho Accounts (sandbox) - consent</title></head>
<body>
<h1>Zoho Accounts (sandbox)</h1>
<p>Signed in as <b class="person">{name}</b> ({email}).</p>
<p>The application <b>{client_id}</b> asks for access to:</p>
<ul class="scopes">{scopes}</ul>
<form method="post" action="/oauth/v2/auth/approve" id="consent">
{hidden}
<button type="submit" name="decision" value="accept" id="accept">Accept</button>
<button type="submit" name="decision" value="reject" id="reject">Reject</button>
</form>
{auto}
</body></html>
"""
AUTO_APPROVE = "<script>document.getElementById('accept').click()</script>"
PASSED_ON = ("client_id", "redirect_uri", "state", "scope", "access_type")


def _problem(message: str) -> HTMLResponse:
    # Zoho shows its own error page (no redirect) when the client or the redirect cannot be trusted
    return HTMLResponse(
        f"<!doctype html><title>Zoho Accounts (sandbox)</title><h1>Invalid request</h1><p class='problem'>"
        f"{html.escape(message)}</p>",
        status_code=400,
    )


def _consenting_person(request: Request) -> str | None:
    world: World = request.app.state.world
    zuid = request.app.state.config.consent_zuid
    if zuid:
        return zuid if zuid in world.people else None
    portal = next(iter(world.portals.values()), None)
    return portal.owner_zuid if portal else None


def _request_problem(request: Request, params: dict[str, str]) -> str | None:
    world: World = request.app.state.world
    if params.get("client_id", "") not in world.oauth_clients:
        return f"no OAuth client {params.get('client_id', '')!r} (Invalid Client ID)"
    if params.get("response_type") != "code":
        return "response_type must be code"
    redirect = urllib.parse.urlsplit(params.get("redirect_uri", ""))
    if redirect.scheme not in ("http", "https") or not redirect.netloc:
        return "redirect_uri must be an http(s) URL"
    if not params.get("scope"):
        return "scope is required"
    return None


async def authorize(request: Request) -> Response:
    params = dict(request.query_params)
    problem = _request_problem(request, params)
    zuid = _consenting_person(request)
    if problem or zuid is None:
        return _problem(problem or "nobody to sign in as (SandboxConfig.consent_zuid names no person)")
    person = request.app.state.world.people[zuid]
    hidden = "\n".join(
        f'<input type="hidden" name="{name}" value="{html.escape(params.get(name, ""))}">' for name in PASSED_ON
    )
    scopes = "".join(f"<li>{html.escape(s)}</li>" for s in params["scope"].split(",") if s)
    page = PAGE.format(
        name=html.escape(person.name),
        email=html.escape(person.email),
        client_id=html.escape(params["client_id"]),
        scopes=scopes,
        hidden=hidden,
        auto=AUTO_APPROVE if request.app.state.config.consent_auto_approve else "",
    )
    return HTMLResponse(page)


async def approve(request: Request) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    problem = _request_problem(request, form | {"response_type": "code"})
    zuid = _consenting_person(request)
    if problem or zuid is None:
        return _problem(problem or "nobody to sign in as")
    answer = {"state": form.get("state", "")}
    if form.get("decision") == "accept":
        code = grant_authorization_code(request.app.state.world, zuid, form["client_id"], form["redirect_uri"])
        base = request.app.state.config.public_base_url or str(request.base_url).rstrip("/")
        answer = {"code": code, **answer, "location": "us", "accounts-server": base}
    else:
        answer = {"error": "access_denied", **answer}
    separator = "&" if urllib.parse.urlsplit(form["redirect_uri"]).query else "?"
    return RedirectResponse(form["redirect_uri"] + separator + urllib.parse.urlencode(answer), 302)


routes = [
    Route("/oauth/v2/auth", authorize, methods=["GET"]),
    Route("/oauth/v2/auth/approve", approve, methods=["POST"]),
]
