"""The fallback poll's schedule (shared.finance_dispatch.poll_due): the tick one interval after a poll polls again."""

from __future__ import annotations

import datetime as dt

from shared.config import load_settings
from shared.finance_dispatch import poll_due

TICK = dt.datetime(2026, 11, 28, 21, 44, 10, tzinfo=dt.UTC)


def settings_of(**values: float):
    # a daily cap this high leaves the per-minute window as the quota spacing (at 5,000 a day, each call of a
    # poll alone buys 69 s at a 25% share)
    return load_settings(books_daily_limit=10**7, **values)


def state(started: dt.datetime, books_calls: int = 6) -> dict:
    return {"last_pull": {"started_at": started.isoformat(), "full": True, "books_calls": books_calls}}


def test_the_tick_one_interval_later_polls_although_the_pull_started_after_its_tick():
    # found by benchmarks/finance_latency.py: the pull starts ~0.5 s after the tick that asked for it, so the tick
    # one interval later saw 29.5 s < 30 s and the poll waited a whole extra tick (60 s with a 30 s interval)
    settings = settings_of(transactions_poll_seconds=30, beat_tick_seconds=30)
    last = state(TICK + dt.timedelta(seconds=0.5))
    assert poll_due(settings, last, TICK + dt.timedelta(seconds=30))
    default = settings_of(transactions_poll_seconds=60, beat_tick_seconds=30)  # polled every 90 s before
    assert not poll_due(default, last, TICK + dt.timedelta(seconds=30))
    assert poll_due(default, last, TICK + dt.timedelta(seconds=60))


def test_the_slack_is_at_most_half_a_tick_and_five_seconds_and_never_shortens_the_quota_spacing():
    settings = settings_of(transactions_poll_seconds=60, beat_tick_seconds=30)
    started = TICK + dt.timedelta(seconds=0.5)
    assert not poll_due(settings, state(started), started + dt.timedelta(seconds=54.9))
    assert poll_due(settings, state(started), started + dt.timedelta(seconds=55))
    fast_tick = settings_of(transactions_poll_seconds=60, beat_tick_seconds=2)
    assert not poll_due(fast_tick, state(started), started + dt.timedelta(seconds=58.9))
    # 100 calls at Zoho's 100/min with a 25% share: 240 s between polls, not a second less
    assert not poll_due(settings, state(started, books_calls=100), started + dt.timedelta(seconds=239.9))
    assert poll_due(settings, state(started, books_calls=100), started + dt.timedelta(seconds=240))
