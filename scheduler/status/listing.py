"""All integrations at a glance: each one's overall badge computed in SQL from ``module_states``, counts per
badge, filters by badge and name, and pages (``bpsync status``, ``/integrations``, ``GET /api/integrations``).

The badge rank below is ``badges.module_badge`` and ``overall_badge`` in SQL (tests check they agree): one
grouped query over one row per (integration, module) ranks every integration, so filtering and counting cost
O(integrations); only the page's integrations are then read in full.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, NamedTuple, TypeVar

from scheduler.status.badges import DISABLED, LABELS, URGENCY, WORKING_RUN_STATUSES
from scheduler.status.overview import (
    UNFINISHED_SQL,
    IntegrationStatus,
    integration_statuses,
    integration_statuses_json,
)
from scheduler.status.reads import Connectable, Reader, reading
from scheduler.status.timefmt import iso
from shared.clock import utcnow

MAX_PAGE = 1000
S = TypeVar("S")


class BadFilter(ValueError):
    """A filter or page parameter is wrong; the message names it and what to send instead."""


def badge_state(value: str | None) -> str | None:
    """A badge given by its code (``failed``) or its label (``Sync in Progress``), any case."""
    if value is None or not value.strip():
        return None
    wanted = value.strip().lower()
    for state, label in LABELS.items():
        if wanted in (state, label.lower(), state.replace("_", " "), state.replace("_", "-")):
            return state
    choices = ", ".join(URGENCY)
    raise BadFilter(f"unknown badge {value!r}; use one of: {choices} (or its label, e.g. 'Sync in Progress')")


def _quoted(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


# The module's badge as its index in URGENCY (0 = Disabled … 5 = Not synced yet), over RANKED_STATES' i (the
# integration), s (its module's state) and c (the module's unfinished run); :now is the time it is judged at.
# Rows from before wait_reason existed were all quota waits (as module_badge reads them).
BADGE_RANK = f"""CASE
  WHEN i.state = '{DISABLED}' THEN {URGENCY.index("disabled")}
  WHEN c.id IS NOT NULL AND ((i.paused_until IS NOT NULL AND i.paused_until > :now)
       OR (coalesce(c.wait_reason, 'quota') <> 'retry' AND c.waiting_until > :now)) THEN {URGENCY.index("waiting")}
  WHEN c.id IS NOT NULL THEN {URGENCY.index("in_progress")}
  WHEN s.last_status IS NULL THEN {URGENCY.index("not_synced")}
  WHEN s.last_status IN {_quoted(WORKING_RUN_STATUSES)} THEN {URGENCY.index("active")}
  ELSE {URGENCY.index("failed")}
END"""
# Every integration with its modules' states and unfinished module runs, what BADGE_RANK reads.
RANKED_STATES = f"""integrations i
LEFT JOIN module_states s ON s.integration_id = i.id
LEFT JOIN module_runs c ON c.id = s.current_module_run_id AND c.status IN {UNFINISHED_SQL}"""


def integration_badges(reader: Reader, now: dt.datetime) -> list[tuple[int, str, str]]:
    """(id, name, overall badge state) of every integration, by id."""
    rows = reader.rows(
        f"SELECT i.id, i.name, min({BADGE_RANK}) FROM {RANKED_STATES} GROUP BY i.id, i.name ORDER BY i.id",
        now=reader.when(now),
    )
    return [(int(i), str(name), URGENCY[int(rank)]) for i, name, rank in rows]


@dataclass(frozen=True)
class IntegrationPage:
    """One page of integrations' statuses, with the counts per badge (a docstring: see badges.Badge's)."""

    statuses: list[IntegrationStatus]
    total: int  # integrations matching the filters
    offset: int
    limit: int | None  # None: every match
    badge_counts: dict[str, int] = field(default_factory=dict)  # by badge, of those matching the name filter
    generated_at: dt.datetime = field(default_factory=utcnow)

    @property
    def next_offset(self) -> int | None:
        end = self.offset + len(self.statuses)
        return end if self.limit is not None and end < self.total else None

    def counts_line(self) -> str:
        """``3 Failed, 12 Sync in Progress`` in badge order, most urgent first."""
        parts = [f"{self.badge_counts[s]} {LABELS[s]}" for s in URGENCY if self.badge_counts.get(s)]
        return ", ".join(parts) or "no integrations"

    def as_json(self) -> dict[str, Any]:
        return page_json(self, [s.as_json() for s in self.statuses])


def page_json(page: IntegrationPage | _Page, statuses: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "generated_at": iso(page.generated_at),
        "integrations": statuses,
        "total": page.total,
        "offset": page.offset,
        "limit": page.limit,
        "next_offset": page.next_offset,
        "badge_counts": {s: page.badge_counts.get(s, 0) for s in URGENCY},
    }


def integration_page(
    engine: Connectable | Reader,
    *,
    badge: str | None = None,
    name: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    now: dt.datetime | None = None,
) -> IntegrationPage:
    """Integrations by id, filtered by overall badge (code or label) and name (substring, any case), one page."""
    page = _page_of(engine, badge, name, limit, offset, now, integration_statuses, lambda s: s.badge.state)
    return IntegrationPage(page.statuses, page.total, page.offset, page.limit, page.badge_counts, page.generated_at)


def integration_page_json(
    engine: Connectable | Reader,
    *,
    badge: str | None = None,
    name: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    now: dt.datetime | None = None,
    when: Callable[[dt.datetime | None], Any] = iso,
) -> dict[str, Any]:
    """``integration_page(...).as_json()``, its statuses built as JSON from the rows (integration_statuses_json,
    ``when`` as there)."""

    def build(reader: Reader, now: dt.datetime, ids: list[int] | None = None) -> list[dict[str, Any]]:
        return integration_statuses_json(reader, now=now, ids=ids, when=when)

    page = _page_of(engine, badge, name, limit, offset, now, build, lambda s: s["badge_state"])
    return page_json(page, page.statuses)


class _Page(NamedTuple, Generic[S]):
    """A page of statuses of either kind (objects, or their JSON); not a dataclass, whose methods cost every start
    a millisecond or two to build."""

    statuses: list[S]
    total: int
    offset: int
    limit: int | None
    badge_counts: dict[str, int]
    generated_at: dt.datetime

    @property
    def next_offset(self) -> int | None:
        end = self.offset + len(self.statuses)
        return end if self.limit is not None and end < self.total else None


def _page_of(
    engine: Connectable | Reader,
    badge: str | None,
    name: str | None,
    limit: int | None,
    offset: int,
    now: dt.datetime | None,
    build: Callable[..., list[S]],
    state_of: Callable[[S], str],
) -> _Page[S]:
    now = now or utcnow()
    wanted = badge_state(badge)
    if limit is not None and not 1 <= limit <= MAX_PAGE:
        raise BadFilter(f"limit must be a whole number from 1 to {MAX_PAGE}, got {limit!r}")
    if offset < 0:
        raise BadFilter(f"offset must be 0 or more, got {offset!r}")
    with reading(engine) as reader:
        if not (name or "").strip() and not wanted and offset == 0 and limit is None:
            # every integration is read in full anyway: their badges are counted from it, not ranked by a query
            statuses = build(reader, now=now)
            counts: dict[str, int] = {}
            for status in statuses:
                state = state_of(status)
                counts[state] = counts.get(state, 0) + 1
            return _Page(statuses, len(statuses), 0, None, counts, now)
        ranked = integration_badges(reader, now)
        needle = (name or "").strip().lower()
        named = [r for r in ranked if needle in r[1].lower()] if needle else ranked
        counts = {}
        for _, _, state in named:
            counts[state] = counts.get(state, 0) + 1
        matching = [r for r in named if r[2] == wanted] if wanted else named
        chosen = matching[offset : offset + limit if limit is not None else None]
        return _Page(build(reader, now=now, ids=[r[0] for r in chosen]), len(matching), offset, limit, counts, now)
