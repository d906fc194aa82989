"""Sync History: one entry per module run, newest first (``bpsync history``, web, /api).

A tenant's history walks the index (integration_id, id) or (integration_id, module, id) from its newest row, so
an idle tenant costs an index probe, not a scan of every tenant's rows. The reads are SQL text on a DB-API
connection (scheduler/status/reads.py), so ``bpsync history`` does not load SQLAlchemy."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from scheduler.status.overview import COUNTERS
from scheduler.status.reads import Connectable, Reader, of_integration_and_module, reading, timestamp
from scheduler.status.timefmt import iso, seconds_between

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
    engine: Connectable | Reader, ref: int | str | None = None, *, module: str | None = None, limit: int = 50
) -> list[HistoryEntry]:
    """Module runs of one integration (id or name) or all, optionally of one module, newest first."""
    with reading(engine) as reader:
        where, params = of_integration_and_module(reader, "m", ref, module)
        rows = reader.rows(
            f"""SELECT m.id, m.sync_run_id, m.integration_id, i.name, m.module, r.trigger, m.status, r.requested_at,
  m.started_at, m.finished_at, {", ".join(f"m.{c}" for c in COUNTERS)}, m.error
FROM module_runs m
JOIN sync_runs r ON r.id = m.sync_run_id
JOIN integrations i ON i.id = m.integration_id
{"WHERE " + " AND ".join(where) if where else ""}
ORDER BY m.id DESC
LIMIT :limit""",
            limit=limit,
            **params,
        )
    return [_entry(r) for r in rows]


def _entry(row: tuple[Any, ...]) -> HistoryEntry:
    module_run_id, sync_run_id, iid, name, module, trigger, status, requested_at, started_at, finished_at = row[:10]
    counts = dict(zip(COUNTERS, (int(n) for n in row[10:-1]), strict=True))
    api_calls = counts.pop("api_calls")
    return HistoryEntry(
        module_run_id=module_run_id,
        run_id=sync_run_id,
        integration_id=iid,
        integration=name,
        module=module,
        trigger=trigger,
        status=status,
        requested_at=timestamp(requested_at),
        started_at=timestamp(started_at),
        finished_at=timestamp(finished_at),
        counts=counts,
        api_calls=api_calls,
        error=row[-1],
    )


def run_status(engine: Connectable | Reader, run_id: int) -> str | None:
    """The status of a sync run (None if there is no such run): for commands that wait on one."""
    with reading(engine) as reader:
        found = reader.rows("SELECT status FROM sync_runs WHERE id = :run", run=run_id)
    return found[0][0] if found else None
