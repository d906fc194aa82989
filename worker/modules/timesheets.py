"""timesheets: Projects time logs -> Books time entries (billable AND approved only).

- Task and bug logs always; general logs only with the integration's general-timesheets preference (they go to
  a "General" task of the Books project, created once).
- Logs dated before the cutoff date count as already invoiced: they are NOT written to Books (the public API
  cannot create an invoiced entry, and an unbilled copy could be billed a second time) but claimed in
  billing_claims (side ``cutoff``) so nothing in this system can ever invoice them. No cutoff: all unbilled.
- The owner is the Books user linked by the users module (matched by email; missing ones were created as
  inactive staff) and is assigned to the Books project before the entry is written.
- A log that is edited updates its entry; one that is deleted, or stops being billable/approved (or falls
  before the cutoff), has its entry removed — unless Books already invoiced it: then a ``time_entry_invoiced``
  error, and the entry stays as it is.
- A log whose task, bug or project failed is blocked by that error (the engine, via ``Record.parent``).

Windows and deletions: see ``timelog_windows``. After the last window of a project, its linked logs in the
windows read that the listing no longer returned are retired (deleted in Projects).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from shared.clock import utcnow
from shared.db import links, sync_errors, timelog_scans, webhook_events
from shared.db.schema import entity_links, sync_runs
from shared.db.sync_errors import Problem
from shared.zoho.errors import NotFound
from shared.zoho.projects_models import TimeLog
from worker.modules import timesheet_books as books_side
from worker.modules.base import Record, SourcePage, SyncContext, SyncModule, note_intent, slice_links
from worker.modules.per_project import project_ids
from worker.modules.timelog_windows import (
    COMPONENTS,
    FULL,
    RECENT,
    ProjectScan,
    earliest_log_date,
    first_deep_read_at,
    plan_scan,
)
from worker.modules.timesheet_claims import claim_cutoff, release_cutoff

ENTITY = "timesheet"
INSTANT_TRIGGER = "instant"
WEBHOOK_TRIGGER = "webhook"
# Zoho refuses logs in the future by the portal's local date, which can be a day ahead of UTC.
LOCAL_DATE_SLACK = dt.timedelta(days=1)
GONE = "deleted in Zoho Projects"
NOT_BILLABLE = "no longer billable"
NOT_APPROVED = "no longer approved"
BEFORE_CUTOFF = "dated before the timesheet cutoff date"


@dataclass(frozen=True)
class GoneLog:
    """A linked log that its window's listing no longer returns."""

    link: links.Link


# ----------------------------------------------------------------------------------------------- paging
def _today() -> dt.date:
    return (utcnow() + LOCAL_DATE_SLACK).date()


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
        today, keep = _today(), set(wanted)
        for project in ctx.projects.iter_projects():
            if project.id in keep:
                starts[project.id] = earliest_log_date(project.start_date, project.created_ms, today).isoformat()
    return {
        "mode": mode,
        "projects": wanted,
        "linked": sorted(linked),
        "starts": starts,
        "extra": _event_months(ctx, events),
        "index": 0,
        "scan": None,
    }


def _event_months(ctx: SyncContext, events: list[sa.Row]) -> dict[str, dict[str, list[str]]]:
    """Months of the known logs that webhooks named (an edit or deletion of an old log), by project and component."""
    log_ids = sorted({e.log_id for e in events if e.log_id})
    if not log_ids:
        return {}
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            sa.select(entity_links.c.projects_id, entity_links.c.attributes).where(
                entity_links.c.integration_id == ctx.integration.id,
                entity_links.c.entity_type == ENTITY,
                entity_links.c.projects_id.in_(log_ids),
            )
        ).all()
    by_log_project = {e.log_id: e.project_id for e in events if e.log_id}
    extra: dict[str, dict[str, set[str]]] = {}
    for row in rows:
        attributes = row.attributes or {}
        project = by_log_project[row.projects_id]
        logged, component = attributes.get("log_date"), attributes.get("component")
        if logged and component:
            extra.setdefault(project, {}).setdefault(component, set()).add(logged)
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
        today=_today(),
        mode=state["mode"],
        components=tuple(c for c in COMPONENTS if wanted[c]),
        learned=learned,
        extra={c: {dt.date.fromisoformat(d) for d in days} for c, days in extra.items()},
        now=utcnow(),
        deep_period=_deep_period(ctx),
    )


def _pages(ctx: SyncContext, cursor: dict[str, Any] | None) -> SourcePage:
    state = _upgraded(cursor) if cursor else _start(ctx)
    index = state["index"]
    if index >= len(state["projects"]):
        return SourcePage([], None)
    project_id = state["projects"][index]
    scan = state["scan"] or {"plan": _plan(ctx, state, project_id).to_json(), "w": 0, "page": None, "seen": []}
    plan = ProjectScan.from_json(scan["plan"])
    windows = plan.windows
    if scan["w"] < len(windows):
        component, month = windows[scan["w"]]
        try:
            page = ctx.projects.timelogs_page(
                project_id,
                scan["page"],
                component=component,  # type: ignore[arg-type]
                view_type="month",
                date=month,
                bill_status="All",
            )
        except NotFound:  # the project was deleted in Projects meanwhile: leave its links for the next full run
            return SourcePage([], _next_project(state))
        seen = scan["seen"] + [log.id for log in page.items]
        hits = dict(scan.get("hits", {}))
        if page.items and (component not in hits or month.isoformat() < hits[component]):
            hits[component] = month.isoformat()
        moved = {"page": page.next_cursor} if page.next_cursor else {"w": scan["w"] + 1, "page": None}
        return SourcePage(page.items, {**state, "scan": {**scan, **moved, "seen": seen, "hits": hits}})
    if state["mode"] == FULL:
        _learn(ctx, project_id, plan, scan.get("hits", {}))
    return SourcePage(_gone(ctx, project_id, plan, set(scan["seen"])), _next_project(state))


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


def _gone(ctx: SyncContext, project_id: str, plan: ProjectScan, seen: set[str]) -> list[GoneLog]:
    if not plan.windows:
        return []
    parents = {project_id} | set().union(*_subjects(ctx, project_id).values())
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            sa.select(entity_links).where(
                entity_links.c.integration_id == ctx.integration.id,
                entity_links.c.entity_type == ENTITY,
                entity_links.c.parent_projects_id.in_(sorted(parents)),
            )
        ).all()
    gone = []
    for row in rows:
        attributes = row.attributes or {}
        logged = attributes.get("log_date")
        if row.projects_id in seen or not logged:
            continue
        if plan.covers(attributes.get("component", ""), dt.date.fromisoformat(logged)):
            gone.append(
                GoneLog(
                    links.Link(
                        row.id,
                        row.entity_type,
                        row.projects_id,
                        row.books_id,
                        row.state,
                        row.fingerprint,
                        row.parent_projects_id,
                        attributes,
                    )
                )
            )
    return gone


# ----------------------------------------------------------------------------------------------- records
def _name(log: TimeLog) -> str:
    hours = f"{log.minutes // 60}:{log.minutes % 60:02d}"
    who = f" by {log.owner_name}" if log.owner_name else ""
    return f"{log.name or log.component} — {log.log_date.isoformat()}, {hours}{who}"


def _not_qualifying(ctx: SyncContext, log: TimeLog) -> str | None:
    if not log.billable:
        return NOT_BILLABLE
    if log.approval_status.lower() != "approved":
        return NOT_APPROVED
    cutoff = ctx.integration.timesheet_cutoff_date
    if cutoff is not None and log.log_date < cutoff:
        return BEFORE_CUTOFF
    return None


def _notes(log: TimeLog) -> str:
    # a general log has no task: its own name ("Internal meeting") is what the time was for
    text = log.notes if log.component != "general" else ": ".join(p for p in (log.name, log.notes) if p)
    return text[: books_side.NOTES_LIMIT]


def _record(ctx: SyncContext, item: TimeLog | GoneLog) -> Record:
    if isinstance(item, GoneLog):
        name = item.link.attributes.get("name") or item.link.projects_id
        return Record(item.link.projects_id, name, {"reason": GONE}, skip=True, source=item)
    log = item
    reason = _not_qualifying(ctx, log)
    if reason is not None:
        return Record(log.id, _name(log), {"reason": reason}, skip=True, source=log)
    project = slice_links(ctx, "project").get(log.project_id or "")
    user = slice_links(ctx, "user").get(log.owner_id or "")
    parent = (
        ("task", log.task_id)
        if log.component == "task"
        else ("bug", log.bug_id)
        if log.component == "bug"
        else ("project", log.project_id)
    )
    fields = {
        "component": log.component,
        "project": project.books_id if project else None,
        "user": user.books_id if user else None,
        "date": log.log_date.isoformat(),
        "minutes": log.minutes,
        "notes": _notes(log),
    }
    return Record(log.id, _name(log), fields, parent=(parent[0], str(parent[1])), source=log)


def _check(ctx: SyncContext, record: Record) -> Problem | None:
    log: TimeLog = record.source
    if record.fields["user"] is None:
        with ctx.engine.connect() as conn:
            user_error = sync_errors.open_error_ids(conn, ctx.integration.id, "user").get(log.owner_id or "")
        return Problem(
            "user_not_in_books",
            f"Timesheet '{record.name}' couldn't be fetched: its owner {log.owner_name or log.owner_id} has no "
            "Zoho Books user.",
            (
                f"See the user's error (#{user_error}); "
                if user_error
                else "Refresh the users module (a Projects user missing in Books is added as inactive staff); "
            )
            + "the timesheet syncs on the next run.",
            blocked_by=user_error,
        )
    if record.fields["project"] is None:
        return Problem(
            "project_not_synced",
            f"Timesheet '{record.name}' couldn't be fetched: its project is not in Zoho Books.",
            "Fix the project's error in Error Details (or refresh projects); the timesheet syncs on the next run.",
        )
    return None


# ----------------------------------------------------------------------------------------------- writes
def _task_of(ctx: SyncContext, record: Record, parent_books_id: str | None) -> str:
    if record.fields["component"] == "general":
        return books_side.general_task(ctx, record.fields["project"], record.source.project_id)
    assert parent_books_id is not None
    return parent_books_id


def _remember_log(ctx: SyncContext, record: Record) -> None:
    """What deletion detection needs later (component, date) and what an admin reads in errors (name)."""
    wanted = {"component": record.fields["component"], "log_date": record.fields["date"], "name": record.name}
    assert ctx.link is not None
    if any(ctx.link.attributes.get(k) != v for k, v in wanted.items()):
        note_intent(ctx, **wanted)


def _create(ctx: SyncContext, record: Record, parent_books_id: str | None) -> str:
    task_id = _task_of(ctx, record, parent_books_id)
    with ctx.engine.begin() as conn:
        release_cutoff(conn, ctx.integration.id, record.projects_id)  # the cutoff moved earlier than this log
    _remember_log(ctx, record)
    return books_side.create_entry(ctx, record, task_id)


def _update(ctx: SyncContext, record: Record, books_id: str, parent_books_id: str | None) -> None:
    books_side.update_entry(ctx, record, books_id, _task_of(ctx, record, parent_books_id))
    _remember_log(ctx, record)


def _find(ctx: SyncContext, _record: Record, link: links.Link, _parent: str | None) -> str | None:
    intent = link.attributes.get("intent")
    return books_side.find_entry(ctx, intent) if intent else None


def _retire(ctx: SyncContext, record: Record, link: links.Link | None) -> None:
    reason = record.fields["reason"]
    if link is not None:
        books_id = link.books_id
        if link.pending and link.attributes.get("intent"):
            books_id = books_side.find_entry(ctx, link.attributes["intent"])
        if books_id:
            books_side.delete_entry(ctx, record, books_id, reason)
    if reason == BEFORE_CUTOFF:
        with ctx.engine.begin() as conn:
            claim_cutoff(conn, ctx.integration.id, record.projects_id)


TIMESHEETS = SyncModule(
    name="timesheets",
    entity_type=ENTITY,
    pages=_pages,
    to_record=_record,
    create=_create,
    update=_update,
    check=_check,
    find_existing=_find,
    retire=_retire,
    parent_label="task, bug or project",
)
