"""The Books side of timesheets: the General task, staff assignment, and time-entry writes that never touch
invoiced time.

Books refuses to edit or delete an invoiced time entry; we turn that refusal (or our own billing claim) into a
``time_entry_invoiced`` error an admin can act on, instead of a raw API message.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from shared.db import links
from shared.db.sync_errors import Problem
from shared.zoho.errors import NotFound, ValidationFailed
from worker.modules.base import ProblemError, Record, SyncContext, note_intent
from worker.modules.tasks import find_books_task
from worker.modules.timesheet_claims import invoiced_claim
from worker.modules.users import books_users_by_email

# Books logs time only against a task; general logs (no task in Projects) go to one task per Books project.
GENERAL_TASK_NAME = "General"
GENERAL_TASK_ENTITY = "general_task"
GENERAL_TASK = {
    "task_name": GENERAL_TASK_NAME,
    "description": "Time logged in Zoho Projects outside any task (general logs)",
}
NOTES_LIMIT = 500  # Books refuses longer notes
CHANGED = "changed in Zoho Projects"


def general_task(ctx: SyncContext, books_project_id: str, project_id: str) -> str:
    """The Books project's General task, created once and linked like any other record."""
    with ctx.engine.connect() as conn:
        link = links.get_link(conn, ctx.integration.id, GENERAL_TASK_ENTITY, project_id)
    if link is not None and not link.pending:
        return str(link.books_id)
    # pending: a crash after the POST; adopt the task we made (find_books_task skips tasks linked to a Projects task)
    task_id = find_books_task(ctx, books_project_id, GENERAL_TASK_NAME) if link is not None else None
    if link is None:
        with ctx.engine.begin() as conn:
            link = links.put_pending(
                conn,
                ctx.integration.id,
                GENERAL_TASK_ENTITY,
                project_id,
                parent_projects_id=project_id,
                attributes={"books_name": GENERAL_TASK_NAME},
            )
    if task_id is None:
        task_id = ctx.books.create_project_task(books_project_id, GENERAL_TASK).task_id
    with ctx.engine.begin() as conn:
        links.complete(conn, link.id, task_id, {"name": GENERAL_TASK_NAME})
    return task_id


def _ensure_staff(ctx: SyncContext, books_project_id: str, user_id: str) -> None:
    """Books only takes time from the project's own users: assign the log owner first (once per project)."""
    staff: set[str] = ctx.remember(
        f"staff:{books_project_id}", lambda: {u.user_id for u in ctx.books.iter_project_users(books_project_id)}
    )
    if user_id not in staff:
        ctx.books.assign_project_users(books_project_id, [user_id])
        staff.add(user_id)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _payload(record: Record, task_id: str) -> dict[str, Any]:
    return {
        "project_id": record.fields["project"],
        "task_id": task_id,
        "user_id": record.fields["user"],
        "log_date": record.fields["date"],
        "log_time": _hhmm(int(record.fields["minutes"])),
        "is_billable": True,
        "notes": record.fields["notes"],
    }


def create_entry(ctx: SyncContext, record: Record, task_id: str) -> str:
    assert ctx.link is not None
    if ctx.link.attributes.get("refused_inactive_user") == record.fields["user"]:
        # Books refused this user's time before: while the user is still inactive, asking again only spends quota
        refused = _inactive_refusal(ctx, record, ctx.link.attributes.get("refusal", ""))
        if refused is not None:
            raise refused
    body = _payload(record, task_id)
    _ensure_staff(ctx, body["project_id"], body["user_id"])
    # Written just before the POST so a retry after a crash looks the entry up instead of logging time twice.
    note_intent(ctx, intent={k: body[k] for k in ("project_id", "task_id", "user_id", "log_date", "log_time")})
    try:
        return ctx.books.create_time_entry(body).time_entry_id
    except ValidationFailed as exc:
        refusal = _inactive_refusal(ctx, record, exc.message)
        # refused: nothing was created, so no lookup is needed next time
        note_intent(
            ctx, intent=None, refused_inactive_user=record.fields["user"] if refusal else None, refusal=exc.message
        )
        raise refusal or exc from None


def update_entry(ctx: SyncContext, record: Record, books_id: str, task_id: str) -> None:
    _refuse_if_claimed(ctx, record, books_id, CHANGED)
    body = _payload(record, task_id)
    _ensure_staff(ctx, body["project_id"], body["user_id"])
    try:
        ctx.books.update_time_entry(books_id, body)
    except ValidationFailed as exc:
        raise _inactive_refusal(ctx, record, exc.message) or _invoiced(ctx, record, books_id, CHANGED) or exc from None


def delete_entry(ctx: SyncContext, record: Record, books_id: str, why: str) -> None:
    _refuse_if_claimed(ctx, record, books_id, why)
    try:
        ctx.books.delete_time_entry(books_id)
    except NotFound:
        return  # already deleted in Books: the goal is reached
    except ValidationFailed as exc:
        raise _invoiced(ctx, record, books_id, why) or exc from None


def find_entry(ctx: SyncContext, intent: dict[str, Any]) -> str | None:
    """The entry a crashed create made, if Books has it and no other log owns it."""
    with ctx.engine.connect() as conn:
        taken = links.claimed_books_ids(conn, ctx.integration.id, "timesheet")
    day = dt.date.fromisoformat(intent["log_date"])
    for entry in ctx.books.iter_time_entries(
        project_id=intent["project_id"],
        user_id=intent["user_id"],
        filter_by="Date.CustomDate",
        from_date=day,
        to_date=day,
    ):
        same = entry.task_id == intent["task_id"] and _hhmm(entry.minutes) == intent["log_time"]
        if same and entry.time_entry_id not in taken:
            return entry.time_entry_id
    return None


def _refuse_if_claimed(ctx: SyncContext, record: Record, books_id: str, why: str) -> None:
    with ctx.engine.connect() as conn:
        invoice = invoiced_claim(conn, ctx.integration.id, books_id)
    if invoice is not None:
        raise ProblemError(_invoiced_problem(record, why, invoice))


def _invoiced(ctx: SyncContext, record: Record, books_id: str, why: str) -> ProblemError | None:
    """Books refused a write: if the entry is invoiced, say so in the product's words."""
    try:
        entry = ctx.books.get_time_entry(books_id)
    except NotFound:
        return None
    if entry.billed_status != "invoiced":
        return None
    return ProblemError(_invoiced_problem(record, why, f"invoice {entry.invoice_id}" if entry.invoice_id else ""))


def _invoiced_problem(record: Record, why: str, invoice: str) -> Problem:
    where = f" ({invoice})" if invoice else ""
    return Problem(
        "time_entry_invoiced",
        f"Timesheet '{record.name}' was {why}, but its Zoho Books time entry is already invoiced{where}; "
        "invoiced time is never changed by the sync, so the entry was left as it is.",
        "To apply the change, remove the time entry from the invoice (or void the invoice) in Zoho Books and "
        "refresh timesheets; otherwise undo the change in Zoho Projects.",
    )


def _inactive_refusal(ctx: SyncContext, record: Record, refusal: str) -> ProblemError | None:
    """Books refused the owner's time: if the owner is an inactive Books user, say so and how to fix it."""
    by_id = ctx.remember("books_users_by_id", lambda: {u.user_id: u for u in books_users_by_email(ctx).values()})
    user = by_id.get(str(record.fields["user"]))
    if user is None or user.status != "inactive":
        return None
    return ProblemError(
        Problem(
            "books_user_inactive",
            f"Timesheet '{record.name}' couldn't be written: Zoho Books refused time for {user.name or user.email}, "
            f"an inactive Books user ({refusal}).",
            f"Mark {user.email} active in Zoho Books (Settings > Users); the timesheet syncs on the next run.",
        )
    )
