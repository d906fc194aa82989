"""Status per integration and module: badge, last success, next run, open errors (``bpsync status``, web).

Four grouped queries answer it for any number of integrations, so the status page and /metrics stay cheap
with many tenants.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from scheduler.status.badges import WORKING_RUN_STATUSES, Badge, module_badge, overall_badge
from scheduler.status.timefmt import iso
from shared.clock import as_utc, utcnow
from shared.db.integrations import Integration, get_integration, list_integrations
from shared.db.runs import COUNTERS, FINISHED
from shared.db.schema import module_runs, sync_errors, sync_runs
from shared.modules import MODULE_ORDER

UNFINISHED = ("queued", "running")
# "blocked" is a module_runs status the schema allows; a module run that ends in it did not work.
ENDED = (*FINISHED, "blocked")
Key = tuple[int, str]  # (integration id, module)


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
    engine: sa.Engine, ref: int | str | None = None, now: dt.datetime | None = None
) -> list[IntegrationStatus]:
    """Status of one integration (``ref``: id or name; IntegrationNotFound if unknown) or of all of them."""
    now = now or utcnow()
    chosen = [get_integration(engine, ref)] if ref is not None else list_integrations(engine)
    ids = [i.id for i in chosen]
    if not ids:
        return []
    with engine.connect() as conn:
        unfinished = _unfinished_module_runs(conn, ids)
        finished = _last_finished_module_runs(conn, ids)
        success = _last_success(conn, ids)
        errors = open_error_counts(conn, ids)
    seen = {m for _, m in (*unfinished, *finished, *errors)}
    modules = [*MODULE_ORDER, *sorted(seen - set(MODULE_ORDER))]
    return [
        IntegrationStatus(i, [_module_status(i, m, now, unfinished, finished, success, errors) for m in modules])
        for i in chosen
    ]


def _module_status(
    integration: Integration,
    module: str,
    now: dt.datetime,
    unfinished: dict[Key, sa.Row],
    finished: dict[Key, sa.Row],
    success: dict[Key, dt.datetime],
    errors: dict[Key, int],
) -> ModuleStatus:
    key = (integration.id, module)
    current, last = unfinished.get(key), finished.get(key)
    badge = module_badge(
        disabled=integration.state == "disabled",
        now=now,
        paused_until=integration.paused_until,
        waiting_until=as_utc(current.waiting_until) if current is not None else None,
        in_progress=current is not None,
        last_finished_status=last.status if last is not None else None,
        wait_reason=current.wait_reason if current is not None else None,
        lease_until=as_utc(current.lease_until) if current is not None else None,
        sweep_every=_sweep_every(),
    )
    shown = current if current is not None else last
    return ModuleStatus(
        module=module,
        badge=badge,
        run_status=shown.status if shown is not None else None,
        run_id=shown.sync_run_id if shown is not None else None,
        counts={c: int(getattr(shown, c)) for c in COUNTERS} if shown is not None else {},
        error=shown.error if shown is not None else None,
        last_success_at=success.get(key),
        last_finished_at=as_utc(last.finished_at) if last is not None else None,
        open_errors=errors.get(key, 0),
    )


def _sweep_every() -> float:
    # the beat's tick sweeps; status is read by the CLI and the web app, which share the beat's environment
    from shared.config import ConfigError, get_settings

    try:
        return get_settings().beat_tick_seconds
    except ConfigError:
        return 30.0


def _unfinished_module_runs(conn: sa.Connection, ids: list[int]) -> dict[Key, sa.Row]:
    rows = conn.execute(
        sa.select(module_runs)
        .join(sync_runs, sync_runs.c.id == module_runs.c.sync_run_id)
        .where(
            module_runs.c.integration_id.in_(ids),
            module_runs.c.status.in_(UNFINISHED),
            sync_runs.c.status.in_(UNFINISHED),
        )
        # the running sync has the lower id; a queued follow-up run waits behind it
        .order_by(module_runs.c.sync_run_id.desc())
    ).all()
    return {(r.integration_id, r.module): r for r in rows}


def _last_finished_module_runs(conn: sa.Connection, ids: list[int]) -> dict[Key, sa.Row]:
    latest = (
        sa.select(sa.func.max(module_runs.c.id))
        .where(module_runs.c.integration_id.in_(ids), module_runs.c.status.in_(ENDED))
        .group_by(module_runs.c.integration_id, module_runs.c.module)
    )
    rows = conn.execute(sa.select(module_runs).where(module_runs.c.id.in_(latest))).all()
    return {(r.integration_id, r.module): r for r in rows}


def _last_success(conn: sa.Connection, ids: list[int]) -> dict[Key, dt.datetime]:
    rows = conn.execute(
        sa.select(module_runs.c.integration_id, module_runs.c.module, sa.func.max(module_runs.c.finished_at))
        .where(module_runs.c.integration_id.in_(ids), module_runs.c.status.in_(WORKING_RUN_STATUSES))
        .group_by(module_runs.c.integration_id, module_runs.c.module)
    ).all()
    return {(r[0], r[1]): as_utc(r[2]) for r in rows if r[2] is not None}


def open_error_counts(conn: sa.Connection, ids: list[int] | None = None) -> dict[Key, int]:
    query = (
        sa.select(sync_errors.c.integration_id, sync_errors.c.module, sa.func.count())
        .where(sync_errors.c.resolved_at.is_(None))
        .group_by(sync_errors.c.integration_id, sync_errors.c.module)
    )
    if ids is not None:
        query = query.where(sync_errors.c.integration_id.in_(ids))
    return {(r[0], r[1]): int(r[2]) for r in conn.execute(query)}
