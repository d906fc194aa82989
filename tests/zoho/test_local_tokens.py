"""Issue 18: a process keeps the access token it holds; Redis is asked only on a miss, near expiry or after a 401.

Real Redis (the test's own db) behind a proxy that counts reads of the token key, clients wired by the factory
exactly as the worker wires them, real HTTP to the sandbox.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis as redis_lib
import requests

from sandbox.server import SandboxServer
from shared.zoho.factory import redis_token_cache
from shared.zoho.local_tokens import LocalFirstTokenCache
from shared.zoho.oauth import CachedToken, MemoryTokenCache
from tests.zoho.conftest import books_client, projects_client, settings_for


class CountingRedis:
    """A Redis client that counts GETs of access-token keys (the limiter's keys are not token reads)."""

    def __init__(self, client: redis_lib.Redis) -> None:
        self._client = client
        self.token_gets = 0

    def get(self, name: Any) -> Any:
        if ":zoho:token:" in str(name):
            self.token_gets += 1
        return self._client.get(name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.fixture
def redis(redis_url: str) -> Iterator[CountingRedis]:
    client = redis_lib.Redis.from_url(redis_url)
    yield CountingRedis(client)
    client.close()


@pytest.fixture
def prefix() -> str:
    return f"bpsync-test-{uuid.uuid4().hex[:8]}"  # one deployment: every client of the test shares it


def accounts_calls(sb: SandboxServer) -> int:
    return int(requests.get(sb.base_url + "/_sandbox/requests", timeout=5).json()["by_api"].get("accounts", 0))


def test_calls_after_the_first_take_the_token_from_the_process_not_redis(
    sandbox: SandboxServer, redis: CountingRedis, prefix: str
) -> None:
    projects = projects_client(sandbox, redis=redis, rate_limits_enabled=False, redis_key_prefix=prefix)
    list(projects.iter_projects())
    first = redis.token_gets  # the miss, and the re-read under the refresh lock
    assert first >= 1 and accounts_calls(sandbox) == 1
    for _ in range(5):
        list(projects.iter_projects())
    # a client built later in the same process (the next slice) holds the token too
    books = books_client(sandbox, redis=redis, rate_limits_enabled=False, redis_key_prefix=prefix)
    list(books.iter_currencies())
    assert redis.token_gets == first
    assert accounts_calls(sandbox) == 1


def test_a_401_drops_the_token_from_both_layers_and_refreshes_once(
    sandbox: SandboxServer, redis: CountingRedis, prefix: str
) -> None:
    projects = projects_client(sandbox, redis=redis, rate_limits_enabled=False, redis_key_prefix=prefix)
    list(projects.iter_projects())
    stale = projects.http.tokens.access_token()
    requests.post(
        sandbox.base_url + "/_sandbox/faults", json={"api": "projects", "kind": "expire_token", "count": 1}, timeout=5
    ).raise_for_status()
    assert list(projects.iter_projects())
    fresh = projects.http.tokens.access_token()
    assert fresh != stale and accounts_calls(sandbox) == 2
    # the refreshed token is what Redis holds now, for every other process
    shared = redis_token_cache(settings_for(sandbox, redis_key_prefix=prefix), redis)
    held = shared.get(projects.http.tokens.key)
    assert held is not None and held.access_token == fresh


def test_a_token_near_its_expiry_is_read_from_the_shared_cache_again() -> None:
    now = [1000.0]
    shared = MemoryTokenCache(clock=lambda: now[0])
    cache = LocalFirstTokenCache(shared, {}, clock=lambda: now[0], near_expiry=60)
    cache.put("cred", CachedToken("first", 1200.0))
    assert cache.get("cred") == CachedToken("first", 1200.0) and cache.local_hits == 1
    shared.put("cred", CachedToken("second", 4800.0))  # another worker refreshed meanwhile
    now[0] = 1150.0  # within a minute of the first token's end: ask the shared cache
    assert cache.get("cred") == CachedToken("second", 4800.0) and cache.local_hits == 1
    assert cache.get("cred") == CachedToken("second", 4800.0) and cache.local_hits == 2
    now[0] = time.time()  # past the end of both
    assert cache.get("cred") is None
