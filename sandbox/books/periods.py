"""The ``Date.*`` periods Books list filters accept, as inclusive date ranges relative to today."""

from __future__ import annotations

import datetime as dt

from sandbox.books import rules


def period(name: str, today: dt.date) -> tuple[dt.date, dt.date] | None:
    """``(first, last)`` for a ``Date.<name>`` filter, or None when the name is unknown."""
    week_start = today - dt.timedelta(days=(today.weekday() - rules.WEEK_START_WEEKDAY) % 7)
    month_start = today.replace(day=1)
    quarter_start = today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1)
    year_start = today.replace(month=1, day=1)
    previous_month_end = month_start - dt.timedelta(days=1)
    previous_quarter_end = quarter_start - dt.timedelta(days=1)
    previous_quarter_start = previous_quarter_end.replace(month=(previous_quarter_end.month - 1) // 3 * 3 + 1, day=1)
    periods = {
        "Today": (today, today),
        "ThisWeek": (week_start, week_start + dt.timedelta(days=6)),
        "ThisMonth": (month_start, _month_end(month_start)),
        "ThisQuarter": (quarter_start, _month_end(quarter_start.replace(month=quarter_start.month + 2))),
        "ThisYear": (year_start, year_start.replace(month=12, day=31)),
        "PreviousDay": (today - dt.timedelta(days=1), today - dt.timedelta(days=1)),
        "PreviousWeek": (week_start - dt.timedelta(days=7), week_start - dt.timedelta(days=1)),
        "PreviousMonth": (previous_month_end.replace(day=1), previous_month_end),
        "PreviousQuarter": (previous_quarter_start, previous_quarter_end),
        "PreviousYear": (year_start.replace(year=today.year - 1), year_start - dt.timedelta(days=1)),
    }
    return periods.get(name)


def _month_end(first: dt.date) -> dt.date:
    next_month = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return next_month - dt.timedelta(days=1)
