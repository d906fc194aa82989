"""Window planning of the timesheets module: pure date arithmetic, no services."""

from __future__ import annotations

import datetime as dt

from shared.db.timelog_scans import Learned
from worker.modules.timelog_windows import (
    FULL,
    RECENT,
    RECENT_DAYS,
    ProjectScan,
    deep_read_due,
    earliest_log_date,
    first_deep_read_at,
    months_between,
    plan_scan,
)

TODAY = dt.date(2024, 3, 5)
NOW = dt.datetime(2024, 3, 5, 6, 0, tzinfo=dt.UTC)
WEEK = dt.timedelta(days=7)


def _months(*pairs: tuple[int, int]) -> tuple[dt.date, ...]:
    return tuple(dt.date(y, m, 1) for y, m in pairs)


def test_months_cover_first_to_last_inclusive_across_a_year_end():
    assert months_between(dt.date(2023, 11, 30), dt.date(2024, 2, 1)) == list(
        _months((2023, 11), (2023, 12), (2024, 1), (2024, 2))
    )


def test_earliest_log_date_is_the_earlier_of_start_and_creation_less_a_day():
    created = int(dt.datetime(2023, 6, 1, tzinfo=dt.UTC).timestamp() * 1000)
    assert earliest_log_date(dt.date(2023, 7, 1), created, TODAY) == dt.date(2023, 5, 31)
    assert earliest_log_date(dt.date(2023, 1, 1), created, TODAY) == dt.date(2023, 1, 1)
    assert earliest_log_date(None, None, TODAY) == TODAY


def test_a_first_full_scan_reads_every_month_of_each_component_deep():
    scan = plan_scan(earliest=dt.date(2024, 1, 20), today=TODAY, mode=FULL, components=("task", "general"), now=NOW)
    assert scan.windows == [
        ("task", dt.date(2024, 1, 1)),
        ("task", dt.date(2024, 2, 1)),
        ("task", dt.date(2024, 3, 1)),
        ("general", dt.date(2024, 1, 1)),
        ("general", dt.date(2024, 2, 1)),
        ("general", dt.date(2024, 3, 1)),
    ]
    assert scan.deep == ("task", "general")
    assert scan.covers("task", dt.date(2024, 3, 31)) and not scan.covers("bug", dt.date(2024, 2, 2))
    assert ProjectScan.from_json(scan.to_json()) == scan


def test_between_deep_reads_a_full_scan_starts_where_logs_start():
    earliest = dt.date(2023, 1, 10)
    learned = {
        "task": Learned(dt.date(2023, 12, 1), NOW - dt.timedelta(days=3)),  # logs from December
        "bug": Learned(None, NOW - dt.timedelta(days=3)),  # no bug logs at the deep read (Mar 2)
    }
    scan = plan_scan(
        earliest=earliest,
        today=TODAY,
        mode=FULL,
        components=("task", "bug"),
        learned=learned,
        now=NOW,
        deep_period=WEEK,
    )
    assert scan.months["task"] == _months((2023, 12), (2024, 1), (2024, 2), (2024, 3))
    assert scan.months["bug"] == _months((2024, 2), (2024, 3))  # the week before the deep read, to today
    assert scan.deep == ()
    # a log older than every month read here can exist unseen, so its absence proves nothing
    assert not scan.covers("task", dt.date(2023, 11, 30))


def test_a_deep_read_comes_back_after_the_period_or_every_time_with_period_zero():
    stale = {"task": Learned(dt.date(2024, 2, 1), NOW - WEEK)}
    again = plan_scan(
        earliest=dt.date(2023, 1, 10),
        today=TODAY,
        mode=FULL,
        components=("task",),
        learned=stale,
        now=NOW,
        deep_period=WEEK,
    )
    assert again.deep == ("task",) and again.months["task"][0] == dt.date(2023, 1, 1)
    # last week's run started a little later in the day than this one: still due
    assert deep_read_due(Learned(dt.date(2024, 2, 1), NOW - WEEK + dt.timedelta(minutes=10)), NOW, WEEK)
    assert not deep_read_due(Learned(None, NOW - dt.timedelta(days=6)), NOW, WEEK)
    fresh = {"task": Learned(dt.date(2024, 2, 1), NOW)}
    always = plan_scan(
        earliest=dt.date(2023, 1, 10), today=TODAY, mode=FULL, components=("task",), learned=fresh, now=NOW
    )
    assert always.deep == ("task",)


def test_a_recent_scan_reads_only_the_months_of_the_last_days_plus_months_webhooks_named():
    assert TODAY.day <= RECENT_DAYS
    scan = plan_scan(earliest=dt.date.min, today=TODAY, mode=RECENT, components=("task", "bug"), now=NOW)
    assert scan.months == {"task": _months((2024, 2), (2024, 3)), "bug": _months((2024, 2), (2024, 3))}
    assert scan.deep == ()
    named = plan_scan(
        earliest=dt.date.min,
        today=TODAY,
        mode=RECENT,
        components=("task",),
        extra={"task": {dt.date(2023, 7, 14), dt.date(2024, 6, 1)}},  # an old log; a date in the future is ignored
        now=NOW,
    )
    assert named.months["task"] == _months((2023, 7), (2024, 2), (2024, 3))
    assert named.covers("task", dt.date(2023, 7, 2)) and not named.covers("task", dt.date(2023, 8, 2))


def test_nothing_is_read_for_a_project_gone_from_projects_or_without_components():
    assert plan_scan(earliest=None, today=TODAY, mode=FULL, components=("task", "bug"), now=NOW).windows == []
    assert plan_scan(earliest=TODAY, today=TODAY, mode=FULL, components=(), now=NOW).windows == []


def test_first_deep_reads_are_spread_over_the_period_and_stable_per_project():
    recorded = {pid: first_deep_read_at(pid, NOW, WEEK) for pid in (f"1708{i:014d}" for i in range(200))}
    ages = {NOW - at for at in recorded.values()}
    assert len(ages) == 7 and all(dt.timedelta(0) <= age < WEEK for age in ages)
    assert first_deep_read_at("170800000000000042", NOW, WEEK) == recorded["170800000000000042"]
    assert first_deep_read_at("170800000000000042", NOW, dt.timedelta(0)) == NOW


def test_a_checkpoint_written_before_per_component_months_still_reads():
    old = {"components": ["task", "bug"], "months": ["2024-02-01", "2024-03-01"]}
    assert ProjectScan.from_json(old).windows == [
        ("task", dt.date(2024, 2, 1)),
        ("task", dt.date(2024, 3, 1)),
        ("bug", dt.date(2024, 2, 1)),
        ("bug", dt.date(2024, 3, 1)),
    ]
