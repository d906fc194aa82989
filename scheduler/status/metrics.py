"""What /metrics reports, read from the database at scrape time (the database is the source of truth, so
every web replica reports the same numbers and nothing is lost when a worker restarts).

Counters are totals kept as module runs and sync runs end (``module_states``, ``sync_run_totals``): history
retention never lowers them, and a scrape reads one row per (integration, module), never the history.
Labels are chosen for a Prometheus server watching 1,000 tenants (README, "/metrics"): one series per integration
for what an operator alerts on, per module only while it runs; record and run counters per module, summed over
integrations.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from scheduler.status.badges import URGENCY
from scheduler.status.listing import badge_rank, ranked_states
from scheduler.status.overview import CURRENT, UNFINISHED
from shared.clock import as_utc, utcnow
from shared.db.module_states import RUN_STATUSES
from shared.db.schema import integrations, module_states, open_error_counts, sync_run_totals

RECORD_OUTCOMES = ("fetched", "created", "updated", "unchanged", "skipped", "failed", "blocked")


@dataclass(frozen=True)
class MetricsSnapshot:
    modules_in_progress: dict[tuple[str, str], int]  # (integration, module) -> 1 while queued or running
    module_runs_by_status: dict[tuple[str, str], int]  # (module, status) of ended module runs
    sync_runs_by_status: dict[str, int]  # status of ended sync runs
    records: dict[tuple[str, str], int]  # (module, outcome)
    api_calls: dict[tuple[str, str], int]  # (integration, api): Zoho's quotas are per organization and portal
    throttled_calls: dict[tuple[str, str], int]  # 429 answers, (integration, api); api is "any"; none: absent
    open_errors: dict[str, int]  # integration -> open errors of all its modules; none: absent
    last_success_age_seconds: dict[str, float]  # integration -> age of its stalest module's last success
    quota_wait_seconds: dict[str, float]  # integration -> seconds until Zoho's quota reopens; not paused: absent
    integrations_by_state: dict[str, int]
    integrations_by_badge: dict[str, int]  # overall badge state -> integrations


def metrics_snapshot(engine: sa.Engine, now: dt.datetime | None = None) -> MetricsSnapshot:
    now = now or utcnow()
    with engine.connect() as conn:
        # one pass over module_states per integration: its badge, stalest success and Zoho calls
        listed = conn.execute(
            sa.select(
                integrations.c.id,
                integrations.c.name,
                integrations.c.state,
                integrations.c.paused_until,
                sa.func.min(badge_rank(now)),
                sa.func.min(module_states.c.last_success_at),
                sa.func.sum(module_states.c.projects_calls),
                sa.func.sum(module_states.c.books_calls),
                sa.func.sum(module_states.c.throttled_calls),
            )
            .select_from(ranked_states())
            .group_by(integrations.c.id)
        ).all()
        names = {r.id: r.name for r in listed}
        running = conn.execute(
            sa.select(module_states.c.integration_id, module_states.c.module).join(
                CURRENT,
                sa.and_(CURRENT.c.id == module_states.c.current_module_run_id, CURRENT.c.status.in_(UNFINISHED)),
            )
        ).all()
        errors = conn.execute(
            sa.select(open_error_counts.c.integration_id, sa.func.sum(open_error_counts.c.open_errors))
            .where(open_error_counts.c.open_errors > 0)
            .group_by(open_error_counts.c.integration_id)
        ).all()
        totals = [*(f"runs_{s}" for s in RUN_STATUSES), *RECORD_OUTCOMES]
        by_module = conn.execute(
            sa.select(module_states.c.module, *(sa.func.sum(module_states.c[c]) for c in totals)).group_by(
                module_states.c.module
            )
        ).all()
        runs = conn.execute(
            sa.select(sync_run_totals.c.status, sa.func.sum(sync_run_totals.c.runs)).group_by(sync_run_totals.c.status)
        ).all()

    module_runs: dict[tuple[str, str], int] = {}
    records: dict[tuple[str, str], int] = {}
    for module, *sums in by_module:
        counted = dict(zip(totals, (int(t or 0) for t in sums), strict=True))
        module_runs |= {(module, s): counted[f"runs_{s}"] for s in RUN_STATUSES if counted[f"runs_{s}"]}
        records |= {(module, o): counted[o] for o in RECORD_OUTCOMES}
    api_calls: dict[tuple[str, str], int] = {}
    throttled: dict[tuple[str, str], int] = {}
    by_state: dict[str, int] = {}
    waits: dict[str, float] = {}
    by_badge: dict[str, int] = {}
    stalest: dict[str, float] = {}
    for _, name, state, paused_until, rank, last_success, projects, books, throttled_calls in listed:
        by_state[state] = by_state.get(state, 0) + 1
        badge = URGENCY[int(rank)]
        by_badge[badge] = by_badge.get(badge, 0) + 1
        if last_success is not None:
            stalest[name] = max(0.0, (now - as_utc(last_success)).total_seconds())
        paused = as_utc(paused_until)
        if paused is not None and paused > now:  # only integrations waiting: a series per tenant costs the scrape
            waits[name] = (paused - now).total_seconds()
        if projects is None:  # no module_states row yet: no call series
            continue
        api_calls |= {(name, "projects"): int(projects), (name, "books"): int(books)}
        # module runs count 429s without telling which API sent them; Projects' lockout makes them rare
        if throttled_calls:  # most tenants never see one: no series for them
            throttled[(name, "any")] = int(throttled_calls)
    return MetricsSnapshot(
        modules_in_progress={(names[i], m): 1 for i, m in running},
        module_runs_by_status=module_runs,
        sync_runs_by_status={status: int(n) for status, n in runs},
        records=records,
        api_calls=api_calls,
        throttled_calls=throttled,
        open_errors={names[i]: int(n) for i, n in errors},
        last_success_age_seconds=stalest,
        quota_wait_seconds=waits,
        integrations_by_state=by_state,
        integrations_by_badge=by_badge,
    )
