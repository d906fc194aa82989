"""Which time-log windows a timesheets run reads, per project.

The Projects time-log list is date-bound: one call returns one component type (task | bug | general) for one
day/week/month window, with no modified-since filter and no deletion feed. So:

- windows are whole **months** (the widest view), one call each unless a month holds more than a page;
- a project's windows start at its **earliest possible log date** (the earlier of its start date and creation
  day, less a day for time zones) and end at today (Zoho refuses time logged in the future);
- a component is read only where it can hold logs: ``task``/``bug`` only when the project has tasks/bugs we
  know of (a project that failed to sync is read in full so its logs are recorded as blocked), ``general``
  only with the integration's general-timesheets preference;
- a **recent** scan (the instant poll) reads only the windows covering the last ``RECENT_DAYS`` days, where new
  logs land; the scheduled run re-reads every window because a log can be added, edited, re-approved or deleted
  in any past month and the API offers no other way to see it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

RECENT_DAYS = 7
# created_ms is UTC while log dates are the portal's local dates: one day of slack keeps the first log in range.
TIME_ZONE_SLACK = dt.timedelta(days=1)


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def month_end(day: dt.date) -> dt.date:
    return next_month(day) - dt.timedelta(days=1)


def months_between(first: dt.date, last: dt.date) -> list[dt.date]:
    """First days of every month from ``first``'s to ``last``'s, inclusive."""
    months, month = [], month_start(first)
    while month <= last:
        months.append(month)
        month = next_month(month)
    return months


def earliest_log_date(start_date: dt.date | None, created_ms: int | None, today: dt.date) -> dt.date:
    """The earliest day a log of this project can plausibly carry."""
    candidates = [today]
    if start_date is not None:
        candidates.append(start_date)
    if created_ms is not None:
        candidates.append(dt.datetime.fromtimestamp(created_ms / 1000, dt.UTC).date() - TIME_ZONE_SLACK)
    return min(candidates)


@dataclass(frozen=True)
class ProjectScan:
    """The windows of one project, in reading order, and the date range they cover (for deletion detection)."""

    components: tuple[str, ...]
    months: tuple[dt.date, ...]

    @property
    def windows(self) -> list[tuple[str, dt.date]]:
        return [(component, month) for component in self.components for month in self.months]

    @property
    def first_day(self) -> dt.date:
        return self.months[0]

    @property
    def last_day(self) -> dt.date:
        return month_end(self.months[-1])

    def covers(self, component: str, log_date: dt.date) -> bool:
        return bool(self.months) and component in self.components and self.first_day <= log_date <= self.last_day

    def to_json(self) -> dict[str, Any]:
        return {"components": list(self.components), "months": [m.isoformat() for m in self.months]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProjectScan:
        return cls(tuple(data["components"]), tuple(dt.date.fromisoformat(m) for m in data["months"]))


def plan_scan(
    *,
    earliest: dt.date | None,
    today: dt.date,
    recent: bool,
    has_tasks: bool,
    has_bugs: bool,
    general: bool,
) -> ProjectScan:
    """The windows to read for one project; ``earliest`` None means the project is gone from Projects."""
    components = tuple(c for c, wanted in (("task", has_tasks), ("bug", has_bugs), ("general", general)) if wanted)
    if earliest is None or not components:
        return ProjectScan(components, ())
    first = max(earliest, today - dt.timedelta(days=RECENT_DAYS)) if recent else earliest
    return ProjectScan(components, tuple(months_between(first, today)))
