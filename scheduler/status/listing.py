"""All integrations at a glance: each one's overall badge computed in SQL from ``module_states``, counts per
badge, filters by badge and name, and pages (``bpsync status``, ``/integrations``, ``GET /api/integrations``).

The badge rank below is ``badges.module_badge`` and ``overall_badge`` in SQL (tests check they agree): one
grouped query over one row per (integration, module) ranks every integration, so filtering and counting cost
O(integrations); only the page's integrations are then read in full.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from scheduler.status.badges import LABELS, URGENCY, WORKING_RUN_STATUSES
from scheduler.status.overview import CURRENT, UNFINISHED, IntegrationStatus, integration_statuses
from scheduler.status.timefmt import iso
from shared.clock import utcnow
from shared.db.schema import integrations, module_states

MAX_PAGE = 1000


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


def badge_rank(now: dt.datetime) -> sa.ColumnElement[int]:
    """The module's badge as its index in URGENCY (0 = Disabled … 5 = Not synced yet)."""
    running = CURRENT.c.id.is_not(None)
    paused = sa.and_(integrations.c.paused_until.is_not(None), integrations.c.paused_until > now)
    # rows from before wait_reason existed were all quota waits (as module_badge reads them)
    quota_wait = sa.and_(sa.func.coalesce(CURRENT.c.wait_reason, "quota") != "retry", CURRENT.c.waiting_until > now)
    return sa.case(
        (integrations.c.state == "disabled", URGENCY.index("disabled")),
        (sa.and_(running, sa.or_(paused, quota_wait)), URGENCY.index("waiting")),
        (running, URGENCY.index("in_progress")),
        (module_states.c.last_status.is_(None), URGENCY.index("not_synced")),
        (module_states.c.last_status.in_(WORKING_RUN_STATUSES), URGENCY.index("active")),
        else_=URGENCY.index("failed"),
    )


def ranked_states() -> sa.FromClause:
    """Every integration with its modules' states and unfinished module runs, what ``badge_rank`` reads."""
    return integrations.outerjoin(module_states, module_states.c.integration_id == integrations.c.id).outerjoin(
        CURRENT, sa.and_(CURRENT.c.id == module_states.c.current_module_run_id, CURRENT.c.status.in_(UNFINISHED))
    )


def integration_badges(conn: sa.Connection, now: dt.datetime) -> list[tuple[int, str, str]]:
    """(id, name, overall badge state) of every integration, by id."""
    rows = conn.execute(
        sa.select(integrations.c.id, integrations.c.name, sa.func.min(badge_rank(now)))
        .select_from(ranked_states())
        .group_by(integrations.c.id, integrations.c.name)
        .order_by(integrations.c.id)
    ).all()
    return [(int(i), str(name), URGENCY[int(rank)]) for i, name, rank in rows]


@dataclass(frozen=True)
class IntegrationPage:
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
        return {
            "generated_at": iso(self.generated_at),
            "integrations": [s.as_json() for s in self.statuses],
            "total": self.total,
            "offset": self.offset,
            "limit": self.limit,
            "next_offset": self.next_offset,
            "badge_counts": {s: self.badge_counts.get(s, 0) for s in URGENCY},
        }


def integration_page(
    engine: sa.Engine,
    *,
    badge: str | None = None,
    name: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    now: dt.datetime | None = None,
) -> IntegrationPage:
    """Integrations by id, filtered by overall badge (code or label) and name (substring, any case), one page."""
    now = now or utcnow()
    wanted = badge_state(badge)
    if limit is not None and not 1 <= limit <= MAX_PAGE:
        raise BadFilter(f"limit must be a whole number from 1 to {MAX_PAGE}, got {limit!r}")
    if offset < 0:
        raise BadFilter(f"offset must be 0 or more, got {offset!r}")
    with engine.connect() as conn:
        ranked = integration_badges(conn, now)
    needle = (name or "").strip().lower()
    named = [r for r in ranked if needle in r[1].lower()] if needle else ranked
    counts: dict[str, int] = {}
    for _, _, state in named:
        counts[state] = counts.get(state, 0) + 1
    matching = [r for r in named if r[2] == wanted] if wanted else named
    chosen = matching[offset : offset + limit if limit is not None else None]
    everything = not needle and not wanted and offset == 0 and limit is None
    # every integration: no id list (a 1,000-literal IN list costs more than it filters)
    statuses = integration_statuses(engine, now=now, ids=None if everything else [r[0] for r in chosen])
    return IntegrationPage(statuses, len(matching), offset, limit, counts, now)
