"""A Zoho failure as a one-shot command reports it: what happened, and what the person can try now.

The worker retries a ``RetryableError`` itself, so its messages (``str(exc)``: the error and its hint) say the
fault is transient. A command like ``connect`` asks Zoho once and exits: nothing retries it, so its message must
name the address that did not answer (and the setting it comes from) and say to run the command again.
"""

from __future__ import annotations

import datetime as dt

from shared.config import Settings
from shared.zoho.datacenters import DATA_CENTERS, endpoints_for
from shared.zoho.errors import ConnectionFailed, RateLimited, RetryableError, ZohoError

API_NAMES = {"accounts": "Zoho Accounts", "projects": "Zoho Projects", "books": "Zoho Books"}
URL_SETTINGS = {
    "accounts": "BPSYNC_ACCOUNTS_URL",
    "projects": "BPSYNC_PROJECTS_API_URL",
    "books": "BPSYNC_BOOKS_API_URL",
}
_URL_FIELDS = {"accounts": "accounts", "projects": "projects_api", "books": "books_api"}


AGAIN = "run the same command again"


def one_shot_failure(
    exc: ZohoError,
    settings: Settings,
    *,
    data_center: str | None = None,
    outcome: str | None = None,
    again: str = AGAIN,
) -> str:
    """``exc`` for a person who ran one command: what failed, ``outcome`` (e.g. "nothing was stored") if the
    caller knows it, and what to try next (``again``: how to repeat it, e.g. a web page's button)."""
    if not isinstance(exc, RetryableError):
        return f"{exc}; {outcome}" if outcome else str(exc)  # a fatal error's hint says what a person must change
    name = API_NAMES.get(exc.api, "Zoho")
    where = f"{exc.endpoint}: {exc.message}" if exc.endpoint else exc.message
    outcome = f"; {outcome}" if outcome else ""
    if isinstance(exc, ConnectionFailed):
        url = _base_url(exc.api, settings, data_center)
        return (
            f"{name} did not answer at {url} ({where}){outcome}. Check that this machine reaches {url} "
            f"({_url_origin(exc.api, settings, data_center)}), then {again}"
        )
    if isinstance(exc, RateLimited):
        at = dt.datetime.fromtimestamp(exc.retry_at, tz=dt.UTC)
        return (
            f"{name} refused more calls for now ({where}){outcome}. Its API limit for this account reopens at "
            f"{at:%H:%M:%S} UTC: {again} after that"
        )
    status = f", HTTP {exc.status}" if exc.status is not None else ""
    return (
        f"{name} failed ({where}{status}){outcome}. This is usually a passing fault on Zoho's side: {again} in a "
        "minute (https://status.zoho.com shows outages)"
    )


def _base_url(api: str, settings: Settings, data_center: str | None) -> str:
    field = _URL_FIELDS.get(api)
    if field is None:
        return "Zoho"
    try:
        return str(getattr(endpoints_for(settings, data_center), field))
    except ValueError:  # an unknown data center is reported by the command's own checks
        return "Zoho"


def _url_origin(api: str, settings: Settings, data_center: str | None) -> str:
    setting = URL_SETTINGS.get(api)
    if setting is None:
        return "network access to Zoho"
    code = str(data_center or settings.data_center).upper()
    if getattr(settings, setting.removeprefix("BPSYNC_").lower(), None):
        return f"{setting} sets it"
    if code in DATA_CENTERS:
        return f"data center {code} picks it; {setting} overrides it, e.g. for the sandbox"
    return f"{setting} sets it"
