"""Rate limits as Zoho enforces them; all numbers come from the preset (``sandbox/limits.py``).

- Books: ``books_per_window`` requests per ``books_window_s`` per organization (rolling window, which is
  never more lenient than a fixed one), plus the org's plan ``daily_limit`` per UTC day. Every Books
  response for a known org carries ``X-Rate-Limit-Limit/-Remaining/-Reset`` about the daily quota. At most
  the plan's number of calls may be in flight per org at once (code 1070); an allowed Books call must be
  closed with ``finish_books(org_id)`` when its response is done.
- Projects: ``projects_per_window`` requests per ``projects_window_s`` per user (zuid), rolling; the next
  request is refused and locks the user out for ``projects_lockout_s`` (every request refused until then).

Refused requests do not count toward any window. Time comes from the world's clock, so tests move it
instead of sleeping.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from sandbox import envelopes, limits
from sandbox.limits import RateLimitPreset
from sandbox.world import Organization

DAY_S = 86400


@dataclass
class Verdict:
    allowed: bool
    body: dict[str, Any] | None = None
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


@dataclass
class _OrgUsage:
    recent: deque[float] = field(default_factory=deque)
    day: int = -1
    used_today: int = 0
    in_flight: int = 0


@dataclass
class _UserUsage:
    recent: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0


class RateLimiter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._orgs: dict[str, _OrgUsage] = {}
        self._users: dict[str, _UserUsage] = {}

    def clear(self) -> None:
        with self._lock:
            self._orgs.clear()
            self._users.clear()

    def check_books(self, org: Organization, preset: RateLimitPreset, now: float) -> Verdict:
        with self._lock:
            usage = self._orgs.setdefault(org.organization_id, _OrgUsage())
            day = int((now + limits.BOOKS_DAILY_RESET_UTC_OFFSET_S) // DAY_S)
            if usage.day != day:
                usage.day, usage.used_today = day, 0
            _drop_older(usage.recent, now - preset.books_window_s)
            verdict = Verdict(allowed=True)
            if preset.enabled and preset.books_daily_cap and usage.used_today >= org.daily_limit:
                verdict = Verdict(allowed=False, body=envelopes.BOOKS_THROTTLED_DAY)
            elif preset.enabled and len(usage.recent) >= preset.books_per_window:
                verdict = Verdict(allowed=False, body=envelopes.BOOKS_THROTTLED_MINUTE)
            elif (
                preset.enabled
                and preset.books_concurrency
                and usage.in_flight >= limits.books_concurrency(org.plan_name)
            ):
                verdict = Verdict(allowed=False, body=envelopes.BOOKS_THROTTLED_CONCURRENCY)
            else:
                usage.recent.append(now)
                usage.used_today += 1
                usage.in_flight += 1
            reset_in = (day + 1) * DAY_S - limits.BOOKS_DAILY_RESET_UTC_OFFSET_S - now
            verdict.headers = [
                (b"x-rate-limit-limit", str(org.daily_limit).encode()),
                (b"x-rate-limit-remaining", str(max(0, org.daily_limit - usage.used_today)).encode()),
                (b"x-rate-limit-reset", str(max(0, int(reset_in))).encode()),
            ]
            return verdict

    def finish_books(self, organization_id: str) -> None:
        with self._lock:
            usage = self._orgs.get(organization_id)
            if usage is not None and usage.in_flight > 0:
                usage.in_flight -= 1

    def check_projects(self, zuid: str, preset: RateLimitPreset, now: float) -> Verdict:
        if not preset.enabled:
            return Verdict(allowed=True)
        with self._lock:
            usage = self._users.setdefault(zuid, _UserUsage())
            if usage.locked_until > now:
                return Verdict(allowed=False, body=envelopes.PROJECTS_THROTTLED)
            _drop_older(usage.recent, now - preset.projects_window_s)
            if len(usage.recent) >= preset.projects_per_window:
                # Zoho: more than 100 calls in 2 minutes restricts the user for the next 30 minutes.
                usage.locked_until = now + preset.projects_lockout_s
                usage.recent.clear()
                return Verdict(allowed=False, body=envelopes.PROJECTS_THROTTLED)
            usage.recent.append(now)
            return Verdict(allowed=True)

    def locked_out_until(self, zuid: str) -> float:
        with self._lock:
            usage = self._users.get(zuid)
            return usage.locked_until if usage else 0.0


def _drop_older(recent: deque[float], horizon: float) -> None:
    while recent and recent[0] <= horizon:
        recent.popleft()
