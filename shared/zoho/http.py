"""The one HTTP layer under both clients: auth header, rate-limit permits, retries, errors, metrics.

Rules (issues 5 and 13): timeouts always set; GETs are retried on the spot with exponential backoff + full
jitter on transient faults — connection errors, a connection dropped mid-body, 5xx, and a body that is not
JSON (malformed or cut short); POST/PUT/DELETE are never retried blindly (Zoho writes have no idempotency key,
the caller looks the record up first — design §7) and surface as a ``RetryableError``; a 401 invalidates the
token, refreshes once and retries once; a 429 closes the limiter's key until Zoho's penalty is over (its
``Retry-After`` when sent) and, when that is a short wait, is waited out here for any method (Zoho did not
run a refused request). Nothing here logs headers, tokens or form bodies.

Why a loop of our own and not urllib3's ``Retry`` or tenacity (issue 16): ``Retry`` works inside the
adapter, below the limiter — its retries would take no permit and reach the metrics as one exchange — and it
never sees a body that fails to parse. tenacity could drive the backoff, but the loop has three different
outcomes (refresh once on 401, wait Zoho's delay on 429, jittered backoff on a transient fault) that would
become callbacks around a ~30-line loop; it is not worth a dependency.
"""

from __future__ import annotations

import http.client
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
import requests
import urllib3.exceptions

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
# What a broken exchange raises: requests' own errors (ChunkedEncodingError and ContentDecodingError for a body
# cut off or garbled in transit), and the urllib3 / http.client ones beneath them (IncompleteRead), should one
# get past requests' wrapping.
TRANSPORT_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, http.client.HTTPException)
WRITE_MAY_HAVE_LANDED = "the write may have reached Zoho: look the record up before creating it again"
# A body with a run of 19 digits may hold an integer past 64 bits, which orjson would read as a float (_parse); found
# as a run of zeros once every digit is one (a regex search for it took longer than the parse it guards).
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGITS = b"0" * 19

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
        max_inline_wait: float = 5.0,
        wait_out_throttling: bool = True,
    ) -> None:
        self.api = api
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.limiter = limiter
        self.limit_key = limit_key
        self.permits_taken = 0  # under limit_key, for rekey()
        self.session = session or requests.Session()
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.metrics = metrics
        self._translate = translate_error
        self._clock = clock
        self.max_inline_wait = max_inline_wait  # a 429 asking for longer is raised (the worker reschedules)
        # False (the worker's sync slices and pulls): every 429 is raised, so a throttled tenant never sleeps in a
        # worker that another tenant's work is queued for; the task sends itself again for when Zoho said
        self.wait_out_throttling = wait_out_throttling

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
        attempt = 0  # transient faults retried so far
        waits = 0  # short 429 waits so far
        refreshed = False
        while True:
            token = self.tokens.access_token()
            try:
                resp = self._send(method, path, endpoint, token, params=params, data=data, json=json)
            except TRANSPORT_ERRORS as exc:
                if safe and attempt + 1 < self.retry.attempts:
                    attempt = self._pause(attempt, endpoint, type(exc).__name__)
                    continue
                raise self._connection_failed(exc, endpoint, safe, attempt + 1) from None
            if resp.status_code == 401 and not refreshed:
                # expired or revoked token: refresh once (under the shared lock) and retry once
                self.tokens.invalidate(token)
                refreshed = True
                continue
            if resp.status_code >= 500 and safe and attempt + 1 < self.retry.attempts:
                attempt = self._pause(attempt, endpoint, f"HTTP {resp.status_code}")
                continue
            try:
                return self._result(resp, endpoint, safe, attempt + 1)
            except MalformedResponse:
                if not (safe and attempt + 1 < self.retry.attempts):
                    raise
                attempt = self._pause(attempt, endpoint, "malformed body")
            except RateLimited as exc:
                if not self._wait_inline(exc, endpoint, waits):
                    raise
                waits += 1

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
            if permit is not None and self.limiter is not None:
                self.limiter.settle(permit)
            log.debug("%s %s -> %s in %.0f ms", self.api, endpoint, status, elapsed * 1000)
            if self.metrics is not None:
                self.metrics(self.api, endpoint, status, elapsed)

    def rekey(self, limit_key: str) -> None:
        """Count this client's calls under ``limit_key`` from now on, and the calls it already made too.

        Connecting learns whose budget the calls spend (Projects' login_id) only from the first answer; without
        charging those calls to the user's key, a sync starting right after would overrun Zoho's window by them.
        """
        if self.limiter is None or limit_key == self.limit_key:
            self.limit_key = limit_key
            return
        for _ in range(self.permits_taken):
            try:
                self.limiter.settle(self.limiter.acquire(limit_key))
            except RateLimited:
                break  # the user's window is already full: the calls made are spent anyway
        self.limit_key, self.permits_taken = limit_key, 0

    def _permit(self, endpoint: str) -> Permit | None:
        if self.limiter is None:
            return None
        self.permits_taken += 1
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

    def _wait_inline(self, error: RateLimited, endpoint: str, waits: int) -> bool:
        """Sleep out a short 429 (Zoho's ``Retry-After``, or a short fallback) instead of raising it."""
        if not self.wait_out_throttling or isinstance(error, DailyQuotaExhausted) or waits + 1 >= self.retry.attempts:
            return False
        wait = max(0.0, error.retry_at - self._clock())
        if wait > self.max_inline_wait:
            return False
        log.info("%s %s throttled; waiting %.2fs as Zoho asked", self.api, endpoint, wait)
        self.retry.sleep(wait)
        return True

    def _connection_failed(self, exc: Exception, endpoint: str, safe: bool, tries: int) -> ConnectionFailed:
        hint = None if safe else WRITE_MAY_HAVE_LANDED
        return ConnectionFailed(
            f"no response from Zoho ({type(exc).__name__}{_tries(tries)})", api=self.api, endpoint=endpoint, hint=hint
        )

    def _result(self, resp: requests.Response, endpoint: str, safe: bool = True, tries: int = 1) -> ZohoResponse:
        self._note_quota(resp.headers)
        body = self._parse(resp, endpoint, safe, tries)
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

    def _parse(self, resp: requests.Response, endpoint: str, safe: bool, tries: int) -> Any:
        if resp.status_code == 204 or not resp.content.strip():
            return None  # Projects: 204 with an empty body = no (more) records
        # orjson: half the time of the standard library on a page of tasks (issue 18). It reads an integer past 64
        # bits as a float (an id would lose digits) and refuses what the standard library takes (lone surrogate
        # escapes, other encodings): a body with a run of 19 digits anywhere, or one orjson refuses, goes to
        # requests' own decoding before it counts as malformed.
        if resp.content.translate(_DIGITS_AS_ZERO).find(_LONG_DIGITS) < 0:
            try:
                return orjson.loads(resp.content)
            except orjson.JSONDecodeError:
                pass
        try:
            return resp.json()
        except ValueError:
            if resp.status_code >= 400:
                return None  # an HTML error page from a proxy: the status still says what happened
            raise MalformedResponse(
                f"response body is not valid JSON ({len(resp.content)} bytes{_tries(tries)})",
                api=self.api,
                endpoint=endpoint,
                status=resp.status_code,
                hint=None if safe else WRITE_MAY_HAVE_LANDED,
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


def _tries(tries: int) -> str:
    return f"; {tries} tries" if tries > 1 else ""
