"""What /metrics reports, read from the database at scrape time (the database is the source of truth, so
every web replica reports the same numbers and nothing is lost when a worker restarts).

Counters here are sums over module_runs/sync_runs rows; they only go down if an integration is deleted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from scheduler.status.badges import WORKING_RUN_STATUSES
from scheduler.status.history import RECORD_COUNTERS
from scheduler.status.overview import UNFINISHED, open_error_counts
from shared.clock import as_utc, utcnow
from shared.db.schema import integrations, module_runs, sync_runs

API_COLUMNS = ("projects_calls", "books_calls", "throttled_calls")


@dataclass(frozen=True)
class MetricsSnapshot:
    # (integration, module) -> value, unless said otherwise
    modules_in_progress: dict[tuple[str, str], int]
    module_runs_by_status: dict[tuple[str, str, str], int]  # (integration, module, status)
    sync_runs_by_status: dict[tuple[str, str], int]  # (integration, status)
    records: dict[tuple[str, str, str], int]  # (integration, module, outcome)
    api_calls: dict[tuple[str, str, str], int]  # (integration, module, api)
    throttled_calls: dict[tuple[str, str, str], int]  # 429 answers, (integration, module, api)
    open_errors: dict[tuple[str, str], int]
    last_success_age_seconds: dict[tuple[str, str], float]
    quota_wait_seconds: dict[str, float]  # integration -> seconds until Zoho's quota reopens (0: not paused)
    integrations_by_state: dict[str, int]


def metrics_snapshot(engine: sa.Engine, now: dt.datetime | None = None) -> MetricsSnapshot:
    now = now or utcnow()
    with engine.connect() as conn:
        names = {r.id: r.name for r in conn.execute(sa.select(integrations.c.id, integrations.c.name))}
        in_progress = conn.execute(
            sa.select(module_runs.c.integration_id, module_runs.c.module, sa.func.count())
            .join(sync_runs, sync_runs.c.id == module_runs.c.sync_run_id)
            .where(module_runs.c.status.in_(UNFINISHED), sync_runs.c.status.in_(UNFINISHED))
            .group_by(module_runs.c.integration_id, module_runs.c.module)
        ).all()
        sums = [sa.func.sum(module_runs.c[c]) for c in (*RECORD_COUNTERS, *API_COLUMNS)]
        per_module = conn.execute(
            sa.select(
                module_runs.c.integration_id, module_runs.c.module, module_runs.c.status, sa.func.count(), *sums
            ).group_by(module_runs.c.integration_id, module_runs.c.module, module_runs.c.status)
        ).all()
        runs = conn.execute(
            sa.select(sync_runs.c.integration_id, sync_runs.c.status, sa.func.count()).group_by(
                sync_runs.c.integration_id, sync_runs.c.status
            )
        ).all()
        last_success = conn.execute(
            sa.select(module_runs.c.integration_id, module_runs.c.module, sa.func.max(module_runs.c.finished_at))
            .where(module_runs.c.status.in_(WORKING_RUN_STATUSES))
            .group_by(module_runs.c.integration_id, module_runs.c.module)
        ).all()
        errors = open_error_counts(conn)
        states = conn.execute(sa.select(integrations.c.id, integrations.c.state, integrations.c.paused_until)).all()

    records: dict[tuple[str, str, str], int] = {}
    api_calls: dict[tuple[str, str, str], int] = {}
    throttled: dict[tuple[str, str, str], int] = {}
    by_status: dict[tuple[str, str, str], int] = {}
    for iid, module, status, count, *totals in per_module:
        name = names[iid]
        by_status[(name, module, status)] = int(count)
        counted = dict(zip((*RECORD_COUNTERS, *API_COLUMNS), (int(t or 0) for t in totals), strict=True))
        for outcome in RECORD_COUNTERS:
            records[(name, module, outcome)] = records.get((name, module, outcome), 0) + counted[outcome]
        for api in ("projects", "books"):
            api_calls[(name, module, api)] = api_calls.get((name, module, api), 0) + counted[f"{api}_calls"]
        # module runs count 429s without telling which API sent them; Projects' lockout makes them rare
        throttled[(name, module, "any")] = throttled.get((name, module, "any"), 0) + counted["throttled_calls"]
    by_state: dict[str, int] = {}
    waits: dict[str, float] = {}
    for iid, state, paused_until in states:
        by_state[state] = by_state.get(state, 0) + 1
        paused = as_utc(paused_until)
        waits[names[iid]] = max(0.0, (paused - now).total_seconds()) if paused else 0.0
    return MetricsSnapshot(
        modules_in_progress={(names[i], m): int(n) for i, m, n in in_progress},
        module_runs_by_status=by_status,
        sync_runs_by_status={(names[i], s): int(n) for i, s, n in runs},
        records=records,
        api_calls=api_calls,
        throttled_calls=throttled,
        open_errors={(names[i], m): n for (i, m), n in errors.items()},
        last_success_age_seconds={
            (names[i], m): max(0.0, (now - as_utc(t)).total_seconds()) for i, m, t in last_success if t is not None
        },
        quota_wait_seconds=waits,
        integrations_by_state=by_state,
    )
