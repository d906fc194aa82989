"""Build clients from settings + an integration's credentials: the only place that wires the pieces.

``redis``: a ``redis.Redis`` shared by all workers for the token cache and the global limiter; ``None`` is
embedded mode, where one in-process cache and limiter serve every client of the process (so the limits are
still global to the process). Settings are read with ``getattr`` so a test can pass a plain namespace.

``yield_when_throttled``: for work that shares workers with other tenants (the sync slices, the transactions pull):
a 429 is raised at once, however short Zoho's wait, so the task can hand its worker back; one-shot commands keep
sleeping out a short 429 (at most ``BPSYNC_MAX_INLINE_WAIT_SECONDS``).
"""

from __future__ import annotations

import os
import weakref
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.sessions import merge_setting
from requests.utils import get_environ_proxies

from shared import crypto
from shared.zoho.books import BooksClient
from shared.zoho.books_api import books_error
from shared.zoho.datacenters import endpoints_for
from shared.zoho.http import Metrics, RetryPolicy, ZohoHttp
from shared.zoho.local_tokens import LocalFirstTokenCache
from shared.zoho.oauth import CachedToken, MemoryTokenCache, RedisTokenCache, TokenCache, TokenProvider
from shared.zoho.projects import ProjectsClient, user_limit_key
from shared.zoho.projects_api import CLASSIC, projects_error
from shared.zoho.ratelimit import Limit, LimiterBackend, MemoryLimiterBackend, RateLimiter, RedisLimiterBackend

SECONDS_PER_DAY = 86400.0
# Requests keeps this many connections per host; a worker runs one call at a time, the benchmark more.
POOL_SIZE = 16

_embedded_tokens = MemoryTokenCache()
_embedded_limits = MemoryLimiterBackend()
# The tokens this process holds, per Redis client and key prefix (LocalFirstTokenCache): the clients of a slice are
# built anew each time, the tokens they fetched stay. Weak keys: a Redis client a test dropped takes its tokens along.
_local_tokens: weakref.WeakKeyDictionary[Any, dict[str, dict[str, CachedToken]]] = weakref.WeakKeyDictionary()


def reset_embedded_state() -> None:
    """Forget the in-process tokens and limiter windows (tests; a demo that regenerates its sandbox)."""
    global _embedded_tokens, _embedded_limits
    _embedded_tokens = MemoryTokenCache()
    _embedded_limits = MemoryLimiterBackend()
    _local_tokens.clear()


@dataclass
class ZohoCredentials:
    client_id: str
    client_secret: str
    refresh_token: str
    data_center: str = "US"
    # The Zoho user (ZUID) the refresh token belongs to: Projects' ``login_id``, learned when the credentials are
    # checked (connect, update-credentials). None when not known (credentials stored before it was recorded).
    user_id: str | None = None

    def __repr__(self) -> str:  # never print secrets
        return f"ZohoCredentials(client_id={self.client_id[:6]}…, data_center={self.data_center!r})"

    def secrets(self) -> dict[str, str]:
        """What an integration stores, sealed (the data center has a column of its own).

        The user id is kept with the token it was learned from, so new credentials can never inherit a
        previous user's id."""
        stored = {"client_id": self.client_id, "client_secret": self.client_secret, "refresh_token": self.refresh_token}
        if self.user_id:
            stored["user_id"] = self.user_id
        return stored


class EnvironmentOnceSession(requests.Session):
    """A session that reads the proxy and CA-bundle environment once per host instead of on every request.

    requests scans the whole environment two or three times a request for its proxy settings (``get_environ_proxies``:
    0.2-0.6 ms with the ~140 variables of a worker, more than a Zoho listing call's own client CPU; issue 18). A
    process's environment does not change while it runs, so the answer for a host is kept.
    """

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple[str, str, str | None], dict[str, str]] = {}
        self._ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")

    def merge_environment_settings(
        self,
        url: str | bytes | None,
        proxies: MutableMapping[str, str] | None,
        stream: bool | None,
        verify: Any,
        cert: Any,
    ) -> Any:
        if not self.trust_env or not isinstance(url, str):
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        no_proxy = proxies.get("no_proxy") if proxies is not None else None
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, no_proxy)
        if key not in self._environment:
            self._environment[key] = get_environ_proxies(url, no_proxy=no_proxy)
        if proxies is not None:
            for scheme, proxy in self._environment[key].items():
                proxies.setdefault(scheme, proxy)
        if verify is True or verify is None:
            verify = self._ca_bundle or verify
        return {
            "proxies": _merged(proxies, self.proxies),
            "stream": _merged(stream, self.stream),
            "verify": _merged(verify, self.verify),
            "cert": _merged(cert, self.cert),
        }


def _merged(request_setting: Any, session_setting: Any) -> Any:
    """requests' own merge of a request's and the session's setting (the request's wins, dicts key by key)."""
    return merge_setting(request_setting, session_setting)  # type: ignore[no-untyped-call]  # untyped in its stubs


def new_session() -> requests.Session:
    session = EnvironmentOnceSession()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _prefix(settings: Any) -> str:
    # deployments (or test runs) sharing one Redis keep their tokens and windows apart with this
    return str(getattr(settings, "redis_key_prefix", "bpsync"))


def _token_cache(settings: Any, redis: Any) -> TokenCache:
    if redis is None:
        return _embedded_tokens
    shared = redis_token_cache(settings, redis)
    local = _local_tokens.setdefault(redis, {}).setdefault(_token_prefix(settings), {})
    return LocalFirstTokenCache(shared, local)


def redis_token_cache(settings: Any, redis: Any) -> RedisTokenCache:
    """The access-token cache every process shares (``bpsync rotate-key`` re-encrypts it)."""
    # access tokens in Redis are sealed with the credentials' key (BPSYNC_SECRET_KEY), like the credentials
    return RedisTokenCache(redis, _token_prefix(settings), cipher=crypto.cipher(settings))


def _token_prefix(settings: Any) -> str:
    return f"{_prefix(settings)}:zoho:token"


def _limiter_backend(settings: Any, redis: Any) -> LimiterBackend:
    return RedisLimiterBackend(redis, f"{_prefix(settings)}:zoho:limit") if redis is not None else _embedded_limits


def _retry(settings: Any) -> RetryPolicy:
    return RetryPolicy(
        attempts=int(getattr(settings, "http_retry_attempts", 3)),
        base_delay=float(getattr(settings, "http_retry_base_seconds", 0.5)),
    )


def build_accounts(
    settings: Any, creds: ZohoCredentials, *, redis: Any = None, session: requests.Session | None = None
) -> TokenProvider:
    """Token provider for ``creds`` (also does the authorization-code exchange when connecting)."""
    endpoints = endpoints_for(settings, creds.data_center)
    return TokenProvider(
        endpoints.accounts,
        creds.client_id,
        creds.client_secret,
        creds.refresh_token,
        cache=_token_cache(settings, redis),
        session=session or new_session(),
        timeout=float(getattr(settings, "http_timeout_seconds", 30.0)),
    )


def build_projects_client(
    settings: Any,
    creds: ZohoCredentials,
    portal_id: str,
    *,
    redis: Any = None,
    session: requests.Session | None = None,
    metrics: Metrics | None = None,
    yield_when_throttled: bool = False,
) -> ProjectsClient:
    session = session or new_session()
    tokens = build_accounts(settings, creds, redis=redis, session=session)
    # Zoho counts Projects calls per user: every portal, and every integration, of one user shares the budget.
    limits = [
        Limit(
            int(getattr(settings, "projects_requests_per_window", 100)),
            float(getattr(settings, "projects_window_seconds", 120.0)),
            name="Zoho Projects user",
        )
    ]
    http = ZohoHttp(
        api="projects",
        base_url=endpoints_for(settings, creds.data_center).projects_api,
        tokens=tokens,
        translate_error=projects_error,
        limiter=_limiter(settings, redis, limits, yield_when_throttled),
        limit_key=projects_limit_key(creds, tokens),
        session=session,
        timeout=float(getattr(settings, "http_timeout_seconds", 30.0)),
        retry=_retry(settings),
        metrics=metrics,
        max_inline_wait=_max_inline_wait(settings),
        wait_out_throttling=not yield_when_throttled,
    )
    return ProjectsClient(http, portal_id, api=CLASSIC)


def projects_limit_key(creds: ZohoCredentials, tokens: TokenProvider) -> str:
    """The Projects limiter key: the Zoho user, whose budget all their refresh tokens (and integrations) share.

    Without a recorded user id the key falls back to the refresh token — right for one integration, but two
    integrations one admin connected with two tokens then get twice the budget until their credentials are
    checked again (``bpsync update-credentials`` records the user)."""
    if creds.user_id:
        return user_limit_key(creds.user_id)
    return f"projects:{tokens.key}"


def build_books_client(
    settings: Any,
    creds: ZohoCredentials,
    organization_id: str,
    *,
    redis: Any = None,
    session: requests.Session | None = None,
    metrics: Metrics | None = None,
    yield_when_throttled: bool = False,
) -> BooksClient:
    session = session or new_session()
    tokens = build_accounts(settings, creds, redis=redis, session=session)
    limits = [
        Limit(
            int(getattr(settings, "books_requests_per_minute", 100)),
            float(getattr(settings, "books_window_seconds", 60.0)),
            name=f"Zoho Books organization {organization_id}",
        ),
        Limit(
            int(getattr(settings, "books_daily_limit", 5000)),
            SECONDS_PER_DAY,
            daily=True,
            name=f"Zoho Books organization {organization_id} (daily)",
        ),
    ]
    http = ZohoHttp(
        api="books",
        base_url=endpoints_for(settings, creds.data_center).books_api,
        tokens=tokens,
        translate_error=books_error,
        limiter=_limiter(settings, redis, limits, yield_when_throttled),
        limit_key=f"books:{organization_id}",  # Books counts per organization, whoever calls
        session=session,
        timeout=float(getattr(settings, "http_timeout_seconds", 30.0)),
        retry=_retry(settings),
        metrics=metrics,
        max_inline_wait=_max_inline_wait(settings),
        wait_out_throttling=not yield_when_throttled,
    )
    return BooksClient(http, organization_id)


def _limiter(settings: Any, redis: Any, limits: list[Limit], yield_when_throttled: bool = False) -> RateLimiter | None:
    if not getattr(settings, "rate_limits_enabled", True):
        return None
    return RateLimiter(
        _limiter_backend(settings, redis),
        limits,
        max_inline_wait=_max_inline_wait(settings),
        wait_out_penalties=not yield_when_throttled,
    )


def _max_inline_wait(settings: Any) -> float:
    # the longest wait (our limiter's, or a 429's) slept through in the call; longer ones reschedule the work
    return float(getattr(settings, "max_inline_wait_seconds", 5.0))
