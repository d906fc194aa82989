"""Error Summary (open errors grouped by module and reason) and Error Details (the rows).

Only open errors are shown: an error is resolved the moment its record syncs, so what is listed is exactly
what still needs an admin (or a parent fix, for blocked records).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from scheduler.status.timefmt import iso
from shared.clock import as_utc
from shared.db.integrations import MAX_ID, get_integration
from shared.db.schema import integrations, sync_errors
from shared.modules import MODULE_ORDER


class SyncErrorNotFound(LookupError):
    def __init__(self, error_id: int) -> None:
        super().__init__(f"no sync error #{error_id}; list open errors with: bpsync errors --details")


@dataclass(frozen=True)
class ErrorGroup:
    integration_id: int
    integration: str
    module: str
    reason_code: str
    count: int
    example_error_id: int
    example_message: str
    hint: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "integration_id": self.integration_id,
            "integration": self.integration,
            "module": self.module,
            "reason_code": self.reason_code,
            "count": self.count,
            "example_error_id": self.example_error_id,
            "example_message": self.example_message,
            "hint": self.hint,
        }


@dataclass(frozen=True)
class ErrorDetail:
    id: int
    integration_id: int
    integration: str
    module: str
    entity_type: str
    source_id: str
    source_name: str | None
    reason_code: str
    message: str
    hint: str | None
    blocked_by: int | None
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime
    attempts: int
    resolved_at: dt.datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "integration_id": self.integration_id,
            "integration": self.integration,
            "module": self.module,
            "entity_type": self.entity_type,
            "source_id": self.source_id,
            "source_name": self.source_name,
            "reason_code": self.reason_code,
            "message": self.message,
            "hint": self.hint,
            "blocked_by": self.blocked_by,
            "first_seen_at": iso(self.first_seen_at),
            "last_seen_at": iso(self.last_seen_at),
            "attempts": self.attempts,
            "resolved_at": iso(self.resolved_at),
        }


def _module_rank(module: str) -> int:
    return MODULE_ORDER.index(module) if module in MODULE_ORDER else len(MODULE_ORDER)


def _open(ref_id: int | None, module: str | None) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = [sync_errors.c.resolved_at.is_(None)]
    if ref_id is not None:
        where.append(sync_errors.c.integration_id == ref_id)
    if module is not None:
        where.append(sync_errors.c.module == module)
    return where


def error_summary(engine: sa.Engine, ref: int | str | None = None, *, module: str | None = None) -> list[ErrorGroup]:
    """Open errors grouped by integration, module and reason; the example is the most recent error."""
    ref_id = get_integration(engine, ref).id if ref is not None else None
    with engine.connect() as conn:
        groups = conn.execute(
            sa.select(
                sync_errors.c.integration_id,
                sync_errors.c.module,
                sync_errors.c.reason_code,
                sa.func.count().label("records"),
                sa.func.max(sync_errors.c.id).label("example_id"),
            )
            .where(*_open(ref_id, module))
            .group_by(sync_errors.c.integration_id, sync_errors.c.module, sync_errors.c.reason_code)
        ).all()
        examples = {
            r.id: r
            for r in conn.execute(
                sa.select(sync_errors.c.id, sync_errors.c.message, sync_errors.c.hint, integrations.c.name)
                .join(integrations, integrations.c.id == sync_errors.c.integration_id)
                .where(sync_errors.c.id.in_([g.example_id for g in groups]))
            )
        }
    summary = [
        ErrorGroup(
            integration_id=g.integration_id,
            integration=examples[g.example_id].name,
            module=g.module,
            reason_code=g.reason_code,
            count=int(g.records),
            example_error_id=g.example_id,
            example_message=examples[g.example_id].message,
            hint=examples[g.example_id].hint,
        )
        for g in groups
    ]
    return sorted(summary, key=lambda g: (g.integration_id, _module_rank(g.module), -g.count, g.reason_code))


def error_details(
    engine: sa.Engine, ref: int | str | None = None, *, module: str | None = None, limit: int | None = None
) -> list[ErrorDetail]:
    """Open error rows in module order (parents first, so a blocked child follows the error blocking it)."""
    ref_id = get_integration(engine, ref).id if ref is not None else None
    query = _detail_query().where(*_open(ref_id, module)).order_by(sync_errors.c.integration_id, sync_errors.c.id)
    with engine.connect() as conn:
        rows = [_detail(r) for r in conn.execute(query)]
    rows.sort(key=lambda e: (e.integration_id, _module_rank(e.module)))
    return rows[:limit] if limit is not None else rows


def get_error(engine: sa.Engine, error_id: int) -> ErrorDetail:
    """One error, open or resolved (SyncErrorNotFound if there is none)."""
    if not 0 < error_id <= MAX_ID:
        raise SyncErrorNotFound(error_id)
    with engine.connect() as conn:
        row = conn.execute(_detail_query().where(sync_errors.c.id == error_id)).first()
    if row is None:
        raise SyncErrorNotFound(error_id)
    return _detail(row)


def errors_blocked_by(engine: sa.Engine, error_id: int) -> list[ErrorDetail]:
    with engine.connect() as conn:
        rows = conn.execute(
            _detail_query().where(sync_errors.c.blocked_by == error_id, sync_errors.c.resolved_at.is_(None))
        ).all()
    return [_detail(r) for r in rows]


def _detail_query() -> sa.Select:
    return sa.select(sync_errors, integrations.c.name.label("integration_name")).join(
        integrations, integrations.c.id == sync_errors.c.integration_id
    )


def _detail(row: sa.Row) -> ErrorDetail:
    m = row._mapping
    return ErrorDetail(
        id=m["id"],
        integration_id=m["integration_id"],
        integration=m["integration_name"],
        module=m["module"],
        entity_type=m["entity_type"],
        source_id=m["source_id"],
        source_name=m["source_name"],
        reason_code=m["reason_code"],
        message=m["message"],
        hint=m["hint"],
        blocked_by=m["blocked_by"],
        first_seen_at=as_utc(m["first_seen_at"]),
        last_seen_at=as_utc(m["last_seen_at"]),
        attempts=int(m["attempts"]),
        resolved_at=as_utc(m["resolved_at"]),
    )
