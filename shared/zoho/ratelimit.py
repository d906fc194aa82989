"""Global rate limiting per Zoho account, shared by every worker process.

A sliding-window log (not a fixed window, which lets 2x the limit through around a window edge; the
Projects limit is a rolling 2 minutes and a breach locks the user out for 30 minutes). Every request takes a
*permit* before it is sent and *settles* it when the response arrives: the slot is held for a full window from
the settle time, because Zoho counted the request somewhere between the two — so network delay can never make
Zoho see more than ``amount`` requests in any window.

Backends: ``RedisLimiterBackend`` (one Lua script, Redis' clock) for production, ``MemoryLimiterBackend`` for
embedded mode and unit tests. Weak spot: a permit is taken even if the request then fails before reaching
Zoho — that only makes the limiter more conservative.

    limiter = RateLimiter(MemoryLimiterBackend(), [Limit(100, 60.0)], max_inline_wait=5.0)
    permit = limiter.acquire("books:org:123")   # sleeps up to 5 s, else raises RateLimited(retry_at)
    ...send the request...
    limiter.settle(permit)
"""

from __future__ import annotations

import email.utils
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol

from shared.zoho.errors import DailyQuotaExhausted, RateLimited


@dataclass(frozen=True)
class Limit:
    amount: int
    window_seconds: float
    daily: bool = False  # running out of this one is the daily quota: DailyQuotaExhausted
    name: str = ""

    @property
    def window_ms(self) -> int:
        return int(self.window_seconds * 1000)


@dataclass(frozen=True)
class Decision:
    granted: bool
    free_at: float  # epoch seconds on the backend's clock
    now: float
    limit: Limit | None = None  # which limit refused (None: a penalty window)
    daily: bool = False


@dataclass(frozen=True)
class Permit:
    key: str
    id: str
    limits: tuple[Limit, ...]


class LimiterBackend(Protocol):
    def try_acquire(self, key: str, permit_id: str, limits: Sequence[Limit]) -> Decision: ...
    def settle(self, key: str, permit_id: str, limits: Sequence[Limit]) -> None: ...
    def penalize(self, key: str, until: float, *, daily: bool = False) -> None: ...


class RateLimiter:
    """Takes permits for keys under a fixed set of limits; waits inline only for short waits.

    ``wait_out_penalties=False`` (the worker's sync slices): a key Zoho penalized with a 429 is refused at once,
    however short the penalty, so a throttled tenant hands its worker back instead of sleeping in it; the pacing of
    our own windows is still waited out inline (that wait is the call's cost at the quota's rate).
    """

    def __init__(
        self,
        backend: LimiterBackend,
        limits: Sequence[Limit],
        *,
        max_inline_wait: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        wait_out_penalties: bool = True,
    ) -> None:
        self.backend = backend
        self.limits = tuple(limits)
        self.max_inline_wait = max_inline_wait
        self.wait_out_penalties = wait_out_penalties
        self._sleep = sleep
        self._clock = clock

    def acquire(self, key: str) -> Permit:
        permit = Permit(key, uuid.uuid4().hex, self.limits)
        while True:
            decision = self.backend.try_acquire(key, permit.id, self.limits)
            if decision.granted:
                return permit
            wait = max(0.0, decision.free_at - decision.now)
            penalty = decision.limit is None
            if wait > self.max_inline_wait or (penalty and not self.wait_out_penalties):
                raise self._refusal(key, decision, self._clock() + wait)
            self._sleep(wait + 0.001)

    def settle(self, permit: Permit) -> None:
        self.backend.settle(permit.key, permit.id, permit.limits)

    def penalize(self, key: str, until: float, *, daily: bool = False) -> None:
        """Zoho said 429 (or the daily quota is gone): nobody uses ``key`` until ``until`` (epoch seconds)."""
        self.backend.penalize(key, until, daily=daily)

    @staticmethod
    def _refusal(key: str, decision: Decision, retry_at: float) -> RateLimited:
        label = decision.limit.name if decision.limit and decision.limit.name else key
        if decision.daily or (decision.limit and decision.limit.daily):
            return DailyQuotaExhausted(f"daily API quota used up for {label}", retry_at=retry_at)
        if decision.limit is None:
            return RateLimited(f"Zoho asked to back off ({label})", retry_at=retry_at)
        return RateLimited(
            f"{decision.limit.amount} requests per {decision.limit.window_seconds:g}s used up for {label}",
            retry_at=retry_at,
        )


class MemoryLimiterBackend:
    """Process-local backend (embedded mode); share one instance per process."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._logs: dict[tuple[str, Limit], deque[list[Any]]] = {}
        self._entries: dict[tuple[str, Limit, str], list[Any]] = {}
        self._penalties: dict[str, tuple[float, bool]] = {}

    def try_acquire(self, key: str, permit_id: str, limits: Sequence[Limit]) -> Decision:
        with self._lock:
            now = self._clock()
            until, daily = self._penalties.get(key, (0.0, False))
            if until > now:
                return Decision(False, until, now, None, daily)
            worst: tuple[float, Limit] | None = None
            for limit in limits:
                log = self._purged(key, limit, now)
                if len(log) >= limit.amount:
                    # settled entries may sit out of order; the smallest stamps leave first
                    stamps = sorted(entry[0] for entry in log)
                    free_at = stamps[len(log) - limit.amount] + limit.window_seconds
                    if worst is None or free_at > worst[0]:
                        worst = (free_at, limit)
            if worst:
                return Decision(False, worst[0], now, worst[1])
            for limit in limits:
                entry = [now, permit_id]
                self._logs[(key, limit)].append(entry)
                self._entries[(key, limit, permit_id)] = entry
            return Decision(True, now, now)

    def settle(self, key: str, permit_id: str, limits: Sequence[Limit]) -> None:
        with self._lock:
            now = self._clock()
            for limit in limits:
                entry = self._entries.pop((key, limit, permit_id), None)
                if entry is not None:
                    entry[0] = now

    def penalize(self, key: str, until: float, *, daily: bool = False) -> None:
        with self._lock:
            self._penalties[key] = (until, daily)

    def _purged(self, key: str, limit: Limit, now: float) -> deque[list[Any]]:
        log = self._logs.setdefault((key, limit), deque())
        horizon = now - limit.window_seconds
        # entries are appended in time order; a settled one only moves later, so purging stops early at worst
        while log and log[0][0] <= horizon:
            entry = log.popleft()
            self._entries.pop((key, limit, entry[1]), None)
        return log


def retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds a 429 asks to wait by ``Retry-After`` (delay seconds or an HTTP date, RFC 9110 §10.2.3), or None.

    Neither Books nor Projects documents the header (reference Books §6, Projects §5); Zoho's front ends may
    still send it, and when they do it is the best word on when to come back. Books' ``X-Rate-Limit-Reset`` is
    not read here: it counts down to the *daily* quota's reset, and using it for a per-minute 429 would park
    the organization for hours (it is honoured where the daily quota is meant, ``books_api._throttled``).
    """
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None  # garbage: fall back to the API's own rule
    return max(0.0, when.timestamp() - now)


def _script(name: str) -> str:
    return resources.files("shared.zoho").joinpath(name).read_text()


class RedisLimiterBackend:
    """Shared by all processes: one Lua script per decision, Redis' TIME as the clock."""

    def __init__(self, redis: Any, prefix: str = "bpsync:zoho:limit") -> None:
        self._redis = redis
        self._prefix = prefix
        self._acquire = redis.register_script(_script("ratelimit_acquire.lua"))
        self._settle = redis.register_script(_script("ratelimit_settle.lua"))

    def _keys(self, key: str, limits: Sequence[Limit]) -> list[str]:
        return [f"{self._prefix}:{key}:{limit.amount}/{limit.window_ms}" for limit in limits]

    def try_acquire(self, key: str, permit_id: str, limits: Sequence[Limit]) -> Decision:
        args: list[Any] = [permit_id, len(limits)]
        for limit in limits:
            args += [limit.amount, limit.window_ms]
        granted, free_at, index, daily, now = self._acquire(
            keys=[f"{self._prefix}:{key}:penalty", *self._keys(key, limits)], args=args
        )
        refused = limits[index - 1] if index > 0 else None
        return Decision(bool(granted), free_at / 1000, now / 1000, refused, bool(daily))

    def settle(self, key: str, permit_id: str, limits: Sequence[Limit]) -> None:
        self._settle(keys=self._keys(key, limits), args=[permit_id, *(limit.window_ms for limit in limits)])

    def penalize(self, key: str, until: float, *, daily: bool = False) -> None:
        ttl_ms = int((until - time.time()) * 1000)
        if ttl_ms > 0:
            self._redis.set(f"{self._prefix}:{key}:penalty", f"{int(until * 1000)}:{int(daily)}", px=ttl_ms)
