"""A database with a history and open errors written as rows, the cases that make the history and error reads
differ if they get a filter or an order wrong: two integrations whose runs interleave, every module, a planned
module's rows (ranked after the known ones), resolved errors among the open ones, children blocked by a parent's
error, missing names and hints."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from shared.clock import utcnow
from shared.config import load_settings
from shared.crypto import new_key
from shared.db import engine as dbe
from shared.db import module_states
from shared.db.integrations import create_integration
from shared.db.schema import module_runs, sync_errors, sync_runs
from shared.modules import MODULE_ORDER

KEY = new_key()
NAMES = ("acme", "beta", "idle")  # idle never ran and has no errors
TRIGGERS = ("beat", "manual", "webhook", "instant")


def seed(url: str) -> sa.Engine:
    """Write the rows into the migrated database at ``url``; its engine."""
    engine = dbe.make_engine(url)
    settings = load_settings(secret_key=KEY)
    ids = [
        create_integration(engine, settings, name=name, organization_id=str(n), portal_id="p", credentials={"x": 1}).id
        for n, name in enumerate(NAMES)
    ]
    start = utcnow().replace(microsecond=123456) - dt.timedelta(days=2)
    with engine.begin() as conn:
        for run in range(5):
            for iid in ids[:2]:  # the two integrations' runs interleave: a filter by integration skips ids
                _run(conn, iid, run, start + dt.timedelta(hours=run, minutes=iid))
        for iid in ids[:2]:
            _errors(conn, iid, start)
            module_states.rebuild(conn, iid)
    return engine


def _run(conn: sa.Connection, iid: int, run: int, at: dt.datetime) -> None:
    last = run == 4  # the newest run is still going: its last modules have not started
    modules = [*MODULE_ORDER, "expenses"] if run % 2 else list(MODULE_ORDER)
    run_id = conn.execute(
        sync_runs.insert().values(
            integration_id=iid,
            trigger=TRIGGERS[run % len(TRIGGERS)],
            modules=modules,
            status="running" if last else ("partial" if run % 2 else "succeeded"),
            requested_at=at,
            started_at=at + dt.timedelta(seconds=1),
        )
    ).inserted_primary_key[0]
    for position, module in enumerate(modules):
        began = at + dt.timedelta(seconds=10 * position + 1)
        started = not last or position < 3
        conn.execute(
            module_runs.insert().values(
                sync_run_id=run_id,
                integration_id=iid,
                module=module,
                position=position,
                status=("running" if position == 2 else "succeeded" if position < 2 else "queued")
                if last
                else "succeeded",
                started_at=began if started else None,
                finished_at=began + dt.timedelta(seconds=7.25) if started and not (last and position == 2) else None,
                error="Books said no" if module == "projects" and run % 2 else None,
                **{c: 100 * iid + 10 * run + position + k for k, c in enumerate(COUNTED)},
            )
        )


COUNTED = ("fetched", "created", "updated", "unchanged", "skipped", "failed", "blocked", "api_calls")


def _errors(conn: sa.Connection, iid: int, at: dt.datetime) -> None:
    """Per integration: failed projects (some resolved), tasks and bugs blocked by them, other reasons elsewhere."""

    def error(module: str, entity: str, n: int, reason: str, **values: object) -> int:
        seen = at + dt.timedelta(minutes=n)
        row = {
            "integration_id": iid,
            "module": module,
            "entity_type": entity,
            "source_id": f"{entity}-{n}",
            "source_name": f"{entity.title()} {n}" if n % 3 else None,
            "reason_code": reason,
            "message": f"{entity} {n} of #{iid}: {reason}",
            "hint": None if reason == "unknown" else f"fix {reason}",
            "attempts": 1 + n % 4,
            "first_seen_at": seen,
            "last_seen_at": seen + dt.timedelta(hours=1),
        } | values
        return conn.execute(sync_errors.insert().values(**row)).inserted_primary_key[0]

    # written children first for some: ids do not follow module order, which the details sort by
    error("tasks", "task", 0, "unknown")
    parents = [error("projects", "project", n, "no_primary_client") for n in range(4)]
    error("projects", "project", 10, "no_primary_client", resolved_at=at + dt.timedelta(hours=3))
    error("projects", "project", 11, "books_rejected")
    for n, parent in enumerate(parents[:3] * 2):
        error("tasks" if n % 2 else "bugs", "task" if n % 2 else "bug", 20 + n, "parent_failed", blocked_by=parent)
    error("bugs", "bug", 40, "parent_failed", blocked_by=parents[0], resolved_at=at + dt.timedelta(hours=4))
    error("clients", "client", 50, "linked_by_email")
    error("expenses", "expense", 60, "unknown")
    error("users", "user", 70 + iid, "unknown")
