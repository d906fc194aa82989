"""users: Projects portal users -> Books users, matched by email.

A user missing in Books is added the way Zoho's own integration does it: as an *inactive timesheet staff* user
(Books help: "Users from Zoho Projects who are not part of Zoho Books will be fetched as Inactive Timesheet Staff
Users"). Inactive users take no paid seat, and Books still takes their time entries.

Books creates a user active (invited) and makes it inactive in a second call. The intent noted on the pending link
before the first call says the user is ours to make inactive, so a retry after an interruption between the two
calls (a 429, a 5xx, a killed worker) finishes the job instead of adopting a paid seat as if it had been there.
"""

from __future__ import annotations

from typing import Any

from shared.db.links import Link
from shared.zoho.books_models import BooksUser
from shared.zoho.paging import Page
from shared.zoho.projects_models import PortalUser
from worker.modules.base import Record, SyncContext, SyncModule, note_intent
from worker.modules.paging import FlatList

# Client users belong to customers, not to the organization's staff.
NOT_STAFF_ROLES = {"client"}
TIMESHEET_STAFF = "timesheetstaff"
INACTIVE = "inactive"


def staff_page(ctx: SyncContext, cursor: str | None) -> Page[PortalUser]:
    """One page of the portal's users (active and inactive: a departed person's time is still billed), staff only."""
    page = ctx.projects.portal_users_page(cursor, "all")
    return Page([u for u in page.items if u.role.lower() not in NOT_STAFF_ROLES and u.email], page.next_cursor)


def _record(_ctx: SyncContext, user: PortalUser) -> Record:
    return Record(user.id, user.name or user.email, {"email": user.email.lower()}, source=user)


def books_users_by_email(ctx: SyncContext) -> dict[str, Any]:
    return ctx.remember("books_users", lambda: {u.email.lower(): u for u in ctx.books.iter_users("All") if u.email})


def _find(ctx: SyncContext, record: Record, link: Link, _parent: str | None) -> str | None:
    user = books_users_by_email(ctx).get(record.fields["email"])
    if user is None:
        return None
    if link.attributes.get("books_status") == INACTIVE:  # we created it: finish what the interrupted attempt began
        _make_inactive(ctx, record, user)
    return str(user.user_id)


def _create(ctx: SyncContext, record: Record, _parent: str | None) -> str:
    note_intent(ctx, books_status=INACTIVE)
    user = ctx.books.create_user(name=record.name, email=record.fields["email"], role=TIMESHEET_STAFF)
    books_users_by_email(ctx)[record.fields["email"]] = user
    _make_inactive(ctx, record, user)
    return str(user.user_id)


def _make_inactive(ctx: SyncContext, record: Record, user: BooksUser) -> None:
    """Idempotent: a user already inactive takes no call (a retry may find the second step done)."""
    if user.status == INACTIVE:
        return
    ctx.books.mark_user_inactive(user.user_id)
    books_users_by_email(ctx)[record.fields["email"]] = user.model_copy(update={"status": INACTIVE})


def _update(_ctx: SyncContext, _record: Record, _books_id: str, _parent: str | None) -> None:
    """The email is the identity; nothing else of a user is copied, so a changed name needs no Books write."""


USERS = SyncModule(
    name="users",
    entity_type="user",
    paging=FlatList(staff_page),
    to_record=_record,
    create=_create,
    update=_update,
    find_existing=_find,
    intent_first=True,  # create notes its intent before the POST
)
