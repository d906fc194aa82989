"""Status per integration and module: badge, last success, next run, open errors (``bpsync status``, web).

Read from ``module_states`` (kept current as module runs change, shared/db/module_states.py) joined by primary
key to the module run it shows, and from ``open_error_counts``: the cost grows with the integrations asked
for, never with the history. The reads are SQL text on a DB-API connection (scheduler/status/reads.py), so
``bpsync status`` does not load SQLAlchemy.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from scheduler.status.badges import LABELS, NOT_SYNCED, URGENCY, Badge, module_badge, overall_badge
from scheduler.status.reads import Connectable, Reader, integration_id, reading, timestamp
from scheduler.status.timefmt import iso
from shared.clock import utcnow
from shared.modules import MODULE_ORDER

UNFINISHED = ("queued", "running")
UNFINISHED_SQL = "('queued', 'running')"
# shared.db.runs.COUNTERS, without loading SQLAlchemy (tests/scheduler/test_status.py checks they agree)
COUNTERS = ("fetched", "created", "updated", "unchanged", "skipped", "failed", "blocked", "api_calls")
Key = tuple[int, str]  # (integration id, module)
RUN_COLUMNS = ("status", "sync_run_id", "error", *COUNTERS)
_URGENCY_RANK = {state: rank for rank, state in enumerate(URGENCY)}


@dataclass(frozen=True)
class IntegrationSummary:
    """What a status shows of its integration: who it connects, its schedule and preferences (never credentials)."""

    id: int
    name: str
    state: str
    books_organization_id: str
    projects_portal_id: str
    data_center: str
    sync_interval_seconds: int
    next_run_at: dt.datetime | None
    paused_until: dt.datetime | None
    paused_reason: str | None
    contact_duplication: str
    general_timesheets: bool
    timesheet_cutoff_date: dt.date | None

    COLUMNS = (
        "id, name, state, books_organization_id, projects_portal_id, data_center, sync_interval_seconds, "
        "next_run_at, paused_until, paused_reason, contact_duplication, general_timesheets, timesheet_cutoff_date"
    )

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> IntegrationSummary:
        i, name, state, org, portal, dc, interval, next_run_at, paused_until, reason, contacts, general, cutoff = row
        if isinstance(cutoff, str):  # SQLite holds dates as text
            cutoff = dt.date.fromisoformat(cutoff)
        return cls(
            i,
            name,
            state,
            org,
            portal,
            dc,
            interval,
            timestamp(next_run_at),
            timestamp(paused_until),
            reason,
            contacts,
            bool(general),
            cutoff,
        )


@dataclass(frozen=True)
class ModuleStatus:
    """A module's badge and the module run it is about (a docstring: see badges.Badge's)."""

    module: str
    badge: Badge
    run_status: str | None  # the module run the badge is about: the unfinished one, else the last finished
    run_id: int | None
    counts: dict[str, int]
    error: str | None
    last_success_at: dt.datetime | None
    last_finished_at: dt.datetime | None
    open_errors: int

    def as_json(self) -> dict[str, Any]:
        return module_json(
            self.module,
            self.badge,
            self.run_status,
            self.run_id,
            self.counts,
            self.error,
            self.last_success_at,
            self.last_finished_at,
            self.open_errors,
        )


def module_json(
    module: str,
    badge: Badge,
    run_status: str | None,
    run_id: int | None,
    counts: dict[str, int],
    error: str | None,
    last_success_at: dt.datetime | None,
    last_finished_at: dt.datetime | None,
    open_errors: int,
    when: Callable[[dt.datetime | None], Any] = iso,
) -> dict[str, Any]:
    """A module's status in JSON: ModuleStatus.as_json, and integration_statuses_json without the ModuleStatus;
    ``when`` writes its timestamps (timefmt.iso, or as_written for a JSON writer that formats them the same)."""
    return {
        "module": module,
        "state": badge.state,
        "badge": LABELS[badge.state],
        "resumes_at": when(badge.resumes_at),
        "detail": badge.detail,
        "run_status": run_status,
        "run_id": run_id,
        "counts": counts,
        "error": error,
        "last_success_at": when(last_success_at),
        "last_finished_at": when(last_finished_at),
        "open_errors": open_errors,
    }


@dataclass(frozen=True)
class IntegrationStatus:
    """An integration with its modules' statuses, in MODULE_ORDER (a docstring: see badges.Badge's)."""

    integration: IntegrationSummary
    modules: list[ModuleStatus] = field(default_factory=list)

    @functools.cached_property  # asked for twice by as_json, again by pages; the modules never change
    def badge(self) -> Badge:
        return overall_badge([m.badge for m in self.modules])

    @property
    def open_errors(self) -> int:
        return sum(m.open_errors for m in self.modules)

    @property
    def in_progress(self) -> bool:
        return any(m.badge.state == "in_progress" for m in self.modules)

    def as_json(self) -> dict[str, Any]:
        return integration_json(self.integration, self.badge.state, [m.as_json() for m in self.modules])


def integration_json(
    i: IntegrationSummary,
    badge_state: str,
    modules: list[dict[str, Any]],
    when: Callable[[dt.datetime | None], Any] = iso,
) -> dict[str, Any]:
    """An integration's status in JSON, ``badge_state`` its overall badge's, ``modules`` its modules'
    ``module_json`` (``when`` as there)."""
    return {
        "id": i.id,
        "name": i.name,
        "state": i.state,
        "badge": LABELS[badge_state],
        "badge_state": badge_state,
        "books_organization_id": i.books_organization_id,
        "projects_portal_id": i.projects_portal_id,
        "data_center": i.data_center,
        "sync_interval_seconds": i.sync_interval_seconds,
        "next_run_at": when(i.next_run_at) if i.state == "active" else None,
        "paused_until": when(i.paused_until),
        "paused_reason": i.paused_reason,
        "open_errors": sum(m["open_errors"] for m in modules),
        "modules": modules,
    }


def integration_statuses(
    engine: Connectable | Reader,
    ref: int | str | None = None,
    now: dt.datetime | None = None,
    *,
    ids: list[int] | None = None,
) -> list[IntegrationStatus]:
    """Status of one integration (``ref``: id or name; IntegrationNotFound if unknown), of ``ids`` (in that
    order), or of all of them."""
    read = _read(engine, ref, ids)
    badge_of = _badges(now or utcnow())
    module = _module_fields
    return [
        IntegrationStatus(i, [ModuleStatus(*module(i, m, read, badge_of)) for m in read.modules])
        for i in read.integrations
    ]


def integration_statuses_json(
    engine: Connectable | Reader,
    ref: int | str | None = None,
    now: dt.datetime | None = None,
    *,
    ids: list[int] | None = None,
    when: Callable[[dt.datetime | None], Any] = iso,
) -> list[dict[str, Any]]:
    """``[s.as_json() for s in integration_statuses(...)]`` built from the rows without the objects between:
    ``bpsync status --json`` of 1,000 integrations writes 6,000 module statuses (issue 19). ``when`` writes the
    timestamps, as in ``module_json``."""
    read = _read(engine, ref, ids)
    badge_of = _badges(now or utcnow())
    module = _module_json
    found = []
    for i in read.integrations:
        modules = [module(i, m, read, badge_of, when) for m in read.modules]
        # overall_badge's choice, of the states alone (all integration_json shows of it)
        badge_state = min((m["state"] for m in modules), key=_URGENCY_RANK.__getitem__, default=NOT_SYNCED)
        found.append(integration_json(i, badge_state, modules, when))
    return found


class _Rows(NamedTuple):  # not a dataclass: building one's methods costs every start a millisecond or two
    integrations: list[IntegrationSummary]
    modules: list[str]  # every module's name, in the order statuses list them
    states: dict[Key, tuple[Any, ...]]
    last: dict[int, tuple[Any, ...]]  # the last runs the states name, by id
    errors: dict[Key, int]


def _read(engine: Connectable | Reader, ref: int | str | None, ids: list[int] | None) -> _Rows:
    with reading(engine) as reader:
        if ref is not None:
            ids = [integration_id(reader, ref)]
        chosen = _integrations(reader, ids) if ids != [] else []
        if not chosen:
            return _Rows([], [], {}, {}, {})
        states, last = _states(reader, ids)
        errors = open_error_counts_of(reader, ids)
    seen = {m for _, m in (*states, *errors)}
    return _Rows(chosen, [*MODULE_ORDER, *sorted(seen - set(MODULE_ORDER))], states, last, errors)


def _integrations(reader: Reader, ids: list[int] | None) -> list[IntegrationSummary]:
    where, params = _only(reader, "id", ids)
    rows = reader.rows(f"SELECT {IntegrationSummary.COLUMNS} FROM integrations {where} ORDER BY id", **params)
    found = [IntegrationSummary.from_row(r) for r in rows]
    if ids is None:
        return found
    by_id = {i.id: i for i in found}
    return [by_id[i] for i in ids if i in by_id]


def _only(reader: Reader, column: str, ids: list[int] | None, keyword: str = "WHERE") -> tuple[str, dict[str, Any]]:
    """The condition keeping ``ids`` (none: every row) and its parameter."""
    if ids is None:
        return "", {}
    return f"{keyword} {reader.one_of(column, 'ids')}", {"ids": reader.ids(ids)}


# positions in a _states row (read by index: a status of 1,000 integrations builds 6,000 of them)
_RUN = len(RUN_COLUMNS)
LAST_STATUS, LAST_FINISHED_AT, LAST_SUCCESS_AT, CURRENT_ID, WAITING_UNTIL, WAIT_REASON, LEASE_UNTIL = range(2, 9)
CURRENT_AT, LAST_ID = 9, 9 + _RUN  # current: status, sync_run_id, error, counters; then the last run's id
# the module run a status shows: the unfinished one (its pointer is checked against its status, so a row
# changed by hand never shows as running), else the last one that ended
STATES_SQL = f"""
SELECT s.integration_id, s.module, s.last_status, s.last_finished_at, s.last_success_at,
       c.id, c.waiting_until, c.wait_reason, c.lease_until, {", ".join(f"c.{c}" for c in RUN_COLUMNS)},
       s.last_module_run_id
FROM module_states s
LEFT JOIN module_runs c ON c.id = s.current_module_run_id AND c.status IN {UNFINISHED_SQL}
"""
LAST_RUNS_SQL = f"SELECT id, {', '.join(c for c in RUN_COLUMNS if c != 'status')} FROM module_runs WHERE "


def _states(reader: Reader, ids: list[int] | None) -> tuple[dict[Key, tuple[Any, ...]], dict[int, tuple[Any, ...]]]:
    """The states by (integration, module), and the last runs they name by id (id, sync_run_id, error, counters)."""
    where, params = _only(reader, "s.integration_id", ids)
    rows = reader.rows(STATES_SQL + where, **params)
    if not reader.postgres:  # SQLite's timestamps are text: datetimes from here on, as PostgreSQL's come
        rows = [_timestamped(r) for r in rows]
    # The last runs by primary key in a query of their own: joined above, PostgreSQL reads the whole module_runs
    # table for every integration's status (0.5 s at a million rows) instead of looking them up, and a LATERAL
    # lookup per state took the server longer than this one scan of the index in id order (issue 19).
    wanted = [r[LAST_ID] for r in rows if r[LAST_ID] is not None]
    found = reader.rows(LAST_RUNS_SQL + reader.one_of("id", "ids"), ids=reader.ids(wanted)) if wanted else []
    return {(r[0], r[1]): r for r in rows}, {r[0]: r for r in found}


def _timestamped(row: tuple[Any, ...]) -> tuple[Any, ...]:
    converted = list(row)
    for at in (LAST_FINISHED_AT, LAST_SUCCESS_AT, WAITING_UNTIL, LEASE_UNTIL):
        converted[at] = timestamp(row[at])
    return tuple(converted)


ModuleFields = tuple[
    str, Badge, str | None, int | None, dict[str, int], str | None, dt.datetime | None, dt.datetime | None, int
]


def _module_fields(integration: IntegrationSummary, module: str, read: _Rows, badge_of: _BadgeOf) -> ModuleFields:
    """A ModuleStatus's fields, in its order."""
    key = (integration.id, module)
    open_errors = read.errors.get(key, 0)
    state = read.states.get(key)
    badge = badge_of(integration, state)
    if state is None:  # never ran
        return module, badge, None, None, {}, None, None, None, open_errors
    run_status, run_id, error, counts = _shown_run(state, read)
    return (
        module,
        badge,
        run_status,
        run_id,
        counts,
        error,
        state[LAST_SUCCESS_AT],
        state[LAST_FINISHED_AT],
        open_errors,
    )


def _shown_run(state: tuple[Any, ...], read: _Rows) -> tuple[str | None, int | None, str | None, dict[str, int]]:
    """Status, run id, error and counts of the module run a state shows: the unfinished one, else the last that
    ended, if its row is there (its sync_run_id is never NULL)."""
    if state[CURRENT_ID] is not None:
        run_status, run_id, error = state[CURRENT_AT : CURRENT_AT + 3]
        return run_status, run_id, error, dict(zip(COUNTERS, state[CURRENT_AT + 3 : LAST_ID], strict=True))
    shown = read.last.get(state[LAST_ID])
    if shown is None:
        return state[LAST_STATUS], None, None, {}
    run_id = shown[1]
    counts = dict(zip(COUNTERS, shown[3:], strict=True)) if run_id is not None else {}
    return state[LAST_STATUS], run_id, shown[2], counts


def _module_json(
    integration: IntegrationSummary,
    module: str,
    read: _Rows,
    badge_of: _BadgeOf,
    when: Callable[[dt.datetime | None], Any],
) -> dict[str, Any]:
    """``module_json(*_module_fields(...), when)`` in one step: 6,000 of them at 1,000 integrations, where the
    fields' tuple and the call between cost a tenth of the command's work (issue 19; a test compares the two). The
    run shown is picked by ``_shown_run``, as there."""
    key = (integration.id, module)
    state = read.states.get(key)
    badge = badge_of(integration, state)
    if state is None:  # never ran
        run_status = run_id = error = last_success_at = last_finished_at = None
        counts: dict[str, int] = {}
    else:
        run_status, run_id, error, counts = _shown_run(state, read)
        last_success_at, last_finished_at = state[LAST_SUCCESS_AT], state[LAST_FINISHED_AT]
    resumes_at = badge.resumes_at
    return {
        "module": module,
        "state": badge.state,
        "badge": LABELS[badge.state],
        "resumes_at": None if resumes_at is None else when(resumes_at),
        "detail": badge.detail,
        "run_status": run_status,
        "run_id": run_id,
        "counts": counts,
        "error": error,
        "last_success_at": None if last_success_at is None else when(last_success_at),
        "last_finished_at": None if last_finished_at is None else when(last_finished_at),
        "open_errors": read.errors.get(key, 0),
    }


_BadgeOf = Callable[[IntegrationSummary, "tuple[Any, ...] | None"], Badge]


def _badges(now: dt.datetime) -> _BadgeOf:
    """``module_badge`` of a module (its integration and its _states row, None if it never ran) at ``now``.

    A module with no unfinished run shows a badge of two things alone, its integration disabled or not and how its
    last run ended (module_badge's precedence), so the 6,000 modules of 1,000 integrations ask it of a handful of
    pairs: those badges are remembered (they are immutable), the others judged each (issue 19)."""
    sweep_every = _sweep_every()
    settled: dict[tuple[bool, str | None], Badge] = {}

    def badge_of(integration: IntegrationSummary, state: tuple[Any, ...] | None) -> Badge:
        disabled = integration.state == "disabled"
        if state is None or state[CURRENT_ID] is None:  # no unfinished run
            last_status = state[LAST_STATUS] if state is not None else None
            badge = settled.get((disabled, last_status))
            if badge is None:
                badge = settled[disabled, last_status] = module_badge(
                    disabled=disabled,
                    now=now,
                    paused_until=None,
                    waiting_until=None,
                    in_progress=False,
                    last_finished_status=last_status,
                )
            return badge
        waiting_until, wait_reason, lease_until = state[WAITING_UNTIL : LEASE_UNTIL + 1]
        return module_badge(
            disabled=disabled,
            now=now,
            paused_until=integration.paused_until,
            waiting_until=waiting_until,
            in_progress=True,
            last_finished_status=state[LAST_STATUS],
            wait_reason=wait_reason,
            lease_until=lease_until,
            sweep_every=sweep_every,
        )

    return badge_of


def _sweep_every() -> float:
    # the beat's tick sweeps; status is read by the CLI and the web app, which share the beat's environment
    from shared.config import ConfigError, get_settings

    try:
        return get_settings().beat_tick_seconds
    except ConfigError:
        return 30.0


def open_error_counts_of(reader: Reader, ids: list[int] | None = None) -> dict[Key, int]:
    where, params = _only(reader, "integration_id", ids, "AND")
    rows = reader.rows(
        f"SELECT integration_id, module, open_errors FROM open_error_counts WHERE open_errors > 0 {where}", **params
    )
    return {(int(i), str(m)): int(n) for i, m, n in rows}
