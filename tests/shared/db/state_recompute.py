"""What module_states, open_error_counts and sync_run_totals must hold, recomputed from the whole history in
Python (independent of shared/db/module_states.py): tests compare the kept rows with it."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from shared.clock import as_utc
from shared.db.module_states import ENDED
from shared.db.schema import (
    MODULE_RUN_TOTALS,
    module_runs,
    module_states,
    open_error_counts,
    sync_errors,
    sync_run_totals,
    sync_runs,
)

TOTALS = MODULE_RUN_TOTALS  # every total module_states keeps, recomputed here from the history
CURRENT_FIELDS = (
    "current_module_run_id",
    "last_module_run_id",
    "last_status",
    "last_finished_at",
    "last_success_at",
)


def recompute(engine: sa.Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(module_runs).order_by(module_runs.c.id)).all()
        run_status = dict(conn.execute(sa.select(sync_runs.c.id, sync_runs.c.status)).all())
        runs = conn.execute(sa.select(sync_runs.c.integration_id, sync_runs.c.status)).all()
        errors = conn.execute(
            sa.select(sync_errors.c.integration_id, sync_errors.c.module).where(sync_errors.c.resolved_at.is_(None))
        ).all()
    states: dict[tuple[int, str], dict[str, Any]] = {}
    for r in rows:
        s = states.setdefault(
            (r.integration_id, r.module),
            {f: None for f in CURRENT_FIELDS} | {f"runs_{x}": 0 for x in ENDED} | dict.fromkeys(TOTALS, 0),
        )
        unfinished = r.status in ("queued", "running") and run_status[r.sync_run_id] in ("queued", "running")
        if unfinished and s["current_module_run_id"] is None:
            s["current_module_run_id"] = r.id
        if r.status in ENDED:
            s["last_module_run_id"], s["last_status"] = r.id, r.status
            s["last_finished_at"] = as_utc(r.finished_at)
            s[f"runs_{r.status}"] += 1
            for c in TOTALS:
                s[c] += getattr(r, c)
            done = as_utc(r.finished_at)
            later = done is not None and (s["last_success_at"] is None or done >= s["last_success_at"])
            if r.status in ("succeeded", "partial") and later:
                s["last_success_at"] = done
    open_counts: dict[tuple[int, str], int] = {}
    for e in errors:
        open_counts[(e.integration_id, e.module)] = open_counts.get((e.integration_id, e.module), 0) + 1
    totals: dict[tuple[int, str], int] = {}
    for r in runs:
        if r.status not in ("queued", "running"):
            totals[(r.integration_id, r.status)] = totals.get((r.integration_id, r.status), 0) + 1
    return {"states": states, "open_errors": open_counts, "sync_runs": totals}


def kept(engine: sa.Engine, *, with_totals: bool = True) -> dict[str, Any]:
    fields = (*CURRENT_FIELDS, *(f"runs_{x}" for x in ENDED), *TOTALS) if with_totals else CURRENT_FIELDS
    with engine.connect() as conn:
        states = {
            (r.integration_id, r.module): {
                f: (as_utc(getattr(r, f)) if f.endswith("_at") else getattr(r, f)) for f in fields
            }
            for r in conn.execute(sa.select(module_states))
        }
        open_counts = {
            (r.integration_id, r.module): r.open_errors
            for r in conn.execute(sa.select(open_error_counts))
            if r.open_errors
        }
        totals = {(r.integration_id, r.status): r.runs for r in conn.execute(sa.select(sync_run_totals))}
    return {"states": states, "open_errors": open_counts, "sync_runs": totals}


def assert_states_match_history(engine: sa.Engine, *, with_totals: bool = True) -> None:
    expected, actual = recompute(engine), kept(engine, with_totals=with_totals)
    if not with_totals:
        expected["states"] = {k: {f: v[f] for f in CURRENT_FIELDS} for k, v in expected["states"].items()}
        expected.pop("sync_runs"), actual.pop("sync_runs")
    assert actual == expected
