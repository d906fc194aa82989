"""OAuth against Zoho Accounts: one access token per credential, shared by every worker, refreshed once at a time.

Zoho caps refreshes per refresh token (reference: 10 access tokens per refresh token in 10 minutes), so N
workers that all find the cache empty must not refresh N times: the refresh runs under a per-credential lock
and re-reads the cache after taking it. The access token is cached slightly shorter than ``expires_in`` so a
token is never used in its last seconds. Tokens and secrets are never logged; log lines name the credential
by a short hash.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import requests
from cryptography.fernet import InvalidToken

from shared.zoho.errors import AuthError, ConnectionFailed, MalformedResponse, RateLimited, ServerError

log = logging.getLogger(__name__)

TOKEN_PATH = "/oauth/v2/token"
REVOKE_PATH = "/oauth/v2/token/revoke"
GRANT_CODE = "grant code"  # a Self Client code pasted into `bpsync connect --grant-code`
AUTHORIZATION_CODE = "authorization code"  # the code Zoho's redirect brings to the web app's Connect flow
# Zoho answers "too many refreshes" with an error body, not a 429; wait this long before the next try (inferred).
REFRESH_THROTTLE_SECONDS = 60.0
LOCK_TIMEOUT_SECONDS = 30.0


def credential_key(refresh_token: str) -> str:
    """Stable, non-reversible name of a credential: cache keys, limiter keys and log lines use it."""
    return hashlib.sha256(refresh_token.encode()).hexdigest()[:32]


def cache_seconds(expires_in: float) -> float:
    """How long to trust a fresh token: a little less than Zoho says (10%, at most 5 minutes)."""
    return max(0.0, expires_in - min(300.0, expires_in * 0.1))


@dataclass(frozen=True)
class CachedToken:
    access_token: str
    expires_at: float
    api_domain: str = ""


class TokenCache(Protocol):
    def get(self, key: str) -> CachedToken | None: ...
    def put(self, key: str, token: CachedToken) -> None: ...
    def discard(self, key: str, access_token: str) -> None:
        """Drop the cached token only if it is still ``access_token`` (another worker may have refreshed)."""

    def refresh_lock(self, key: str) -> Any:
        """Context manager held while refreshing ``key``."""


class MemoryTokenCache:
    """In-process cache for embedded mode; share one instance per process."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._tokens: dict[str, CachedToken] = {}
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def get(self, key: str) -> CachedToken | None:
        token = self._tokens.get(key)
        return token if token and token.expires_at > self._clock() else None

    def put(self, key: str, token: CachedToken) -> None:
        self._tokens[key] = token

    def discard(self, key: str, access_token: str) -> None:
        with self._guard:
            current = self._tokens.get(key)
            if current and current.access_token == access_token:
                del self._tokens[key]

    def refresh_lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())


class TokenCipher(Protocol):
    """Encrypts cached tokens (a ``cryptography`` ``MultiFernet``: shared.crypto.cipher)."""

    def encrypt(self, data: bytes, /) -> bytes: ...
    def decrypt(self, token: bytes, /) -> bytes: ...


class RedisTokenCache:
    """Shared cache for all worker processes; the refresh lock is a Redis lock with a timeout.

    Values are encrypted with ``cipher`` (the key of the stored credentials): an access token is a bearer token
    to the whole Zoho organization for up to an hour, and Redis is often less guarded than the database. A value
    that does not decrypt (a key rotated away, a plain value from an older version) is a miss: the next call
    refreshes and overwrites it.
    """

    _DISCARD = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
    # replace a value only if no worker wrote a fresher token meanwhile, keeping its expiry
    _RESEAL = (
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL') end "
        "return 0"
    )

    def __init__(self, redis: Any, prefix: str = "bpsync:zoho:token", *, cipher: TokenCipher) -> None:
        self._redis = redis
        self._prefix = prefix
        self._cipher = cipher
        self._discard = redis.register_script(self._DISCARD)
        self._reseal = redis.register_script(self._RESEAL)

    def _key(self, key: str) -> str:
        return f"{self._prefix}:{key}"

    def _open(self, raw: bytes | str) -> CachedToken | None:
        try:
            data = json.loads(self._cipher.decrypt(raw if isinstance(raw, bytes) else raw.encode()))
            return CachedToken(str(data["access_token"]), float(data["expires_at"]), str(data.get("api_domain", "")))
        except (InvalidToken, ValueError, KeyError, TypeError):
            return None

    def get(self, key: str) -> CachedToken | None:
        raw = self._redis.get(self._key(key))
        token = self._open(raw) if raw is not None else None
        return token if token and token.expires_at > time.time() else None

    def put(self, key: str, token: CachedToken) -> None:
        ttl_ms = max(1, int((token.expires_at - time.time()) * 1000))
        data = {"access_token": token.access_token, "expires_at": token.expires_at, "api_domain": token.api_domain}
        self._redis.set(self._key(key), self._cipher.encrypt(json.dumps(data).encode()), px=ttl_ms)

    def discard(self, key: str, access_token: str) -> None:
        raw = self._redis.get(self._key(key))
        current = self._open(raw) if raw is not None else None
        if current is not None and current.access_token == access_token:
            self._discard(keys=[self._key(key)], args=[raw])  # deletes only if nobody replaced it meanwhile

    def reseal_all(self, is_current: Callable[[bytes], bool]) -> tuple[int, int]:
        """Re-encrypt every cached token under the cipher's first key (``bpsync rotate-key``); a value no key
        opens is dropped (it was a miss already). Returns (resealed, dropped)."""
        resealed = dropped = 0
        for name in self._redis.scan_iter(match=f"{self._prefix}:*", count=500):
            if bytes(name).endswith(b":lock"):
                continue
            raw = self._redis.get(name)
            if raw is None or is_current(raw):
                continue
            try:
                fresh = self._cipher.encrypt(self._cipher.decrypt(raw))
            except InvalidToken:
                dropped += int(self._discard(keys=[name], args=[raw]) or 0)
                continue
            resealed += int(bool(self._reseal(keys=[name], args=[raw, fresh])))
        return resealed, dropped

    def refresh_lock(self, key: str) -> Any:
        return self._redis.lock(
            f"{self._key(key)}:lock", timeout=LOCK_TIMEOUT_SECONDS, blocking_timeout=LOCK_TIMEOUT_SECONDS
        )


class TokenProvider:
    """Access tokens for one OAuth client + refresh token, from the cache or a (locked) refresh."""

    def __init__(
        self,
        accounts_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str = "",
        *,
        cache: TokenCache | None = None,
        session: requests.Session | None = None,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.accounts_url = accounts_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        self.cache: TokenCache = cache if cache is not None else MemoryTokenCache(clock)
        self._session = session or requests.Session()
        self._timeout = timeout
        self._clock = clock
        self.key = credential_key(refresh_token) if refresh_token else ""
        self.refreshes = 0  # refreshes this provider performed (tests and status)

    def __repr__(self) -> str:  # never show secrets, even in tracebacks
        return f"TokenProvider({self.accounts_url!r}, credential={self.key[:8]})"

    def access_token(self) -> str:
        cached = self.cache.get(self.key)
        if cached:
            return cached.access_token
        with self._locked():
            cached = self.cache.get(self.key)  # another worker may have refreshed while we waited
            if cached:
                return cached.access_token
            return self._refresh().access_token

    def invalidate(self, access_token: str) -> None:
        """Zoho said 401 with this token: forget it so the next ``access_token()`` refreshes once."""
        self.cache.discard(self.key, access_token)

    def exchange_code(self, code: str, redirect_uri: str | None, *, what: str = AUTHORIZATION_CODE) -> str:
        """Authorization-code grant (connecting an integration); returns the refresh token.

        ``redirect_uri`` None: a Self Client's grant code, which Zoho issues without a redirect."""
        form = {
            "grant_type": "authorization_code",
            "client_id": self._client_id,
            "client_secret": self._client_secret,
            "code": code,
        }
        if redirect_uri is not None:
            form["redirect_uri"] = redirect_uri
        body = self._token_request(form, what=what)
        refresh_token = str(body.get("refresh_token") or "")
        if not refresh_token:
            raise AuthError(
                "Zoho returned no refresh token for the authorization code",
                api="accounts",
                endpoint=f"POST {TOKEN_PATH}",
                hint="connect again with access_type=offline and prompt=consent",
            )
        self._refresh_token = refresh_token
        self.key = credential_key(refresh_token)
        if body.get("access_token"):
            self._store(body)
        return refresh_token

    def revoke(self) -> bool:
        """Revoke this provider's refresh token at Zoho (a token minted for a connect that then failed); False
        when Zoho could not be asked or refused: the caller has nothing better to do than say so."""
        if not self._refresh_token:
            return False
        try:
            resp = self._session.post(
                self.accounts_url + REVOKE_PATH, data={"token": self._refresh_token}, timeout=self._timeout
            )
            body = resp.json()
        except (requests.RequestException, ValueError):
            return False
        return isinstance(body, dict) and body.get("status") == "success"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        lock = self.cache.refresh_lock(self.key)
        acquired = lock.acquire()
        try:
            if not acquired:  # a Redis lock timed out: the holder died; refreshing ourselves is the lesser evil
                log.warning("token refresh lock for credential %s timed out", self.key[:8])
            yield
        finally:
            if acquired:
                lock.release()

    def _refresh(self) -> CachedToken:
        if not self._refresh_token:
            raise AuthError("no refresh token configured", api="accounts", endpoint=f"POST {TOKEN_PATH}")
        body = self._token_request(
            {
                "grant_type": "refresh_token",
                "client_id": self._client_id,
                "client_secret": self._client_secret,
                "refresh_token": self._refresh_token,
            },
            what="refresh token",
        )
        self.refreshes += 1
        log.info("refreshed Zoho access token for credential %s", self.key[:8])
        return self._store(body)

    def _store(self, body: dict[str, Any]) -> CachedToken:
        try:
            expires_in = float(body.get("expires_in", 3600))
            token = CachedToken(
                str(body["access_token"]), self._clock() + cache_seconds(expires_in), str(body.get("api_domain", ""))
            )
        except (KeyError, TypeError, ValueError):
            raise MalformedResponse(
                "token response has no usable access_token/expires_in", api="accounts", endpoint=f"POST {TOKEN_PATH}"
            ) from None
        self.cache.put(self.key, token)
        return token

    def _token_request(self, form: dict[str, str], *, what: str) -> dict[str, Any]:
        endpoint = f"POST {TOKEN_PATH}"
        try:
            resp = self._session.post(self.accounts_url + TOKEN_PATH, data=form, timeout=self._timeout)
        except requests.RequestException as exc:
            raise ConnectionFailed(
                f"cannot reach Zoho Accounts ({type(exc).__name__})", api="accounts", endpoint=endpoint
            ) from None
        if resp.status_code >= 500:
            raise ServerError("Zoho Accounts failed", api="accounts", endpoint=endpoint, status=resp.status_code)
        try:
            body = resp.json()
        except ValueError:
            raise MalformedResponse(
                "token response is not JSON", api="accounts", endpoint=endpoint, status=resp.status_code
            ) from None
        if not isinstance(body, dict):
            raise MalformedResponse("token response is not an object", api="accounts", endpoint=endpoint)
        error = body.get("error")
        if error or ("access_token" not in body and "refresh_token" not in body):
            raise self._token_error(str(error or "no access_token"), body, resp.status_code, what)
        return body

    def _token_error(self, error: str, body: dict[str, Any], status: int, what: str) -> Exception:
        endpoint = f"POST {TOKEN_PATH}"
        description = str(body.get("error_description", ""))
        if "too many requests" in description.lower():
            return RateLimited(
                f"Zoho Accounts throttled token requests: {description}",
                retry_at=self._clock() + REFRESH_THROTTLE_SECONDS,
                api="accounts",
                endpoint=endpoint,
                status=status,
                code=error,
            )
        invalid_code = {
            GRANT_CODE: "the grant code is invalid, expired or already used: generate a new one in the Zoho API "
            "console (api-console.zoho.com, Self Client > Generate Code) and run the command at once: a grant code "
            "lasts only minutes and works once",
            AUTHORIZATION_CODE: "the authorization code expired or was used already: start Connect again",
        }
        hints = {
            "invalid_code": invalid_code.get(
                what,
                f"the {what} is invalid, expired or revoked: generate a new one in the Zoho API console "
                "(a connected integration takes it with: bpsync update-credentials)",
            ),
            "invalid_client": "the OAuth client id/secret is wrong or the client was deleted: fix it with "
            "bpsync update-credentials",
            "invalid_redirect_uri": "the redirect URI does not match the one registered for the OAuth client "
            "(BPSYNC_OAUTH_REDIRECT_URI must be exactly the one in the Zoho API console)",
        }
        return AuthError(
            f"Zoho Accounts refused the {what}: {error}",
            api="accounts",
            endpoint=endpoint,
            status=status,
            code=error,
            hint=hints.get(error, "update the Zoho credentials of this integration: bpsync update-credentials"),
        )
