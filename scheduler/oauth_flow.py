"""The web Connect flow's OAuth pieces: the authorization URL, the ``state`` that ties Zoho's redirect to the browser
that started it, and the Zoho sign-in held between the redirect and the chooser.

Both are sealed with BPSYNC_SECRET_KEY (Fernet: encrypted, authenticated, timestamped), so any web process can check
them and nothing is stored server-side. The ``state`` carries a nonce that must equal the one in the browser's
HttpOnly cookie (a forged or replayed redirect from another browser fails) and expires after ``STATE_TTL_SECONDS``.
The sign-in (the refresh token Zoho gave for the code) lives only in an HttpOnly cookie, encrypted, for
``SIGN_IN_TTL_SECONDS``: no page, URL or log line shows it.
"""

from __future__ import annotations

import json
import secrets
from urllib.parse import urlencode

from cryptography.fernet import InvalidToken

from scheduler.connect import ConnectError
from shared import crypto
from shared.config import Settings
from shared.zoho.datacenters import DATA_CENTERS, endpoints_for
from shared.zoho.factory import ZohoCredentials

STATE_TTL_SECONDS = 600
SIGN_IN_TTL_SECONDS = 1800
AUTHORIZE_PATH = "/oauth/v2/auth"
# What the product reads and writes (reference: zoho-projects-api.md §2 read-only set; zoho-books-api.md §3, which
# scope each Books endpoint needs). Status changes in Books need CREATE, so Books modules are ALL.
ZOHO_SCOPES = (
    "ZohoProjects.portals.READ",
    "ZohoProjects.projects.READ",
    "ZohoProjects.tasks.READ",
    "ZohoProjects.tasklists.READ",
    "ZohoProjects.milestones.READ",
    "ZohoProjects.bugs.READ",
    "ZohoProjects.timesheets.READ",
    "ZohoProjects.users.READ",
    "ZohoProjects.clients.READ",
    "ZohoBooks.settings.ALL",
    "ZohoBooks.contacts.ALL",
    "ZohoBooks.projects.ALL",
    "ZohoBooks.invoices.ALL",
    "ZohoBooks.estimates.ALL",
    "ZohoBooks.expenses.ALL",
)
_STATE = "connect-state"
_SIGN_IN = "connect-sign-in"


class StateRefused(Exception):
    """Zoho's redirect does not belong to a Connect this browser started (or it came too late)."""


def configuration_problem(settings: Settings) -> str | None:
    """What keeps the Connect flow from starting (None: nothing)."""
    missing = [
        f"BPSYNC_{name.upper()}" for name in ("oauth_client_id", "oauth_client_secret") if not getattr(settings, name)
    ]
    if not settings.connect_redirect_uri:
        missing.append("BPSYNC_OAUTH_REDIRECT_URI (or BPSYNC_PUBLIC_URL)")
    if missing:
        return f"the Connect flow needs {', '.join(missing)}: see the README, 'Pointing at real Zoho'"
    return None


def authorization_url(settings: Settings, state: str) -> str:
    params = {
        "scope": ",".join(ZOHO_SCOPES),
        "client_id": settings.oauth_client_id or "",
        "response_type": "code",
        "redirect_uri": settings.connect_redirect_uri or "",
        "access_type": "offline",  # what makes Zoho give a refresh token
        "prompt": "consent",  # a refresh token every time, even for a user who consented before
        "state": state,
    }
    return f"{endpoints_for(settings).accounts}{AUTHORIZE_PATH}?{urlencode(params)}"


def _seal(settings: Settings, purpose: str, data: dict[str, str]) -> str:
    return crypto.cipher(settings).encrypt(json.dumps({"purpose": purpose, **data}).encode()).decode()


def _open(settings: Settings, purpose: str, token: str, ttl: int) -> dict[str, str] | None:
    try:
        data = json.loads(crypto.cipher(settings).decrypt(token.encode(), ttl=ttl))
    except (InvalidToken, ValueError, TypeError):
        return None
    return data if isinstance(data, dict) and data.get("purpose") == purpose else None


def new_state(settings: Settings) -> tuple[str, str]:
    """(state for the authorization URL, nonce for the browser's cookie)."""
    nonce = secrets.token_urlsafe(24)
    return _seal(settings, _STATE, {"nonce": nonce}), nonce


def check_state(settings: Settings, state: str, nonce: str) -> None:
    data = _open(settings, _STATE, state, STATE_TTL_SECONDS) if state else None
    if data is None:
        raise StateRefused(
            "Zoho's answer carries no valid sign-in state (it was altered, or it is older than "
            f"{STATE_TTL_SECONDS // 60} minutes), so it was refused and nothing was connected: start Connect again"
        )
    if not nonce or not secrets.compare_digest(str(data.get("nonce", "")), nonce):
        raise StateRefused(
            "Zoho's answer belongs to a Connect started in another browser (or already used), so it was refused "
            "and nothing was connected: start Connect again from this browser"
        )


def data_center_of(settings: Settings, location: str | None) -> str:
    """The data center Zoho says the user's account lives in (its ``location``), else the configured one."""
    if not location:
        return settings.data_center
    code = location.strip().upper()
    if code not in DATA_CENTERS:
        raise ConnectError(
            f"Zoho says this account lives in data center {location!r}, which this version does not know; "
            f"known: {', '.join(DATA_CENTERS)}"
        )
    return code


def client_credentials(settings: Settings, data_center: str, refresh_token: str = "") -> ZohoCredentials:
    return ZohoCredentials(
        settings.oauth_client_id or "", settings.oauth_client_secret or "", refresh_token, data_center
    )


def seal_sign_in(settings: Settings, creds: ZohoCredentials) -> str:
    return _seal(settings, _SIGN_IN, {"refresh_token": creds.refresh_token, "data_center": creds.data_center})


def open_sign_in(settings: Settings, token: str | None) -> ZohoCredentials | None:
    data = _open(settings, _SIGN_IN, token, SIGN_IN_TTL_SECONDS) if token else None
    if data is None:
        return None
    return client_credentials(settings, str(data["data_center"]), str(data["refresh_token"]))
