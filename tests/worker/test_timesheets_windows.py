"""Window planning of the timesheets module: pure date arithmetic, no services."""

from __future__ import annotations

import datetime as dt

from worker.modules.timelog_windows import RECENT_DAYS, ProjectScan, earliest_log_date, months_between, plan_scan

TODAY = dt.date(2024, 3, 5)


def test_months_cover_first_to_last_inclusive_across_a_year_end():
    assert months_between(dt.date(2023, 11, 30), dt.date(2024, 2, 1)) == [
        dt.date(2023, 11, 1),
        dt.date(2023, 12, 1),
        dt.date(2024, 1, 1),
        dt.date(2024, 2, 1),
    ]


def test_earliest_log_date_is_the_earlier_of_start_and_creation_less_a_day():
    created = int(dt.datetime(2023, 6, 1, tzinfo=dt.UTC).timestamp() * 1000)
    assert earliest_log_date(dt.date(2023, 7, 1), created, TODAY) == dt.date(2023, 5, 31)
    assert earliest_log_date(dt.date(2023, 1, 1), created, TODAY) == dt.date(2023, 1, 1)
    assert earliest_log_date(None, None, TODAY) == TODAY


def test_a_full_scan_reads_every_month_of_each_component_that_can_hold_logs():
    scan = plan_scan(
        earliest=dt.date(2024, 1, 20), today=TODAY, recent=False, has_tasks=True, has_bugs=False, general=True
    )
    assert scan.windows == [
        ("task", dt.date(2024, 1, 1)),
        ("task", dt.date(2024, 2, 1)),
        ("task", dt.date(2024, 3, 1)),
        ("general", dt.date(2024, 1, 1)),
        ("general", dt.date(2024, 2, 1)),
        ("general", dt.date(2024, 3, 1)),
    ]
    assert scan.covers("task", dt.date(2024, 3, 31)) and not scan.covers("bug", dt.date(2024, 2, 2))
    assert ProjectScan.from_json(scan.to_json()) == scan


def test_a_recent_scan_reads_only_the_months_of_the_last_days():
    scan = plan_scan(
        earliest=dt.date(2020, 1, 1), today=TODAY, recent=True, has_tasks=True, has_bugs=True, general=False
    )
    assert TODAY.day <= RECENT_DAYS
    assert scan.months == (dt.date(2024, 2, 1), dt.date(2024, 3, 1))
    assert [c for c, _ in scan.windows] == ["task", "task", "bug", "bug"]


def test_nothing_is_read_for_a_project_gone_from_projects_or_without_subjects():
    assert (
        plan_scan(earliest=None, today=TODAY, recent=False, has_tasks=True, has_bugs=True, general=True).windows == []
    )
    assert (
        plan_scan(earliest=TODAY, today=TODAY, recent=False, has_tasks=False, has_bugs=False, general=False).windows
        == []
    )
