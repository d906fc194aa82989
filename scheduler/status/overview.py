"""Status per integration and module: badge, last success, next run, open errors (``bpsync status``, web).

Read from ``module_states`` (kept current as module runs change, shared/db/module_states.py) joined by primary
key to the module run it shows, and from ``open_error_counts``: the cost grows with the integrations asked
for, never with the history.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from scheduler.status.badges import Badge, module_badge, overall_badge
from scheduler.status.timefmt import iso
from shared.clock import as_utc, utcnow
from shared.db.integrations import Integration, get_integration
from shared.db.runs import COUNTERS
from shared.db.schema import integrations, module_runs, module_states, open_error_counts
from shared.modules import MODULE_ORDER

UNFINISHED = ("queued", "running")
Key = tuple[int, str]  # (integration id, module)
# the module run a status shows: the unfinished one (its pointer is checked against its status, so a row
# changed by hand never shows as running), else the last one that ended
CURRENT = module_runs.alias("current_run")
LAST = module_runs.alias("last_run")
RUN_COLUMNS = ("status", "sync_run_id", "error", *COUNTERS)


@dataclass(frozen=True)
class ModuleStatus:
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
        return {
            "module": self.module,
            "state": self.badge.state,
            "badge": self.badge.label,
            "resumes_at": iso(self.badge.resumes_at),
            "detail": self.badge.detail,
            "run_status": self.run_status,
            "run_id": self.run_id,
            "counts": self.counts,
            "error": self.error,
            "last_success_at": iso(self.last_success_at),
            "last_finished_at": iso(self.last_finished_at),
            "open_errors": self.open_errors,
        }


@dataclass(frozen=True)
class IntegrationStatus:
    integration: Integration
    modules: list[ModuleStatus] = field(default_factory=list)

    @property
    def badge(self) -> Badge:
        return overall_badge([m.badge for m in self.modules])

    @property
    def open_errors(self) -> int:
        return sum(m.open_errors for m in self.modules)

    @property
    def in_progress(self) -> bool:
        return any(m.badge.state == "in_progress" for m in self.modules)

    def as_json(self) -> dict[str, Any]:
        i = self.integration
        return {
            "id": i.id,
            "name": i.name,
            "state": i.state,
            "badge": self.badge.label,
            "badge_state": self.badge.state,
            "books_organization_id": i.books_organization_id,
            "projects_portal_id": i.projects_portal_id,
            "data_center": i.data_center,
            "sync_interval_seconds": i.sync_interval_seconds,
            "next_run_at": iso(i.next_run_at) if i.state == "active" else None,
            "paused_until": iso(i.paused_until),
            "paused_reason": i.paused_reason,
            "open_errors": self.open_errors,
            "modules": [m.as_json() for m in self.modules],
        }


def integration_statuses(
    engine: sa.Engine,
    ref: int | str | None = None,
    now: dt.datetime | None = None,
    *,
    ids: list[int] | None = None,
) -> list[IntegrationStatus]:
    """Status of one integration (``ref``: id or name; IntegrationNotFound if unknown), of ``ids`` (in that
    order), or of all of them."""
    now = now or utcnow()
    if ref is not None:
        ids = [get_integration(engine, ref).id]
    with engine.connect() as conn:
        chosen = _integrations(conn, ids)
        if not chosen:
            return []
        states = _states(conn, ids)
        errors = open_error_counts_of(conn, ids)
    seen = {m for _, m in (*states, *errors)}
    modules = [*MODULE_ORDER, *sorted(seen - set(MODULE_ORDER))]
    sweep_every = _sweep_every()
    return [
        IntegrationStatus(i, [_module_status(i, m, now, states.get((i.id, m)), errors, sweep_every) for m in modules])
        for i in chosen
    ]


def _integrations(conn: sa.Connection, ids: list[int] | None) -> list[Integration]:
    query = sa.select(integrations).order_by(integrations.c.id)
    if ids is not None:
        query = query.where(_id_in(integrations.c.id, ids, conn))
    found = [Integration.from_row(r) for r in conn.execute(query)]
    if ids is None:
        return found
    by_id = {i.id: i for i in found}
    return [by_id[i] for i in ids if i in by_id]


# positions in a _states row (read by index: a status of 1,000 integrations builds 6,000 of them)
_RUN = len(RUN_COLUMNS)
CURRENT_AT, LAST_AT = 9, 9 + _RUN  # current: status, sync_run_id, error, counters; last: sync_run_id, error, counters


def _states(conn: sa.Connection, ids: list[int] | None) -> dict[Key, tuple[Any, ...]]:
    query = sa.select(
        module_states.c.integration_id,
        module_states.c.module,
        module_states.c.last_status,
        module_states.c.last_finished_at,
        module_states.c.last_success_at,
        CURRENT.c.id.label("current_id"),
        CURRENT.c.waiting_until,
        CURRENT.c.wait_reason,
        CURRENT.c.lease_until,
        *(CURRENT.c[c].label(f"current_{c}") for c in RUN_COLUMNS),
        module_states.c.last_module_run_id,
    ).outerjoin(
        # the few unfinished module runs (partial index): a hash join of a few hundred rows
        CURRENT,
        sa.and_(CURRENT.c.id == module_states.c.current_module_run_id, CURRENT.c.status.in_(UNFINISHED)),
    )
    if ids is not None:
        query = query.where(_id_in(module_states.c.integration_id, ids, conn))
    rows = conn.execute(query).all()
    # The last runs by primary key in a query of their own: joined above, PostgreSQL merges the whole
    # module_runs index for every integration's status (0.5 s at a million rows) instead of looking them up.
    wanted = [r[-1] for r in rows if r[-1] is not None]
    query = sa.select(LAST.c.id, *(LAST.c[c] for c in RUN_COLUMNS if c != "status"))
    last = {r[0]: tuple(r[1:]) for r in conn.execute(query.where(_id_in(LAST.c.id, wanted, conn)))}
    missing = (None,) * (len(RUN_COLUMNS) - 1)
    return {(r[0], r[1]): (*r[:-1], *last.get(r[-1], missing)) for r in rows}


def _id_in(column: sa.ColumnElement[int], ids: list[int], conn: sa.Connection) -> sa.ColumnElement[bool]:
    # PostgreSQL gets one array parameter: 6,000 ids as an IN list cost more to send and plan than to look up
    if conn.dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam("ids", ids, type_=postgresql.ARRAY(sa.Integer)))
    return column.in_(ids)


def _module_status(
    integration: Integration,
    module: str,
    now: dt.datetime,
    state: tuple[Any, ...] | None,
    errors: dict[Key, int],
    sweep_every: float,
) -> ModuleStatus:
    open_errors = errors.get((integration.id, module), 0)
    if state is None:  # never ran
        badge = module_badge(
            disabled=integration.state == "disabled",
            now=now,
            paused_until=None,
            waiting_until=None,
            in_progress=False,
            last_finished_status=None,
        )
        return ModuleStatus(module, badge, None, None, {}, None, None, None, open_errors)
    _, _, last_status, last_finished_at, last_success_at, current_id, waiting_until, wait_reason, lease_until = state[
        :CURRENT_AT
    ]
    running = current_id is not None
    badge = module_badge(
        disabled=integration.state == "disabled",
        now=now,
        paused_until=integration.paused_until,
        waiting_until=as_utc(waiting_until) if running else None,
        in_progress=running,
        last_finished_status=last_status,
        wait_reason=wait_reason if running else None,
        lease_until=as_utc(lease_until) if running else None,
        sweep_every=sweep_every,
    )
    if running:
        run_status, run_id, error = state[CURRENT_AT : CURRENT_AT + 3]
        counts = dict(zip(COUNTERS, state[CURRENT_AT + 3 : LAST_AT], strict=True))
    else:
        run_status, (run_id, error) = last_status, state[LAST_AT : LAST_AT + 2]
        counts = dict(zip(COUNTERS, state[LAST_AT + 2 :], strict=True)) if run_id is not None else {}
    return ModuleStatus(
        module=module,
        badge=badge,
        run_status=run_status,
        run_id=run_id,
        counts=counts,
        error=error,
        last_success_at=as_utc(last_success_at),
        last_finished_at=as_utc(last_finished_at),
        open_errors=open_errors,
    )


def _sweep_every() -> float:
    # the beat's tick sweeps; status is read by the CLI and the web app, which share the beat's environment
    from shared.config import ConfigError, get_settings

    try:
        return get_settings().beat_tick_seconds
    except ConfigError:
        return 30.0


def open_error_counts_of(conn: sa.Connection, ids: list[int] | None = None) -> dict[Key, int]:
    query = sa.select(open_error_counts).where(open_error_counts.c.open_errors > 0)
    if ids is not None:
        query = query.where(_id_in(open_error_counts.c.integration_id, ids, conn))
    return {(r.integration_id, r.module): int(r.open_errors) for r in conn.execute(query)}
