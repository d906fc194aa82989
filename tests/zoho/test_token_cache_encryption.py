"""Issue 15: OAuth access tokens in the shared Redis are encrypted with BPSYNC_SECRET_KEY (real Redis)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis as redis_lib

from shared import crypto
from shared.config import Settings, load_settings
from shared.zoho.factory import redis_token_cache
from shared.zoho.oauth import CachedToken, RedisTokenCache

ACCESS_TOKEN = "1000.a1b2c3d4e5f6access"


@pytest.fixture
def redis(redis_url: str) -> Iterator[redis_lib.Redis]:
    client = redis_lib.Redis.from_url(redis_url)
    yield client
    client.close()


def _settings(*keys: str) -> Settings:
    return load_settings(secret_key=",".join(keys), broker_url="redis://127.0.0.1:6379/0", redis_key_prefix="enc")


def _token() -> CachedToken:
    return CachedToken(ACCESS_TOKEN, time.time() + 600, "https://www.zohoapis.com")


def test_the_stored_value_does_not_contain_the_token_and_reads_back(redis) -> None:
    settings = _settings(crypto.new_key())
    cache = redis_token_cache(settings, redis)
    assert isinstance(cache, RedisTokenCache)
    token = _token()
    cache.put("cred", token)
    stored = redis.get("enc:zoho:token:cred")
    assert stored is not None and ACCESS_TOKEN.encode() not in stored and b"zohoapis" not in stored
    assert 0 < redis.pttl("enc:zoho:token:cred") <= 600_000
    assert cache.get("cred") == token


def test_a_value_that_does_not_decrypt_is_a_miss_and_a_rotated_key_still_reads(redis) -> None:
    old, new = crypto.new_key(), crypto.new_key()
    redis_token_cache(_settings(old), redis).put("cred", _token())
    rotated = redis_token_cache(_settings(new, old), redis)  # the new key first, the old one kept after a comma
    assert getattr(rotated.get("cred"), "access_token", None) == ACCESS_TOKEN
    dropped = redis_token_cache(_settings(new), redis)  # the old key dropped: a miss, so the provider refreshes
    assert dropped.get("cred") is None
    redis.set("enc:zoho:token:plain", b'{"access_token": "x", "expires_at": 9999999999}')  # an older version's value
    assert dropped.get("plain") is None
    dropped.discard("cred", ACCESS_TOKEN)  # cannot read it: leaves it for its TTL
    assert redis.exists("enc:zoho:token:cred")


def test_discard_drops_only_the_token_that_failed(redis) -> None:
    cache = redis_token_cache(_settings(crypto.new_key()), redis)
    cache.put("cred", _token())
    cache.discard("cred", "1000.some-other-token")
    assert cache.get("cred") is not None
    cache.discard("cred", ACCESS_TOKEN)
    assert cache.get("cred") is None and not redis.exists("enc:zoho:token:cred")
