"""What a timesheets run reads: its mode and projects, fixed when it starts, then each project's windows.

The instant poll and webhooks read the RECENT months of linked projects (a webhook run only those its events named);
any other run is FULL, over every linked project and every project with an open error (its logs are recorded as
blocked). Every run takes the pending webhook events: the months they name are read besides, and the logs they say
were deleted are not searched for. The run's state is the paging's cursor, kept in the module run's checkpoint:
``upgraded`` reads the shapes earlier versions wrote.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from shared.clock import utcnow
from shared.db import links, sync_errors, timelog_scans, webhook_events
from shared.db.schema import entity_links, sync_runs
from shared.zoho.projects_models import COMPONENTS
from worker.modules.base import SyncContext
from worker.modules.timelog_windows import (
    FULL,
    RECENT,
    ProjectScan,
    earliest_log_date,
    first_deep_read_at,
    plan_scan,
    portal_today,
)

INSTANT_TRIGGER, WEBHOOK_TRIGGER = "instant", "webhook"
DELETED_EVENT = "timelog.deleted"


def start(ctx: SyncContext, entity_type: str) -> dict[str, Any]:
    """The run's state at its first page; ``entity_type``: the links of the logs the run lists."""
    trigger = _trigger(ctx)
    mode = RECENT if trigger in (INSTANT_TRIGGER, WEBHOOK_TRIGGER) else FULL
    with ctx.engine.begin() as conn:
        # every kind of run reads at least the recent months of every project an event named: all are covered
        events = webhook_events.take_pending(conn, ctx.integration.id, ctx.module_run.id, utcnow())
        linked = set(links.books_ids_of(conn, ctx.integration.id, "project"))
        failed = set(sync_errors.open_error_ids(conn, ctx.integration.id, "project")) if mode == FULL else set()
    wanted = linked & {e.project_id for e in events} if trigger == WEBHOOK_TRIGGER else linked | failed
    starts: dict[str, str] = {}
    if mode == FULL and wanted:
        # one listing (a call per 100 projects) gives every project's earliest possible log date
        day = portal_today()
        for project in ctx.projects.iter_projects():
            if project.id in wanted:
                starts[project.id] = earliest_log_date(project.start_date, project.created_ms, day).isoformat()
    return {
        "mode": mode,
        "projects": sorted(wanted),
        "linked": sorted(linked),
        "starts": starts,
        "extra": _event_months(ctx, events, entity_type),
        # Projects said these were deleted: no need to search other months for them
        "deleted": sorted({e.log_id for e in events if e.log_id and e.event == DELETED_EVENT}),
        "index": 0,
        "scan": None,
    }


def upgraded(run: dict[str, Any]) -> dict[str, Any]:
    """A run's state written by an earlier version (a run resumed across an upgrade) in today's shape: before 0002
    it said ``recent`` instead of its mode, and read no months or deletions that webhooks named."""
    mode = run.get("mode") or (RECENT if run.get("recent") else FULL)
    return {"extra": {}, "deleted": [], **run, "mode": mode}


def _trigger(ctx: SyncContext) -> str | None:
    with ctx.engine.connect() as conn:
        return conn.execute(sa.select(sync_runs.c.trigger).where(sync_runs.c.id == ctx.module_run.sync_run_id)).scalar()


def _event_months(ctx: SyncContext, events: Sequence[sa.Row[Any]], entity_type: str) -> dict[str, dict[str, list[str]]]:
    """Days whose months webhooks named, by project and component: a known log's recorded date (an edit or deletion
    of an old log) and the date the event carries (a new log back-dated before every other log of its project)."""
    extra: dict[str, dict[str, set[str]]] = {}

    def add(project: str, components: tuple[str, ...], day: str) -> None:
        for component in components:
            extra.setdefault(project, {}).setdefault(component, set()).add(day)

    for event in events:
        payload = event.payload or {}
        if payload.get("log_date"):
            named = payload.get("component_type")
            add(event.project_id, (named,) if named in COMPONENTS else COMPONENTS, payload["log_date"])
    project_of_log = {e.log_id: e.project_id for e in events if e.log_id}
    with ctx.engine.connect() as conn:
        known = links.links_for(conn, ctx.integration.id, entity_type, project_of_log)
    for log_id, link in known.items():
        logged, component = link.attributes.get("log_date"), link.attributes.get("component")
        if logged and component:
            add(project_of_log[log_id], (component,), logged)
    return {p: {c: sorted(days) for c, days in by_c.items()} for p, by_c in extra.items()}


def tasks_and_bugs(ctx: SyncContext, project_id: str) -> dict[str, set[str]]:
    """Task and bug ids of the project that we know of (linked, pending or failed at creation)."""
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            sa.select(entity_links.c.entity_type, entity_links.c.projects_id).where(
                entity_links.c.integration_id == ctx.integration.id,
                entity_links.c.entity_type.in_(("task", "bug")),
                entity_links.c.parent_projects_id == project_id,
            )
        ).all()
    found: dict[str, set[str]] = {"task": set(), "bug": set()}
    for row in rows:
        found[row.entity_type].add(row.projects_id)
    return found


def project_windows(ctx: SyncContext, run: dict[str, Any], project_id: str) -> ProjectScan:
    """The windows ``plan_scan`` picks for one project of the run."""
    if run["mode"] == RECENT:
        earliest: dt.date | None = dt.date.min  # only the recent months are read anyway
    else:
        start = run["starts"].get(project_id)
        earliest = dt.date.fromisoformat(start) if start else None  # not listed: deleted in Projects
    known = tasks_and_bugs(ctx, project_id)
    failed = project_id not in run["linked"]  # read in full so every log is recorded as blocked
    wanted = {"task": failed or bool(known["task"]), "bug": failed or bool(known["bug"])}
    wanted["general"] = ctx.integration.general_timesheets
    learned: dict[str, timelog_scans.Learned] = {}
    if run["mode"] == FULL:
        with ctx.engine.connect() as conn:
            learned = timelog_scans.learned_for(conn, ctx.integration.id, project_id)
    extra = run["extra"].get(project_id, {})
    return plan_scan(
        earliest=earliest,
        today=portal_today(),
        mode=run["mode"],
        components=tuple(c for c in COMPONENTS if wanted[c]),
        learned=learned,
        extra={c: {dt.date.fromisoformat(d) for d in days} for c, days in extra.items()},
        now=utcnow(),
        deep_period=_deep_period(ctx),
    )


def logs_start(ctx: SyncContext, run: dict[str, Any], project_id: str) -> dt.date:
    """The earliest day a log of the project can carry."""
    start = run["starts"].get(project_id)
    if start:
        return dt.date.fromisoformat(start)
    project = ctx.projects.get_project(project_id)  # a recent scan did not list the projects
    return earliest_log_date(project.start_date, project.created_ms, portal_today())


def learn(ctx: SyncContext, project_id: str, plan: ProjectScan, hits: dict[str, str]) -> None:
    """Remember where the project's logs start, so daily runs between deep reads skip the empty months; ``hits``:
    the earliest month each component held a log in, in this FULL run's read of the project."""
    now, period = utcnow(), _deep_period(ctx)
    with ctx.engine.begin() as conn:
        learned = timelog_scans.learned_for(conn, ctx.integration.id, project_id)
        for component in plan.components:
            hit = dt.date.fromisoformat(hits[component]) if component in hits else None
            known = learned.get(component)
            if component in plan.deep:
                at = now if known is not None else first_deep_read_at(project_id, now, period)
            elif known is not None and hit is not None and (known.first_month is None or hit < known.first_month):
                at = known.deep_read_at  # a log appeared before the known first month: remember it, not a deep read
            else:
                continue
            timelog_scans.remember(conn, ctx.integration.id, project_id, component, first_month=hit, deep_read_at=at)


def _deep_period(ctx: SyncContext) -> dt.timedelta:
    return dt.timedelta(days=ctx.settings.timelog_deep_read_days)
