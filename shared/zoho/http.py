"""The one HTTP layer under both clients: auth header, rate-limit permits, retries, errors, metrics.

Rules (issue 5): timeouts always set; GETs are retried with exponential backoff + full jitter on connection
errors and 5xx; POST/PUT/DELETE are never retried blindly (Zoho writes have no idempotency key, the caller
looks the record up first — design §7) and surface as a ``RetryableError``; a 401 invalidates the token,
refreshes once and retries once; a 429 closes the limiter's key until Zoho's penalty is over. Nothing here
logs headers, tokens or form bodies.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests

from shared.zoho.errors import (
    AuthError,
    ConnectionFailed,
    DailyQuotaExhausted,
    MalformedResponse,
    RateLimited,
    ServerError,
    ZohoError,
)
from shared.zoho.oauth import TokenProvider
from shared.zoho.ratelimit import Permit, RateLimiter

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD"})

Metrics = Callable[[str, str, int | None, float], None]
"""Called once per HTTP exchange with (api, endpoint, status or None on a connection error, seconds)."""


class ErrorTranslator(Protocol):
    def __call__(self, status: int, body: Any, headers: Mapping[str, str], endpoint: str) -> ZohoError: ...


@dataclass
class RetryPolicy:
    attempts: int = 3  # total tries of a safe request
    base_delay: float = 0.5
    max_delay: float = 8.0
    sleep: Callable[[float], None] = time.sleep

    def backoff(self, attempt: int) -> float:
        """Full jitter (AWS architecture blog): spreads retries of many workers hitting the same outage."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


@dataclass
class ZohoResponse:
    status: int
    body: Any  # parsed JSON, or None for 204 / an empty body
    headers: Mapping[str, str] = field(default_factory=dict)


class CallCounter:
    """A ``Metrics`` hook that counts calls per (api, endpoint, status) — enough for status pages and tests."""

    def __init__(self) -> None:
        self.calls: dict[tuple[str, str, int | None], int] = {}
        self.seconds = 0.0

    def __call__(self, api: str, endpoint: str, status: int | None, elapsed: float) -> None:
        self.calls[(api, endpoint, status)] = self.calls.get((api, endpoint, status), 0) + 1
        self.seconds += elapsed

    def total(self, api: str | None = None) -> int:
        return sum(n for (a, _, _), n in self.calls.items() if api is None or a == api)


class ZohoHttp:
    """One API (Projects or Books) for one credential and one limiter key."""

    def __init__(
        self,
        *,
        api: str,
        base_url: str,
        tokens: TokenProvider,
        translate_error: ErrorTranslator,
        limiter: RateLimiter | None = None,
        limit_key: str = "",
        session: requests.Session | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api = api
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.limiter = limiter
        self.limit_key = limit_key
        self.session = session or requests.Session()
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.metrics = metrics
        self._translate = translate_error
        self._clock = clock

    def request(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> ZohoResponse:
        """Send one logical call; ``endpoint`` is the path template used in errors, logs and metrics."""
        method = method.upper()
        endpoint = f"{method} {endpoint}"
        safe = method in SAFE_METHODS
        attempt = 0
        refreshed = False
        while True:
            token = self.tokens.access_token()
            try:
                resp = self._send(method, path, endpoint, token, params=params, data=data, json=json)
            except requests.RequestException as exc:
                if safe and attempt + 1 < self.retry.attempts:
                    attempt = self._pause(attempt, endpoint, type(exc).__name__)
                    continue
                raise self._connection_failed(exc, endpoint, safe) from None
            if resp.status_code == 401 and not refreshed:
                # expired or revoked token: refresh once (under the shared lock) and retry once
                self.tokens.invalidate(token)
                refreshed = True
                continue
            if resp.status_code >= 500 and safe and attempt + 1 < self.retry.attempts:
                attempt = self._pause(attempt, endpoint, f"HTTP {resp.status_code}")
                continue
            return self._result(resp, endpoint)

    def _send(self, method: str, path: str, endpoint: str, token: str, **kwargs: Any) -> requests.Response:
        permit = self._permit(endpoint)
        started = time.perf_counter()
        status: int | None = None
        try:
            resp = self.session.request(
                method,
                self.base_url + path,
                headers={"Authorization": f"Zoho-oauthtoken {token}", "Accept": "application/json"},
                timeout=self.timeout,
                **kwargs,
            )
            status = resp.status_code
            return resp
        finally:
            elapsed = time.perf_counter() - started
            if permit is not None:
                self.limiter.settle(permit)  # type: ignore[union-attr]
            log.debug("%s %s -> %s in %.0f ms", self.api, endpoint, status, elapsed * 1000)
            if self.metrics is not None:
                self.metrics(self.api, endpoint, status, elapsed)

    def _permit(self, endpoint: str) -> Permit | None:
        if self.limiter is None:
            return None
        try:
            return self.limiter.acquire(self.limit_key)
        except RateLimited as exc:
            exc.api, exc.endpoint = self.api, endpoint
            raise

    def _pause(self, attempt: int, endpoint: str, why: str) -> int:
        delay = self.retry.backoff(attempt)
        log.info("%s %s failed (%s); retry %d in %.2fs", self.api, endpoint, why, attempt + 1, delay)
        self.retry.sleep(delay)
        return attempt + 1

    def _connection_failed(self, exc: Exception, endpoint: str, safe: bool) -> ConnectionFailed:
        hint = None if safe else "the write may have reached Zoho: look the record up before creating it again"
        return ConnectionFailed(
            f"no response from Zoho ({type(exc).__name__})", api=self.api, endpoint=endpoint, hint=hint
        )

    def _result(self, resp: requests.Response, endpoint: str) -> ZohoResponse:
        self._note_quota(resp.headers)
        body = self._parse(resp, endpoint)
        if 200 <= resp.status_code < 300:
            return ZohoResponse(resp.status_code, body, resp.headers)
        error = self._translate(resp.status_code, body, resp.headers, endpoint)
        error.api = error.api or self.api
        if resp.status_code == 401:
            error = AuthError(error.message, api=self.api, endpoint=endpoint, status=401, code=error.code)
        if resp.status_code >= 500 and not isinstance(error, ServerError):
            error = ServerError(
                error.message, api=self.api, endpoint=endpoint, status=resp.status_code, code=error.code
            )
        if isinstance(error, RateLimited) and self.limiter is not None:
            self.limiter.penalize(self.limit_key, error.retry_at, daily=isinstance(error, DailyQuotaExhausted))
        raise error

    def _parse(self, resp: requests.Response, endpoint: str) -> Any:
        if resp.status_code == 204 or not resp.content.strip():
            return None  # Projects: 204 with an empty body = no (more) records
        try:
            return resp.json()
        except ValueError:
            if resp.status_code >= 400:
                return None  # an HTML error page from a proxy: the status still says what happened
            raise MalformedResponse(
                f"response body is not valid JSON ({len(resp.content)} bytes)",
                api=self.api,
                endpoint=endpoint,
                status=resp.status_code,
            ) from None

    def _note_quota(self, headers: Mapping[str, str]) -> None:
        """Books' X-Rate-Limit-* headers: when the daily quota hits 0, close the key until the reset."""
        remaining = headers.get("X-Rate-Limit-Remaining")
        if remaining is None or self.limiter is None:
            return
        try:
            left = int(remaining)
            reset = float(headers.get("X-Rate-Limit-Reset", "0"))
        except ValueError:
            return
        if left <= 0:
            self.limiter.penalize(self.limit_key, self._clock() + max(reset, 1.0), daily=True)
