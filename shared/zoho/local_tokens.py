"""The process's own copy of each access token, in front of the shared (Redis) token cache.

Every Zoho call asks for a token; reading it from Redis each time costs a round trip (and a decryption) per call,
for a token that changes about once an hour. A token this process already holds is used as long as it is not near
its expiry; near it, or after a 401, the shared cache is asked again, and refreshing still happens under the
shared lock (oauth.TokenProvider), so N processes still refresh once.

A token another worker replaced in Redis (after its own 401) stays usable here: Zoho keeps every access token
valid until it expires, and if it is not, our own 401 drops it from both layers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from shared.zoho.oauth import CachedToken, TokenCache

# Ask the shared cache again this long before the token's (already shortened) expiry: another worker may have
# refreshed by then, and a local copy never outlives the shared one by more than the clock skew between hosts.
NEAR_EXPIRY_SECONDS = 60.0


class LocalFirstTokenCache:
    """A ``TokenCache``: ``local`` (one dict per process and shared cache) first, then ``shared``."""

    def __init__(
        self,
        shared: TokenCache,
        local: dict[str, CachedToken],
        *,
        clock: Callable[[], float] = time.time,
        near_expiry: float = NEAR_EXPIRY_SECONDS,
    ) -> None:
        self._shared = shared
        self._local = local
        self._clock = clock
        self._near_expiry = near_expiry
        self.local_hits = 0  # calls answered without asking the shared cache (tests, benchmarks)

    def get(self, key: str) -> CachedToken | None:
        token = self._local.get(key)
        if token is not None and token.expires_at - self._near_expiry > self._clock():
            self.local_hits += 1
            return token
        token = self._shared.get(key)
        if token is None:
            self._local.pop(key, None)
        else:
            self._local[key] = token
        return token

    def put(self, key: str, token: CachedToken) -> None:
        self._shared.put(key, token)
        self._local[key] = token

    def discard(self, key: str, access_token: str) -> None:
        current = self._local.get(key)
        if current is not None and current.access_token == access_token:
            self._local.pop(key, None)
        self._shared.discard(key, access_token)

    def refresh_lock(self, key: str) -> Any:
        return self._shared.refresh_lock(key)
