"""Zoho Accounts (OAuth 2.0) emulator: ``POST /oauth/v2/token`` and ``POST /oauth/v2/token/revoke``.

Facts: reference/zoho-books-api.md §3, reference/zoho-projects-api.md §2. Parameters may come as a query
string or a form body, as Zoho accepts both. Token errors are Zoho-style ``{"error": "..."}`` bodies.
"""

from __future__ import annotations

import secrets
import urllib.parse
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox import limits
from sandbox.acts import act
from sandbox.world import AccessToken, AuthorizationCode, World

# (inferred) Zoho accounts answers a bad grant with HTTP 200 and an error body, not a 4xx.
OAUTH_ERROR_STATUS = 200
# (inferred) the access-token cap answers HTTP 400 with this body.
TOKEN_CAP_STATUS = 400
TOKEN_CAP_BODY = {
    "error": "Access Denied",
    "error_description": "You have made too many requests continuously. Please try again after some time.",
}


def new_token() -> str:
    """A token shaped like Zoho's: ``1000.<hex>.<hex>``."""
    return f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"


def mint_refresh_token(world: World, zuid: str) -> str:
    """Give the person ``zuid`` a new refresh token, dropping their oldest beyond Zoho's cap."""
    with world.lock:
        person = world.people[zuid]
        token = new_token()
        person.refresh_tokens.append(token)
        # Zoho keeps 20 refresh tokens per user and client; the 21st silently invalidates the oldest.
        while len(person.refresh_tokens) > limits.REFRESH_TOKENS_PER_USER_CLIENT:
            revoke_refresh_token(world, person.refresh_tokens[0])
        return token


def refresh_token_owner(world: World, refresh_token: str) -> str | None:
    with world.lock:
        for person in world.people.values():
            if refresh_token in person.refresh_tokens:
                return person.zuid
    return None


def revoke_refresh_token(world: World, refresh_token: str) -> bool:
    """Revoke a refresh token and every access token it minted; False if it was not live."""
    with world.lock:
        zuid = refresh_token_owner(world, refresh_token)
        if zuid is None:
            return False
        world.people[zuid].refresh_tokens.remove(refresh_token)
        for token in world.access_tokens.values():
            if token.refresh_token == refresh_token:
                token.revoked = True
        return True


def mint_access_token(world: World, refresh_token: str, ttl_s: int) -> AccessToken | None:
    """A new access token for a live refresh token, or None when Zoho's per-refresh-token cap is reached."""
    with world.lock:
        now = world.clock()
        zuid = refresh_token_owner(world, refresh_token)
        if zuid is None:
            raise KeyError(refresh_token)
        window_start = now - limits.ACCESS_TOKEN_WINDOW_S
        recent = [
            t for t in world.access_tokens.values() if t.refresh_token == refresh_token and t.issued_at > window_start
        ]
        if len(recent) >= limits.ACCESS_TOKENS_PER_REFRESH_TOKEN:
            return None
        _forget_stale_tokens(world, now)
        token = AccessToken(
            token=new_token(), zuid=zuid, refresh_token=refresh_token, expires_at=now + ttl_s, issued_at=now
        )
        world.access_tokens[token.token] = token
        return token


def _forget_stale_tokens(world: World, now: float) -> None:
    # Long runs refresh every hour; keep the table small but never drop a token the cap still counts.
    horizon = now - limits.ACCESS_TOKEN_WINDOW_S
    stale = [k for k, t in world.access_tokens.items() if t.expires_at < horizon and t.issued_at < horizon]
    for key in stale:
        del world.access_tokens[key]


def grant_authorization_code(world: World, zuid: str, client_id: str, redirect_uri: str) -> str:
    """What the consent screen does when ``zuid`` approves ``client_id``: a single-use code."""
    with world.lock:
        if zuid not in world.people:
            raise ValueError(f"no person with zuid {zuid!r}")
        if client_id not in world.oauth_clients:
            raise ValueError(f"no OAuth client {client_id!r}")
        code = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
        world.authorization_codes[code] = AuthorizationCode(
            code=code,
            client_id=client_id,
            zuid=zuid,
            redirect_uri=redirect_uri,
            expires_at=world.clock() + limits.AUTHORIZATION_CODE_TTL_S,
        )
        return code


@act("grant_authorization_code")
def _grant_code_act(world: World, params: dict[str, Any]) -> dict[str, Any]:
    """Params: ``zuid`` (or ``email``), ``redirect_uri``, optional ``client_id`` (default: the only client).

    Without ``redirect_uri`` it is a Self Client's grant code (API console > Self Client > Generate Code), which
    Zoho issues with no redirect; its exchange then needs none (inferred: Zoho's Self Client steps send none)."""
    zuid = params.get("zuid") or _zuid_by_email(world, params.get("email"))
    client_id = params.get("client_id") or next(iter(world.oauth_clients), "")
    code = grant_authorization_code(world, str(zuid), client_id, str(params.get("redirect_uri") or ""))
    return {"code": code, "expires_in": limits.AUTHORIZATION_CODE_TTL_S}


def _zuid_by_email(world: World, email: str | None) -> str:
    for person in world.people.values():
        if email and person.email.lower() == email.lower():
            return person.zuid
    raise ValueError(f"give zuid or the email of a person (no person with email {email!r})")


# --------------------------------------------------------------------------------------------- HTTP
async def _params(request: Request) -> dict[str, str]:
    params = dict(request.query_params)
    body = (await request.body()).decode("utf-8", "replace")
    if body and "json" not in request.headers.get("content-type", ""):
        params.update({k: v[-1] for k, v in urllib.parse.parse_qs(body, keep_blank_values=True).items()})
    return params


def _error(error: str) -> JSONResponse:
    return JSONResponse({"error": error}, status_code=OAUTH_ERROR_STATUS)


async def token(request: Request) -> JSONResponse:
    world: World = request.app.state.world
    params = await _params(request)
    grant_type = params.get("grant_type", "")
    if grant_type not in ("refresh_token", "authorization_code"):
        return _error("unsupported_grant_type")
    client = world.oauth_clients.get(params.get("client_id", ""))
    if client is None or not secrets.compare_digest(client.client_secret, params.get("client_secret", "")):
        return _error("invalid_client")
    if grant_type == "refresh_token":
        return _refresh_grant(request, params)
    return _code_grant(request, params)


def _refresh_grant(request: Request, params: dict[str, str]) -> JSONResponse:
    world: World = request.app.state.world
    try:
        access = mint_access_token(world, params.get("refresh_token", ""), _ttl(request))
    except KeyError:
        return _error("invalid_code")
    if access is None:
        return JSONResponse(TOKEN_CAP_BODY, status_code=TOKEN_CAP_STATUS)
    return JSONResponse(_token_body(request, access))


def _code_grant(request: Request, params: dict[str, str]) -> JSONResponse:
    world: World = request.app.state.world
    with world.lock:
        grant = world.authorization_codes.get(params.get("code", ""))
        if grant is None or grant.used or grant.expires_at <= world.clock():
            return _error("invalid_code")
        if grant.client_id != params.get("client_id"):
            return _error("invalid_code")
        if grant.redirect_uri and grant.redirect_uri != params.get("redirect_uri"):  # a Self Client code has none
            return _error("invalid_redirect_uri")
        grant.used = True
        refresh = mint_refresh_token(world, grant.zuid)
        access = mint_access_token(world, refresh, _ttl(request))
    assert access is not None  # a brand-new refresh token has minted nothing yet
    return JSONResponse(_token_body(request, access) | {"refresh_token": refresh})


async def revoke(request: Request) -> JSONResponse:
    params = await _params(request)
    if revoke_refresh_token(request.app.state.world, params.get("token", "")):
        return JSONResponse({"status": "success"})
    return _error("invalid_code")  # (inferred) Zoho's answer for revoking an unknown token


def _ttl(request: Request) -> int:
    return int(request.app.state.config.token_ttl_seconds)


def _token_body(request: Request, access: AccessToken) -> dict[str, Any]:
    base = request.app.state.config.public_base_url or str(request.base_url).rstrip("/")
    return {
        "access_token": access.token,
        "api_domain": base,
        "token_type": "Bearer",
        "expires_in": _ttl(request),
    }


routes = [
    Route("/oauth/v2/token", token, methods=["POST"]),
    Route("/oauth/v2/token/revoke", revoke, methods=["POST"]),
]
