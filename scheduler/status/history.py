"""Sync History: one entry per module run, newest first (``bpsync history``, web, /api).

A tenant's history walks the index (integration_id, id) or (integration_id, module, id) from its newest row, so
an idle tenant costs an index probe, not a scan of every tenant's rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from scheduler.status.timefmt import iso, seconds_between
from shared.clock import as_utc
from shared.db.integrations import get_integration
from shared.db.runs import COUNTERS
from shared.db.schema import integrations, module_runs, sync_runs

RECORD_COUNTERS = tuple(c for c in COUNTERS if c != "api_calls")


@dataclass(frozen=True)
class HistoryEntry:
    module_run_id: int
    run_id: int
    integration_id: int
    integration: str
    module: str
    trigger: str
    status: str
    requested_at: dt.datetime | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    counts: dict[str, int]
    api_calls: int
    error: str | None

    @property
    def duration_seconds(self) -> float | None:
        return seconds_between(self.started_at, self.finished_at)

    def as_json(self) -> dict[str, Any]:
        return {
            "module_run_id": self.module_run_id,
            "run_id": self.run_id,
            "integration_id": self.integration_id,
            "integration": self.integration,
            "module": self.module,
            "trigger": self.trigger,
            "status": self.status,
            "requested_at": iso(self.requested_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "duration_seconds": self.duration_seconds,
            "counts": self.counts,
            "api_calls": self.api_calls,
            "error": self.error,
        }


def sync_history(
    engine: sa.Engine, ref: int | str | None = None, *, module: str | None = None, limit: int = 50
) -> list[HistoryEntry]:
    """Module runs of one integration (id or name) or all, optionally of one module, newest first."""
    query = (
        sa.select(module_runs, sync_runs.c.trigger, sync_runs.c.requested_at, integrations.c.name)
        .join(sync_runs, sync_runs.c.id == module_runs.c.sync_run_id)
        .join(integrations, integrations.c.id == module_runs.c.integration_id)
        .order_by(module_runs.c.id.desc())
        .limit(limit)
    )
    if ref is not None:
        query = query.where(module_runs.c.integration_id == get_integration(engine, ref).id)
    if module is not None:
        query = query.where(module_runs.c.module == module)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [_entry(r) for r in rows]


def _entry(row: sa.Row) -> HistoryEntry:
    m = row._mapping
    return HistoryEntry(
        module_run_id=m["id"],
        run_id=m["sync_run_id"],
        integration_id=m["integration_id"],
        integration=m["name"],
        module=m["module"],
        trigger=m["trigger"],
        status=m["status"],
        requested_at=as_utc(m["requested_at"]),
        started_at=as_utc(m["started_at"]),
        finished_at=as_utc(m["finished_at"]),
        counts={c: int(m[c]) for c in RECORD_COUNTERS},
        api_calls=int(m["api_calls"]),
        error=m["error"],
    )


def run_status(engine: sa.Engine, run_id: int) -> str | None:
    """The status of a sync run (None if there is no such run): for commands that wait on one."""
    with engine.connect() as conn:
        return conn.execute(sa.select(sync_runs.c.status).where(sync_runs.c.id == run_id)).scalar()
