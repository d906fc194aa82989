"""The sliding-window limiter: never more than ``amount`` per window, short waits inline, long ones refused."""

from __future__ import annotations

import time

import pytest
import redis as redis_lib

from shared.zoho.errors import DailyQuotaExhausted, RateLimited
from shared.zoho.ratelimit import Limit, MemoryLimiterBackend, RateLimiter, RedisLimiterBackend


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def memory_limiter(limits: list[Limit], *, max_inline_wait: float = 0.0) -> tuple[RateLimiter, FakeTime]:
    clock = FakeTime()
    backend = MemoryLimiterBackend(clock)
    return RateLimiter(backend, limits, max_inline_wait=max_inline_wait, sleep=clock.sleep, clock=clock), clock


def test_no_burst_of_twice_the_limit_across_a_window_edge() -> None:
    limiter, clock = memory_limiter([Limit(10, 60.0)])
    clock.now += 59  # all 10 at the very end of a "minute"
    for _ in range(10):
        limiter.settle(limiter.acquire("org"))
    clock.now += 2  # a fixed window would reset here and let 10 more through
    with pytest.raises(RateLimited) as err:
        limiter.acquire("org")
    assert err.value.retry_at == pytest.approx(clock.now + 58, abs=0.01)


def test_short_waits_sleep_inline_long_ones_raise_without_sleeping() -> None:
    limiter, clock = memory_limiter([Limit(2, 10.0)], max_inline_wait=5.0)
    limiter.acquire("k")
    clock.now += 6
    limiter.acquire("k")
    limiter.acquire("k")  # the first permit frees 4 s later: slept inline
    assert clock.slept and clock.slept[0] == pytest.approx(4.0, abs=0.01)
    slept = len(clock.slept)
    with pytest.raises(RateLimited):  # the next slot is 6 s away: longer than max_inline_wait
        limiter.acquire("k")
    assert len(clock.slept) == slept


def test_settling_holds_the_slot_from_when_the_response_arrived() -> None:
    limiter, clock = memory_limiter([Limit(1, 10.0)])
    permit = limiter.acquire("k")
    clock.now += 8  # a slow request: Zoho may have counted it just now
    limiter.settle(permit)
    clock.now += 5  # 13 s after acquire but only 5 s after the response
    with pytest.raises(RateLimited):
        limiter.acquire("k")


def test_keys_do_not_share_a_budget() -> None:
    limiter, _ = memory_limiter([Limit(1, 60.0)])
    limiter.acquire("books:org-a")
    limiter.acquire("books:org-b")
    with pytest.raises(RateLimited):
        limiter.acquire("books:org-a")


def test_daily_limit_raises_daily_quota_exhausted() -> None:
    limiter, _ = memory_limiter([Limit(100, 60.0), Limit(3, 86400.0, daily=True)])
    for _ in range(3):
        limiter.acquire("k")
    with pytest.raises(DailyQuotaExhausted):
        limiter.acquire("k")


def test_penalty_closes_the_key_until_it_ends() -> None:
    limiter, clock = memory_limiter([Limit(100, 60.0)], max_inline_wait=1.0)
    limiter.penalize("k", clock.now + 1800)
    with pytest.raises(RateLimited) as err:
        limiter.acquire("k")
    assert err.value.retry_at == pytest.approx(clock.now + 1800, abs=0.01)
    clock.now += 1801
    limiter.acquire("k")


def test_a_worker_limiter_refuses_a_short_penalty_at_once_and_still_paces_inline() -> None:
    clock = FakeTime()
    limiter = RateLimiter(
        MemoryLimiterBackend(clock),
        [Limit(1, 2.0)],
        max_inline_wait=5.0,
        sleep=clock.sleep,
        clock=clock,
        wait_out_penalties=False,
    )
    limiter.settle(limiter.acquire("k"))
    limiter.settle(limiter.acquire("k"))  # our own window: 2 s of pacing, slept inline as ever
    assert clock.slept and clock.slept[0] == pytest.approx(2.0, abs=0.01)
    slept = len(clock.slept)
    limiter.penalize("k", clock.now + 1)  # Zoho said 429, come back in a second
    with pytest.raises(RateLimited) as err:
        limiter.acquire("k")
    assert len(clock.slept) == slept  # not slept out: the worker goes to another tenant's slice
    assert err.value.retry_at == pytest.approx(clock.now + 1, abs=0.01)


@pytest.fixture
def redis_client(redis_url: str):
    client = redis_lib.Redis.from_url(redis_url)
    yield client
    client.close()


def test_redis_backend_enforces_the_window_and_reopens(redis_client) -> None:
    limiter = RateLimiter(RedisLimiterBackend(redis_client), [Limit(5, 0.5)], max_inline_wait=0.0)
    permits = [limiter.acquire("books:1") for _ in range(5)]
    for permit in permits:
        limiter.settle(permit)
    with pytest.raises(RateLimited) as err:
        limiter.acquire("books:1")
    assert 0 < err.value.retry_at - time.time() <= 0.6
    limiter.acquire("books:2")  # another organization is unaffected
    time.sleep(0.55)
    limiter.acquire("books:1")


def test_redis_backend_waits_inline_and_honours_penalties(redis_client) -> None:
    limiter = RateLimiter(RedisLimiterBackend(redis_client), [Limit(2, 0.3)], max_inline_wait=1.0)
    started = time.monotonic()
    for _ in range(4):
        limiter.settle(limiter.acquire("k"))
    assert time.monotonic() - started >= 0.3  # the 3rd call waited for the window
    limiter.penalize("k", time.time() + 60, daily=True)
    with pytest.raises(DailyQuotaExhausted):
        limiter.acquire("k")
