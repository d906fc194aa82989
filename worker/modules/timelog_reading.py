"""Paging of the timesheets module: which projects a run reads, each project's windows, and which linked logs are gone.

The checkpointed state walks the run's projects one by one. For each project it reads the windows that
``timelog_windows.plan_scan`` picks, then:

- **verifies** the linked logs those windows should have returned but did not: a log can vanish from its month
  because it was deleted or because its date was edited into a month this scan does not read (a daily run
  between deep reads, an instant poll). Those components' other months are read, newest first, until every
  missing log is found (it then updates its entry with the new date) or none are left; only logs found nowhere
  are retired. A deep read covers every month already, so it never verifies; nor does a log that a
  ``timelog.deleted`` webhook named (Projects said it is gone);
- remembers where the project's logs start (``timelog_scans``), on daily runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa

from shared.clock import utcnow
from shared.db import links, timelog_scans, webhook_events
from shared.db.schema import entity_links, sync_runs
from shared.zoho.errors import NotFound
from shared.zoho.projects_models import COMPONENTS, Component
from worker.modules.base import SourcePage, SyncContext
from worker.modules.per_project import project_ids
from worker.modules.timelog_windows import (
    FULL,
    RECENT,
    ProjectScan,
    earliest_log_date,
    first_deep_read_at,
    months_between,
    plan_scan,
)

ENTITY = "timesheet"
INSTANT_TRIGGER = "instant"
WEBHOOK_TRIGGER = "webhook"
DELETED_EVENT = "timelog.deleted"
# Zoho refuses logs in the future by the portal's local date, which can be a day ahead of UTC.
LOCAL_DATE_SLACK = dt.timedelta(days=1)


@dataclass(frozen=True)
class GoneLog:
    """A linked log that no window read returns any more: deleted in Projects."""

    link: links.Link


def today() -> dt.date:
    return (utcnow() + LOCAL_DATE_SLACK).date()


def pages(ctx: SyncContext, cursor: dict[str, Any] | None) -> SourcePage:
    state = _upgraded(cursor) if cursor else _start(ctx)
    if state["index"] >= len(state["projects"]):
        return SourcePage([], None)
    project_id = state["projects"][state["index"]]
    scan = state["scan"] or {"plan": _plan(ctx, state, project_id).to_json(), "w": 0, "page": None, "seen": []}
    plan = ProjectScan.from_json(scan["plan"])
    try:
        if scan["w"] < len(plan.windows):
            component, month = plan.windows[scan["w"]]
            items, scan = _read(ctx, project_id, scan, component, month)
            return SourcePage(items, {**state, "scan": scan})
        if "verify" not in scan:
            scan = {**scan, "verify": _verify_plan(ctx, state, project_id, plan, set(scan["seen"]))}
        scan = {**scan, "verify": _skip_found(scan["verify"])}
        window = _verify_window(scan["verify"])
        if window is not None:
            items, scan = _read(ctx, project_id, scan, *window)
            return SourcePage(items, {**state, "scan": scan})
    except NotFound:  # the project was deleted in Projects meanwhile: leave its links for the next full run
        return SourcePage([], _next_project(state))
    if state["mode"] == FULL:
        _learn(ctx, project_id, plan, scan.get("hits", {}))
    return SourcePage(_gone(ctx, project_id, set(scan["verify"]["unseen"]) - set(scan["seen"])), _next_project(state))


def _read(
    ctx: SyncContext, project_id: str, scan: dict[str, Any], component: str, month: dt.date
) -> tuple[list[Any], dict[str, Any]]:
    """One page of one window; the scan moves on to the next page or window."""
    verify = scan.get("verify")
    cursor = verify["page"] if verify else scan["page"]
    page = ctx.projects.timelogs_page(
        project_id,
        cursor,
        # the window's component is one of COMPONENTS (a checkpoint keeps it as a plain string)
        component=cast(Component, component),
        view_type="month",
        date=month,
        bill_status="All",
    )
    found = [log.id for log in page.items]
    hits = dict(scan.get("hits", {}))
    if page.items and (component not in hits or month.isoformat() < hits[component]):
        hits[component] = month.isoformat()
    scan = {**scan, "seen": scan["seen"] + found, "hits": hits}
    if verify is None:
        moved = {"page": page.next_cursor} if page.next_cursor else {"w": scan["w"] + 1, "page": None}
        return page.items, {**scan, **moved}
    returned = set(found)
    missing = {c: [i for i in ids if i not in returned] for c, ids in verify["missing"].items()}
    moved = {"page": page.next_cursor} if page.next_cursor else {"w": verify["w"] + 1, "page": None}
    return page.items, {**scan, "verify": {**verify, **moved, "missing": missing}}


def _verify_windows(verify: dict[str, Any]) -> list[tuple[str, dt.date]]:
    return [(c, dt.date.fromisoformat(m)) for c, months in verify["months"].items() for m in months]


def _skip_found(verify: dict[str, Any]) -> dict[str, Any]:
    """Moved past the windows of components none of whose logs are missing any more."""
    windows, w = _verify_windows(verify), verify["w"]
    while w < len(windows) and not verify["missing"].get(windows[w][0]):
        w += 1
    return verify if w == verify["w"] else {**verify, "w": w, "page": None}


def _verify_window(verify: dict[str, Any]) -> tuple[str, dt.date] | None:
    windows = _verify_windows(verify)
    return windows[verify["w"]] if verify["w"] < len(windows) else None


def _verify_plan(
    ctx: SyncContext, state: dict[str, Any], project_id: str, plan: ProjectScan, seen: set[str]
) -> dict[str, Any]:
    """The months to search for linked logs that the plan's windows should have returned but did not."""
    unseen = _covered_unseen(ctx, project_id, plan, seen)
    deleted = set(state.get("deleted", ()))
    missing: dict[str, list[str]] = {}
    for link in unseen:
        component = link.attributes.get("component", "")
        if link.projects_id not in deleted and component not in plan.deep:
            missing.setdefault(component, []).append(link.projects_id)
    months: dict[str, list[str]] = {}
    if missing:
        earliest = _earliest(ctx, state, project_id)
        everything = months_between(earliest, today()) if earliest else []
        for component in missing:
            read = set(plan.months[component])
            months[component] = [m.isoformat() for m in reversed(everything) if m not in read]
    # what the end of the project retires unless a verify window returns it
    candidates = sorted(link.projects_id for link in unseen)
    return {"months": months, "missing": missing, "unseen": candidates, "w": 0, "page": None}


def _earliest(ctx: SyncContext, state: dict[str, Any], project_id: str) -> dt.date | None:
    start = state["starts"].get(project_id)
    if start:
        return dt.date.fromisoformat(start)
    project = ctx.projects.get_project(project_id)  # a recent scan did not list the projects
    return earliest_log_date(project.start_date, project.created_ms, today())


def _trigger(ctx: SyncContext) -> str | None:
    with ctx.engine.connect() as conn:
        return conn.execute(sa.select(sync_runs.c.trigger).where(sync_runs.c.id == ctx.module_run.sync_run_id)).scalar()


def _start(ctx: SyncContext) -> dict[str, Any]:
    trigger = _trigger(ctx)
    mode = RECENT if trigger in (INSTANT_TRIGGER, WEBHOOK_TRIGGER) else FULL
    with ctx.engine.begin() as conn:
        # every kind of run reads at least the recent months of every project an event named: all are covered
        events = webhook_events.take_pending(conn, ctx.integration.id, ctx.module_run.id, utcnow())
        linked = {pid for pid, link in links.links_of(conn, ctx.integration.id, "project").items() if link.books_id}
    if trigger == WEBHOOK_TRIGGER:
        wanted = sorted(linked & {e.project_id for e in events})
    else:
        wanted = sorted(linked) if mode == RECENT else project_ids(ctx)
    starts: dict[str, str] = {}
    if mode == FULL and wanted:
        # one listing (a call per 100 projects) gives every project's earliest possible log date
        day, keep = today(), set(wanted)
        for project in ctx.projects.iter_projects():
            if project.id in keep:
                starts[project.id] = earliest_log_date(project.start_date, project.created_ms, day).isoformat()
    return {
        "mode": mode,
        "projects": wanted,
        "linked": sorted(linked),
        "starts": starts,
        "extra": _event_months(ctx, events),
        # Projects said these were deleted: no need to search other months for them
        "deleted": sorted({e.log_id for e in events if e.log_id and e.event == DELETED_EVENT}),
        "index": 0,
        "scan": None,
    }


def _event_months(ctx: SyncContext, events: Sequence[sa.Row[Any]]) -> dict[str, dict[str, list[str]]]:
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
    log_ids = sorted({e.log_id for e in events if e.log_id})
    if log_ids:
        with ctx.engine.connect() as conn:
            rows = conn.execute(
                sa.select(entity_links.c.projects_id, entity_links.c.attributes).where(
                    entity_links.c.integration_id == ctx.integration.id,
                    entity_links.c.entity_type == ENTITY,
                    entity_links.c.projects_id.in_(log_ids),
                )
            ).all()
        by_log_project = {e.log_id: e.project_id for e in events if e.log_id}
        for row in rows:
            attributes = row.attributes or {}
            logged, component = attributes.get("log_date"), attributes.get("component")
            if logged and component:
                add(by_log_project[row.projects_id], (component,), logged)
    return {p: {c: sorted(days) for c, days in by_c.items()} for p, by_c in extra.items()}


def _subjects(ctx: SyncContext, project_id: str) -> dict[str, set[str]]:
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


def _deep_period(ctx: SyncContext) -> dt.timedelta:
    return dt.timedelta(days=ctx.settings.timelog_deep_read_days)


def _plan(ctx: SyncContext, state: dict[str, Any], project_id: str) -> ProjectScan:
    if state["mode"] == RECENT:
        earliest: dt.date | None = dt.date.min  # only the recent months are read anyway
    else:
        start = state["starts"].get(project_id)
        earliest = dt.date.fromisoformat(start) if start else None  # not listed: deleted in Projects
    subjects = _subjects(ctx, project_id)
    failed = project_id not in state["linked"]  # read in full so every log is recorded as blocked
    wanted = {"task": failed or bool(subjects["task"]), "bug": failed or bool(subjects["bug"])}
    wanted["general"] = ctx.integration.general_timesheets
    learned: dict[str, timelog_scans.Learned] = {}
    if state["mode"] == FULL:
        with ctx.engine.connect() as conn:
            learned = timelog_scans.learned_for(conn, ctx.integration.id, project_id)
    extra = state["extra"].get(project_id, {})
    return plan_scan(
        earliest=earliest,
        today=today(),
        mode=state["mode"],
        components=tuple(c for c in COMPONENTS if wanted[c]),
        learned=learned,
        extra={c: {dt.date.fromisoformat(d) for d in days} for c, days in extra.items()},
        now=utcnow(),
        deep_period=_deep_period(ctx),
    )


def _upgraded(cursor: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint written by the version before 0002 (a run resumed across an upgrade) in today's shape."""
    if "mode" in cursor:
        return cursor
    return {**cursor, "mode": RECENT if cursor.get("recent") else FULL, "extra": {}}


def _learn(ctx: SyncContext, project_id: str, plan: ProjectScan, hits: dict[str, str]) -> None:
    """Remember where the project's logs start, so daily runs between deep reads skip the empty months."""
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


def _next_project(state: dict[str, Any]) -> dict[str, Any] | None:
    index = state["index"] + 1
    return {**state, "index": index, "scan": None} if index < len(state["projects"]) else None


def _log_links(ctx: SyncContext, project_id: str) -> list[links.Link]:
    """Linked logs of the project: under the project itself (general logs) or under its tasks and bugs."""
    parents = {project_id}.union(*_subjects(ctx, project_id).values())
    with ctx.engine.connect() as conn:
        return links.links_under(conn, ctx.integration.id, ENTITY, parents)


def _covered_unseen(ctx: SyncContext, project_id: str, plan: ProjectScan, seen: set[str]) -> list[links.Link]:
    """Linked logs of the project dated in a window the plan read, that no window read returned."""
    if not plan.windows:
        return []
    return [
        link
        for link in _log_links(ctx, project_id)
        if link.projects_id not in seen
        and link.attributes.get("log_date")
        and plan.covers(link.attributes.get("component", ""), dt.date.fromisoformat(link.attributes["log_date"]))
    ]


def _gone(ctx: SyncContext, project_id: str, log_ids: set[str]) -> list[GoneLog]:
    if not log_ids:
        return []
    return [GoneLog(link) for link in _log_links(ctx, project_id) if link.projects_id in log_ids]
