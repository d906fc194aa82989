"""Error Summary (open errors grouped by module and reason) and Error Details (the rows).

Only open errors are shown: an error is resolved the moment its record syncs, so what is listed is exactly
what still needs an admin (or a parent fix, for blocked records). The reads are SQL text on a DB-API connection
(scheduler/status/reads.py), so ``bpsync errors`` does not load SQLAlchemy.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from scheduler.status.reads import MAX_ID, Connectable, Reader, of_integration_and_module, reading, timestamp
from scheduler.status.timefmt import iso
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


def _open(reader: Reader, ref: int | str | None, module: str | None) -> tuple[str, dict[str, Any]]:
    """The WHERE clause of the open errors (of ``ref``'s integration, of ``module``) over ``e``, and its parameters."""
    where, params = of_integration_and_module(reader, "e", ref, module)
    return "WHERE " + " AND ".join(["e.resolved_at IS NULL", *where]), params


def error_summary(
    engine: Connectable | Reader, ref: int | str | None = None, *, module: str | None = None
) -> list[ErrorGroup]:
    """Open errors grouped by integration, module and reason; the example is the most recent error."""
    with reading(engine) as reader:
        where, params = _open(reader, ref, module)
        rows = reader.rows(
            f"""SELECT g.integration_id, i.name, g.module, g.reason_code, g.records, g.example_id, x.message, x.hint
FROM (
  SELECT e.integration_id, e.module, e.reason_code, count(*) AS records, max(e.id) AS example_id
  FROM sync_errors e {where}
  GROUP BY e.integration_id, e.module, e.reason_code
) g
JOIN sync_errors x ON x.id = g.example_id
JOIN integrations i ON i.id = g.integration_id""",
            **params,
        )
    summary = [
        ErrorGroup(iid, name, m, reason, int(n), example, text, hint)
        for iid, name, m, reason, n, example, text, hint in rows
    ]
    return sorted(summary, key=lambda g: (g.integration_id, _module_rank(g.module), -g.count, g.reason_code))


def error_details(
    engine: Connectable | Reader,
    ref: int | str | None = None,
    *,
    module: str | None = None,
    limit: int | None = None,
) -> list[ErrorDetail]:
    """Open error rows in module order (parents first, so a blocked child follows the error blocking it)."""
    with reading(engine) as reader:
        where, params = _open(reader, ref, module)
        rows = [_detail(r) for r in reader.rows(f"{DETAIL} {where} ORDER BY e.integration_id, e.id", **params)]
    rows.sort(key=lambda e: (e.integration_id, _module_rank(e.module)))
    return rows[:limit] if limit is not None else rows


def get_error(engine: Connectable | Reader, error_id: int) -> ErrorDetail:
    """One error, open or resolved (SyncErrorNotFound if there is none)."""
    if not 0 < error_id <= MAX_ID:
        raise SyncErrorNotFound(error_id)
    with reading(engine) as reader:
        found = reader.rows(f"{DETAIL} WHERE e.id = :error", error=error_id)
    if not found:
        raise SyncErrorNotFound(error_id)
    return _detail(found[0])


def errors_blocked_by(engine: Connectable | Reader, error_id: int) -> list[ErrorDetail]:
    """The open errors a failed parent blocks, by id."""
    with reading(engine) as reader:
        rows = reader.rows(
            f"{DETAIL} WHERE e.blocked_by = :error AND e.resolved_at IS NULL ORDER BY e.id", error=error_id
        )
    return [_detail(r) for r in rows]


# an error with its integration's name, in ErrorDetail's field order
DETAIL = """SELECT e.id, e.integration_id, i.name, e.module, e.entity_type, e.source_id, e.source_name, e.reason_code,
  e.message, e.hint, e.blocked_by, e.first_seen_at, e.last_seen_at, e.attempts, e.resolved_at
FROM sync_errors e JOIN integrations i ON i.id = e.integration_id"""


def _detail(row: tuple[Any, ...]) -> ErrorDetail:
    i, iid, name, module, entity, source_id, source_name, reason, message, hint, blocked_by, first, last, n, done = row
    return ErrorDetail(
        i,
        iid,
        name,
        module,
        entity,
        source_id,
        source_name,
        reason,
        message,
        hint,
        blocked_by,
        cast(dt.datetime, timestamp(first)),  # NOT NULL columns
        cast(dt.datetime, timestamp(last)),
        int(n),
        timestamp(done),
    )
