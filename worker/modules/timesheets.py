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

Below: what it lists (each project's logs month by month, then its linked logs that are gone: ``DatedWindows`` in
``timelog_paging``), which logs qualify, and what it writes (Books calls in ``timesheet_books``, cutoff claims in
``timesheet_claims``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from shared.db import links, sync_errors
from shared.db.sync_errors import Problem
from shared.zoho.paging import Page
from shared.zoho.projects_models import Component, TimeLog
from worker.modules import timesheet_books as books_side
from worker.modules.base import Record, SyncContext, SyncModule, note_intent, slice_links
from worker.modules.timelog_paging import DatedWindows, GoneLog
from worker.modules.timesheet_claims import claim_cutoff, release_cutoff

ENTITY = "timesheet"
GONE = "deleted in Zoho Projects"
NOT_BILLABLE = "no longer billable"
NOT_APPROVED = "no longer approved"
BEFORE_CUTOFF = "dated before the timesheet cutoff date"


# ------------------------------------------------------------------------------------------- what it lists
@dataclass(frozen=True)
class ListedLog:
    """A listed log with the Books ids of its project and owner, looked up as it is listed: mapping it reads
    nothing."""

    log: TimeLog
    books_project: str | None
    books_user: str | None

    @property
    def id(self) -> str:
        return self.log.id


def _logs_of_month(
    ctx: SyncContext, project_id: str, component: Component, month: dt.date, cursor: str | None
) -> Page[ListedLog]:
    # billed or not, billable or not: a log that stopped being billable must be listed to have its entry removed
    page = ctx.projects.timelogs_page(
        project_id, cursor, component=component, view_type="month", date=month, bill_status="All"
    )
    projects, users = slice_links(ctx, "project"), slice_links(ctx, "user")  # read once a slice
    listed = [ListedLog(log, _books_id(projects, log.project_id), _books_id(users, log.owner_id)) for log in page.items]
    return Page(listed, page.next_cursor)


def _books_id(linked: dict[str, links.Link], projects_id: str | None) -> str | None:
    link = linked.get(projects_id or "")
    return link.books_id if link else None


# ------------------------------------------------------------------------------------- which logs qualify
def _not_qualifying(ctx: SyncContext, log: TimeLog) -> str | None:
    if not log.billable:
        return NOT_BILLABLE
    if log.approval_status.lower() != "approved":
        return NOT_APPROVED
    cutoff = ctx.integration.timesheet_cutoff_date
    if cutoff is not None and log.log_date < cutoff:
        return BEFORE_CUTOFF
    return None


def _record(ctx: SyncContext, item: ListedLog | GoneLog) -> Record:
    if isinstance(item, GoneLog):
        name = item.link.attributes.get("name") or item.link.projects_id
        return Record(item.link.projects_id, name, {"reason": GONE}, skip=True, source=item)
    log = item.log
    reason = _not_qualifying(ctx, log)
    if reason is not None:
        return Record(log.id, _name(log), {"reason": reason}, skip=True, source=log)
    # whose Books link the entry needs: the log's task or bug, or (a general log) its project
    parent = {"task": ("task", log.task_id), "bug": ("bug", log.bug_id)}.get(log.component, ("project", log.project_id))
    fields = {
        "component": log.component,
        "project": item.books_project,
        "user": item.books_user,
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


def _name(log: TimeLog) -> str:
    hours = f"{log.minutes // 60}:{log.minutes % 60:02d}"
    who = f" by {log.owner_name}" if log.owner_name else ""
    return f"{log.name or log.component} — {log.log_date.isoformat()}, {hours}{who}"


def _notes(log: TimeLog) -> str:
    # a general log has no task: its own name ("Internal meeting") is what the time was for
    text = log.notes if log.component != "general" else ": ".join(p for p in (log.name, log.notes) if p)
    return text[: books_side.NOTES_LIMIT]


# -------------------------------------------------------------------------------------------- what it writes
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
        books_id = _find(ctx, record, link, None) if link.pending else link.books_id
        if books_id:
            books_side.delete_entry(ctx, record, books_id, reason)
    if reason == BEFORE_CUTOFF:
        with ctx.engine.begin() as conn:
            claim_cutoff(conn, ctx.integration.id, record.projects_id)


TIMESHEETS = SyncModule(
    name="timesheets",
    entity_type=ENTITY,
    paging=DatedWindows(entity_type=ENTITY, list_window=_logs_of_month),
    to_record=_record,
    create=_create,
    update=_update,
    check=_check,
    find_existing=_find,
    retire=_retire,
    parent_label="task, bug or project",
)
