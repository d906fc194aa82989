"""Every rate-limit number the sandbox enforces, in one place.

Sources: reference/zoho-books-api.md §3 and §6, reference/zoho-projects-api.md §5. Values marked
(inferred) were not confirmed from a primary source; change them here only.

The presets differ only in time: ``fast`` compresses the windows ~60x so benchmarks can hit them in
seconds, while quotas (how many calls) stay Zoho's, so a client tuned against ``fast`` has the right
shape for the real thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PresetName = Literal["zoho", "off", "fast"]

# Books (reference §6): 100 requests per minute per organization, all plans; the daily cap is per plan
# and lives on each Organization (org.daily_limit). Plan → daily calls, for the generator and tests.
BOOKS_DAILY_LIMIT_BY_PLAN = {
    "FREE": 1000,
    "STANDARD": 2000,
    "PROFESSIONAL": 5000,
    "PREMIUM": 10000,
    "ELITE": 10000,
    "ULTIMATE": 10000,
}
# Concurrent in-flight calls per organization, by plan: Free 5, paid plans 10 (reference §6: likely but
# unverified); more → 429 code 1070. Plans not listed get the paid number.
BOOKS_CONCURRENCY_BY_PLAN = {"FREE": 5}
BOOKS_CONCURRENCY_DEFAULT = 10
# The daily quota resets at midnight UTC of the sandbox clock (inferred: Zoho may use the org's time zone).
BOOKS_DAILY_RESET_UTC_OFFSET_S = 0

# Accounts (reference Books §3): at most 10 access tokens per refresh token in 10 minutes, and at most 20
# refresh tokens per user and client (the 21st silently invalidates the oldest). Not part of the presets:
# the token cap exists to catch a product that refreshes without a lock, which every test should catch.
ACCESS_TOKENS_PER_REFRESH_TOKEN = 10
ACCESS_TOKEN_WINDOW_S = 600
REFRESH_TOKENS_PER_USER_CLIENT = 20
AUTHORIZATION_CODE_TTL_S = 120  # (inferred) Zoho grant codes are short-lived and single-use


@dataclass(frozen=True)
class RateLimitPreset:
    """How the sandbox throttles API calls. ``enabled=False`` turns every API limit off."""

    name: str
    enabled: bool = True
    books_per_window: int = 100
    books_window_s: float = 60.0
    books_daily_cap: bool = True  # enforce org.daily_limit
    books_concurrency: bool = True  # enforce BOOKS_CONCURRENCY_BY_PLAN
    projects_per_window: int = 100
    projects_window_s: float = 120.0
    projects_lockout_s: float = 1800.0  # exceeding the window locks the user out (Deluge docs: 30 min)


PRESETS: dict[str, RateLimitPreset] = {
    "zoho": RateLimitPreset(name="zoho"),
    "off": RateLimitPreset(name="off", enabled=False),
    "fast": RateLimitPreset(name="fast", books_window_s=1.0, projects_window_s=2.0, projects_lockout_s=30.0),
}


def books_concurrency(plan_name: str) -> int:
    return BOOKS_CONCURRENCY_BY_PLAN.get(plan_name.upper(), BOOKS_CONCURRENCY_DEFAULT)


def preset(name: str) -> RateLimitPreset:
    """The preset called ``name``; a clear error names the valid ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown rate-limit preset {name!r}; use one of {sorted(PRESETS)}") from None
