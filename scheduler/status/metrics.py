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
from scheduler.status.listing import BADGE_RANK, RANKED_STATES
from scheduler.status.overview import UNFINISHED_SQL
from scheduler.status.reads import reading, timestamp
from shared.clock import utcnow
from shared.db.module_states import RUN_STATUSES
from shared.db.schema import module_states, open_error_counts, sync_run_totals

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
    with reading(engine) as reader:
        # one pass over module_states per integration: its badge, stalest success and Zoho calls
        listed = reader.rows(
            f"""SELECT i.id, i.name, i.state, i.paused_until, min({BADGE_RANK}), min(s.last_success_at),
                       sum(s.projects_calls), sum(s.books_calls), sum(s.throttled_calls)
                FROM {RANKED_STATES} GROUP BY i.id, i.name, i.state, i.paused_until""",
            now=reader.when(now),
        )
        running = reader.rows(
            f"""SELECT s.integration_id, s.module FROM module_states s
                JOIN module_runs c ON c.id = s.current_module_run_id AND c.status IN {UNFINISHED_SQL}"""
        )
    names = {r[0]: r[1] for r in listed}
    with engine.connect() as conn:
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
        succeeded_at = timestamp(last_success)
        if succeeded_at is not None:
            stalest[name] = max(0.0, (now - succeeded_at).total_seconds())
        paused = timestamp(paused_until)
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
