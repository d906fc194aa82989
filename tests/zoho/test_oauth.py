"""Token provider logic: one refresh for many threads, shared cache, clear token-endpoint errors."""

from __future__ import annotations

import threading
import time

import fakeredis
import pytest
from cryptography.fernet import Fernet, MultiFernet

from shared.zoho.errors import AuthError, RateLimited
from shared.zoho.oauth import MemoryTokenCache, RedisTokenCache, TokenProvider, cache_seconds
from tests.zoho.fakes import FakeZoho, Seen

TOKEN_PATH = "/oauth/v2/token"
CIPHER = MultiFernet([Fernet(Fernet.generate_key())])


def slow_token_endpoint(fake: FakeZoho) -> None:
    counter = iter(range(1, 1000))

    def answer(seen: Seen) -> tuple[int, dict, dict]:
        time.sleep(0.05)  # a slow refresh is when a missing lock shows
        return 200, {"access_token": f"1000.token{next(counter)}", "expires_in": 3600}, {}

    fake.compute("POST", TOKEN_PATH, answer)


def provider(fake: FakeZoho, cache, refresh_token: str = "1000.refresh") -> TokenProvider:
    return TokenProvider("https://accounts.test", "cid", "secret", refresh_token, cache=cache, session=fake.session())


def race(providers: list[TokenProvider]) -> list[str]:
    got: list[str] = []
    barrier = threading.Barrier(len(providers))

    def run(p: TokenProvider) -> None:
        barrier.wait()
        got.append(p.access_token())

    threads = [threading.Thread(target=run, args=(p,)) for p in providers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return got


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_eight_workers_needing_a_token_refresh_exactly_once(backend: str) -> None:
    fake = FakeZoho()
    slow_token_endpoint(fake)
    cache = MemoryTokenCache() if backend == "memory" else RedisTokenCache(fakeredis.FakeRedis(), cipher=CIPHER)
    # separate providers share only the cache, like separate worker processes sharing Redis
    got = race([provider(fake, cache) for _ in range(8)])
    assert len(fake.calls("POST", TOKEN_PATH)) == 1
    assert set(got) == {"1000.token1"}


def test_invalidate_only_drops_the_token_that_failed() -> None:
    cache = RedisTokenCache(fakeredis.FakeRedis(), cipher=CIPHER)
    fake = FakeZoho()
    fake.on("POST", TOKEN_PATH, 200, {"access_token": "1000.old", "expires_in": 3600})
    fake.on("POST", TOKEN_PATH, 200, {"access_token": "1000.new", "expires_in": 3600})
    a, b = provider(fake, cache), provider(fake, cache)
    assert a.access_token() == "1000.old"
    a.invalidate("1000.old")
    assert a.access_token() == "1000.new"
    b.invalidate("1000.old")  # a second worker that also saw the old token fail must not drop the new one
    assert b.access_token() == "1000.new"
    assert len(fake.calls("POST", TOKEN_PATH)) == 2


def test_tokens_are_cached_a_little_shorter_than_zoho_says() -> None:
    assert cache_seconds(3600) == 3300
    assert 0 < cache_seconds(2) < 2
    now = [1000.0]
    fake = FakeZoho()
    fake.on("POST", TOKEN_PATH, 200, {"access_token": "1000.a", "expires_in": 3600})
    fake.on("POST", TOKEN_PATH, 200, {"access_token": "1000.b", "expires_in": 3600})
    p = TokenProvider(
        "https://accounts.test",
        "cid",
        "s",
        "1000.r",
        cache=MemoryTokenCache(lambda: now[0]),
        session=fake.session(),
        clock=lambda: now[0],
    )
    assert p.access_token() == "1000.a"
    now[0] += 3299
    assert p.access_token() == "1000.a"
    now[0] += 2
    assert p.access_token() == "1000.b"


@pytest.mark.parametrize(
    ("error", "hint_words"),
    [("invalid_code", "update-credentials"), ("invalid_client", "client id/secret")],
)
def test_token_endpoint_errors_are_auth_errors_with_a_hint(error: str, hint_words: str) -> None:
    fake = FakeZoho()
    fake.on("POST", TOKEN_PATH, 200, {"error": error})
    with pytest.raises(AuthError) as err:
        provider(fake, MemoryTokenCache()).access_token()
    assert err.value.code == error and hint_words in err.value.hint
    assert err.value.api == "accounts"


def test_throttled_refresh_is_rate_limited_not_fatal() -> None:
    fake = FakeZoho()
    fake.on(
        "POST",
        TOKEN_PATH,
        400,
        {"error": "Access Denied", "error_description": "You have made too many requests continuously."},
    )
    with pytest.raises(RateLimited):
        provider(fake, MemoryTokenCache()).access_token()


def test_exchange_code_returns_the_refresh_token_and_sends_the_grant() -> None:
    fake = FakeZoho()
    fake.on(
        "POST", TOKEN_PATH, 200, {"access_token": "1000.a", "refresh_token": "1000.new-refresh", "expires_in": 3600}
    )
    p = provider(fake, MemoryTokenCache(), refresh_token="")
    assert p.exchange_code("1000.code", "https://app.test/callback") == "1000.new-refresh"
    form = fake.calls("POST", TOKEN_PATH)[0].form
    assert form["grant_type"] == "authorization_code" and form["code"] == "1000.code"
    assert form["redirect_uri"] == "https://app.test/callback"
    assert p.access_token() == "1000.a"  # the access token that came with the grant is cached
    assert "1000.new-refresh" not in repr(p)
