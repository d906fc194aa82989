"""``/users``: the organization's users (who may log time), with active/inactive status."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from sandbox.books import records
from sandbox.books.dispatch import BooksCall, endpoint
from sandbox.books.envelope import bad_request, does_not_exist, invalid_value, required, success
from sandbox.books.formats import parse_number, timestamp
from sandbox.books.listing import ListSpec, page_of
from sandbox.books.rules import CODE_DUPLICATE
from sandbox.world import BooksUser

# Books' built-in roles; the ids are the sandbox's own (Zoho's differ per organization).
ROLE_IDS = {"admin": "460000000000101", "staff": "460000000000102", "timesheetstaff": "460000000000103"}
_ROLE_BY_ID = {role_id: role for role, role_id in ROLE_IDS.items()}

LIST = ListSpec(
    report_name="Users",
    sort_keys={
        "name": lambda u: u.name,
        "email": lambda u: u.email,
        "user_role": lambda u: u.user_role,
        "status": lambda u: u.status,
    },
    default_sort="name",
    default_order="A",
    filters={
        "Status.All": lambda u: u.status != "deleted",
        "Status.Active": lambda u: u.status == "active",
        "Status.Inactive": lambda u: u.status == "inactive",
        "Status.Invited": lambda u: u.status == "invited",
        "Status.Deleted": lambda u: u.status == "deleted",
    },
    default_filter="Status.All",
)


def render_row(user: BooksUser, current_id: str) -> dict[str, Any]:
    return {
        "user_id": user.user_id,
        "role_id": ROLE_IDS.get(user.user_role, ""),
        "name": user.name,
        "email": user.email,
        "user_role": user.user_role,
        "status": user.status,
        "is_current_user": user.user_id == current_id,
        "photo_url": "",
        "is_customer_segmented": False,
        "is_vendor_segmented": False,
        "user_type": "zoho",
    }


def render(user: BooksUser) -> dict[str, Any]:
    return {
        "user_id": user.user_id,
        "name": user.name,
        "email_ids": [{"email": user.email, "is_selected": True}],
        "status": user.status,
        "user_role": user.user_role,
        "user_type": "zoho",
        "role_id": ROLE_IDS.get(user.user_role, ""),
        "cost_rate": user.cost_rate,
        "photo_url": "",
        "is_employee": False,
        "created_time": timestamp(user.created_time),
    }


def _user(call: BooksCall) -> BooksUser:
    return records.find(call.world.books_users, call.path["user_id"], call.org_id, "User")


def list_users(call: BooksCall) -> Response:
    current = records.caller_user_id(call.world, call.org_id, call.zuid)
    users = records.in_org(call.world.books_users, call.org_id)
    page, context = page_of(call.query, users, LIST, lambda u: u.user_id)
    return success(users=[render_row(u, current) for u in page], page_context=context)


def get_user(call: BooksCall) -> Response:
    return success(user=render(_user(call)))


def get_me(call: BooksCall) -> Response:
    me = records.caller_user(call.world, call.org_id, call.zuid)
    if me is None:
        raise does_not_exist("User")
    return success(user=render(me))


def _apply(call: BooksCall, user: BooksUser) -> None:
    body = call.body
    if "name" in body:
        if not str(body["name"]).strip():
            raise invalid_value("name")
        user.name = str(body["name"]).strip()
    if "email" in body:
        _check_email(call, str(body["email"]).strip(), user.user_id)
        user.email = str(body["email"]).strip()
    if "role_id" in body:
        if body["role_id"] not in _ROLE_BY_ID:
            raise invalid_value("role_id")
        user.user_role = _ROLE_BY_ID[body["role_id"]]
    if "cost_rate" in body:
        user.cost_rate = parse_number(body["cost_rate"], "cost_rate")


def _check_email(call: BooksCall, email: str, own_id: str) -> None:
    if "@" not in email:
        raise invalid_value("email")
    for other in records.in_org(call.world.books_users, call.org_id):
        if other.user_id != own_id and other.status != "deleted" and other.email.lower() == email.lower():
            raise bad_request(CODE_DUPLICATE, f'The user "{email}" already exists in your organization.')


def create_user(call: BooksCall) -> Response:
    for field in ("name", "email"):
        if not str(call.body.get(field, "")).strip():
            raise required(field)
    # Books invites a new user by email; the account stays "invited" until they accept.
    user = BooksUser(call.world.books_id(), call.org_id, "", "", status="invited", created_time=call.world.now_ms())
    _apply(call, user)
    call.world.books_users[user.user_id] = user
    call.emit("user.created", {"organization_id": call.org_id, "user": render(user)})
    return success("Your invitation has been sent.", status=201, user=render(user))


def update_user(call: BooksCall) -> Response:
    user = _user(call)
    _apply(call, user)
    call.emit("user.updated", {"organization_id": call.org_id, "user": render(user)})
    return success("The user information has been updated.", user=render(user))


def delete_user(call: BooksCall) -> Response:
    user = _user(call)
    user.status = "deleted"
    call.emit("user.deleted", {"organization_id": call.org_id, "user_id": user.user_id})
    return success("The user has been removed from your organization.")


def _mark(status: str):
    def mark(call: BooksCall) -> Response:
        user = _user(call)
        user.status = status
        call.emit(f"user.{status}", {"organization_id": call.org_id, "user_id": user.user_id})
        return success(f"The user has been marked as {status}.")

    return mark


routes = [
    endpoint("/users", get=list_users, post=create_user),
    endpoint("/users/me", get=get_me),
    endpoint("/users/{user_id}", get=get_user, put=update_user, delete=delete_user),
    endpoint("/users/{user_id}/active", post=_mark("active")),
    endpoint("/users/{user_id}/inactive", post=_mark("inactive")),
]
