"""Which time-log windows a timesheets run reads, per project and component.

The Projects time-log list is date-bound: one call returns one component type (task | bug | general) for one
day/week/month window, with no modified-since filter and no deletion feed. So:

- windows are whole **months** (the widest view), one call each unless a month holds more than a page;
- a component is read only where it can hold logs: ``task``/``bug`` only when the project has tasks/bugs we
  know of (a project that failed to sync is read in full so its logs are recorded as blocked), ``general``
  only with the integration's general-timesheets preference;
- a **deep** read covers every month from the project's earliest possible log date (the earlier of its start
  date and creation day, less a day for time zones) to today (Zoho refuses time logged in the future), and
  remembers the first month that held a log (``timelog_scans``);
- a **daily** (full) run reads deep only where the last deep read is older than the deep-read period (and the
  first time); otherwise from the remembered first month — or, where there were no logs, from the week before
  the deep read — to today. Approvals and deletions can only touch months that hold logs, and a log whose date
  is edited out of the months read is searched for (``timelog_paging``); a new log back-dated before every
  other log of its project is the one change left to the next deep read, unless a webhook names its date.
  Projects' deep reads are spread over the period so the cost does not come back as one weekly burst;
- a **recent** scan (the instant poll and webhooks) reads only the months of the last ``RECENT_DAYS`` days,
  where new logs land;
- every scan also reads the months a webhook named: a known log's recorded date (an edit or deletion of an old
  log) and the log date the event carries.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from shared.clock import utcnow
from shared.db.timelog_scans import Learned

RECENT_DAYS = 7
FULL, RECENT = "full", "recent"
DEEP_READ_SLACK = dt.timedelta(hours=2)
# created_ms is UTC while log dates are the portal's local dates: one day of slack keeps the first log in range.
TIME_ZONE_SLACK = dt.timedelta(days=1)
# Zoho refuses logs in the future by the portal's local date, which can be a day ahead of UTC.
LOCAL_DATE_SLACK = dt.timedelta(days=1)


def portal_today() -> dt.date:
    """The last day a log can carry: the portal's today, at most a day ahead of UTC's."""
    return (utcnow() + LOCAL_DATE_SLACK).date()


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


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
    """The months to read per component, in reading order; ``deep``: components read from their earliest month."""

    months: dict[str, tuple[dt.date, ...]]
    deep: tuple[str, ...] = ()

    @property
    def components(self) -> tuple[str, ...]:
        return tuple(self.months)

    @property
    def windows(self) -> list[tuple[str, dt.date]]:
        return [(component, month) for component, months in self.months.items() for month in months]

    def covers(self, component: str, log_date: dt.date) -> bool:
        """Whether a log of this date was in a window read (so its absence means it is gone)."""
        return month_start(log_date) in self.months.get(component, ())

    def to_json(self) -> dict[str, Any]:
        return {"months": {c: [m.isoformat() for m in ms] for c, ms in self.months.items()}, "deep": list(self.deep)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProjectScan:
        raw = data["months"]
        if isinstance(raw, list):  # before 0002 every component read the same months
            raw = {c: raw for c in data["components"]}
        months = {c: tuple(dt.date.fromisoformat(m) for m in ms) for c, ms in raw.items()}
        return cls(months, tuple(data.get("deep", ())))


def deep_read_due(learned: Learned | None, now: dt.datetime, period: dt.timedelta) -> bool:
    # the slack: a daily run that starts a few minutes earlier than last week's must not push the read a day on
    return learned is None or not period or now + DEEP_READ_SLACK >= learned.deep_read_at + period


def first_deep_read_at(project_id: str, now: dt.datetime, period: dt.timedelta) -> dt.datetime:
    """When to record a project's first deep read: back-dated by a stable share of the period, so the projects of
    one big first sync come due for their next deep read on different days instead of all together."""
    days = int(period.total_seconds() // 86400)
    if days <= 1:
        return now
    share = int(hashlib.sha256(project_id.encode()).hexdigest(), 16) % days
    return now - dt.timedelta(days=share)


def _start_month(
    earliest: dt.date, today: dt.date, mode: str, learned: Learned | None, now: dt.datetime, period: dt.timedelta
) -> tuple[dt.date, bool]:
    """Where reading starts for one component, and whether that is a deep read."""
    if mode != FULL:
        return max(earliest, today - dt.timedelta(days=RECENT_DAYS)), False
    if deep_read_due(learned, now, period):
        return earliest, True
    assert learned is not None
    start = month_start(learned.deep_read_at.date() - dt.timedelta(days=RECENT_DAYS))
    if learned.first_month is not None:
        start = min(start, learned.first_month)
    return max(earliest, start), False


def plan_scan(
    *,
    earliest: dt.date | None,
    today: dt.date,
    mode: str,
    components: tuple[str, ...],
    learned: dict[str, Learned] | None = None,
    extra: dict[str, set[dt.date]] | None = None,
    now: dt.datetime,
    deep_period: dt.timedelta = dt.timedelta(0),
) -> ProjectScan:
    """The windows to read for one project; ``earliest`` None means the project is gone from Projects.

    ``mode``: FULL (daily run), RECENT (instant poll, webhooks). ``learned``: timelog_scans rows by component;
    ``extra``: months to read besides (a known log's month that a webhook named), by component.
    """
    if earliest is None or not components:
        return ProjectScan({c: () for c in components})
    months: dict[str, tuple[dt.date, ...]] = {}
    deep: list[str] = []
    for component in components:
        start, is_deep = _start_month(earliest, today, mode, (learned or {}).get(component), now, deep_period)
        wanted = set(months_between(start, today)) | {
            month_start(m) for m in (extra or {}).get(component, ()) if month_start(m) <= today
        }
        months[component] = tuple(sorted(wanted))
        if is_deep:
            deep.append(component)
    return ProjectScan(months, tuple(deep))
