"""``/projects/{project_id}/users``: who works on a project (only they can log time on it)."""

from __future__ import annotations

import dataclasses
from typing import Any

from starlette.responses import Response

from sandbox.books import records, rules
from sandbox.books.dispatch import BooksCall, endpoint
from sandbox.books.envelope import bad_request, does_not_exist, invalid_value, required, success
from sandbox.books.formats import parse_number
from sandbox.world import BooksProject, BooksProjectUser, World


def render_user(world: World, project: BooksProject, member: BooksProjectUser, current_id: str) -> dict[str, Any]:
    user = world.books_users.get(member.user_id)
    return {
        "user_id": member.user_id,
        "is_current_user": member.user_id == current_id,
        "user_name": user.name if user else "",
        "email": user.email if user else "",
        "user_role": member.user_role,
        "status": member.status,
        "rate": member.rate,
        "budget_hours": member.budget_hours,
        "cost_rate": member.cost_rate,
    }


def add_user(world: World, project: BooksProject, body: dict[str, Any], cost_rate: Any = None) -> BooksProjectUser:
    user_id = str(body.get("user_id") or "")
    user = world.books_users.get(user_id)
    if user is None or user.organization_id != project.organization_id or user.status == "deleted":
        raise invalid_value("user_id")
    if any(m.user_id == user_id for m in project.users):
        raise bad_request(rules.CODE_DUPLICATE, f"The user {user.name} is already associated with this project.")
    member = BooksProjectUser(user_id, user_role=user.user_role, cost_rate=user.cost_rate)
    _apply(member, {"cost_rate": cost_rate} if cost_rate is not None else {})
    _apply(member, body)
    project.users.append(member)
    return member


def _apply(member: BooksProjectUser, body: dict[str, Any]) -> None:
    if body.get("rate") not in (None, ""):
        member.rate = parse_number(body["rate"], "rate")
    if body.get("cost_rate") not in (None, ""):
        member.cost_rate = parse_number(body["cost_rate"], "cost_rate")
    if body.get("budget_hours") not in (None, ""):
        member.budget_hours = str(body["budget_hours"])
    if body.get("user_role") in ("admin", "staff", "timesheetstaff"):
        member.user_role = body["user_role"]


def _project(call: BooksCall) -> BooksProject:
    return records.find(call.world.books_projects, call.path["project_id"], call.org_id, "Project")


def _member(call: BooksCall, project: BooksProject) -> BooksProjectUser:
    member = next((m for m in project.users if m.user_id == call.path["user_id"]), None)
    if member is None:
        raise does_not_exist("User")
    return member


def _current(call: BooksCall) -> str:
    return records.caller_user_id(call.world, call.org_id, call.zuid)


def list_users(call: BooksCall) -> Response:
    project = _project(call)
    current = _current(call)
    return success(users=[render_user(call.world, project, m, current) for m in project.users])


def assign_users(call: BooksCall) -> Response:
    project = _project(call)
    users = call.body.get("users")
    if not isinstance(users, list) or not users or not all(isinstance(u, dict) for u in users):
        raise required("users")
    if rules.PROJECT_USERS_REQUIRE_COST_RATE and call.body.get("cost_rate") in (None, ""):
        raise required("cost_rate")
    # check all before adding any, so one bad user leaves the project unchanged
    staged = dataclasses.replace(project, users=list(project.users))
    added = [add_user(call.world, staged, u, call.body.get("cost_rate")) for u in users]
    project.users = staged.users
    project.last_modified_time = call.world.now_ms()
    current = _current(call)
    rendered = [render_user(call.world, project, m, current) for m in added]
    call.emit("project.updated", {"organization_id": call.org_id, "project_id": project.project_id})
    return success("Users added", status=201, users=rendered)


def get_user(call: BooksCall) -> Response:
    project = _project(call)
    return success(user=render_user(call.world, project, _member(call, project), _current(call)))


def update_user(call: BooksCall) -> Response:
    project = _project(call)
    member = _member(call, project)
    _apply(member, call.body)
    call.emit("project.updated", {"organization_id": call.org_id, "project_id": project.project_id})
    return success("The user details have been updated.", user=render_user(call.world, project, member, _current(call)))


def delete_user(call: BooksCall) -> Response:
    project = _project(call)
    member = _member(call, project)
    project.users.remove(member)
    call.emit("project.updated", {"organization_id": call.org_id, "project_id": project.project_id})
    return success("The staff has been removed")


routes = [
    endpoint("/projects/{project_id}/users", get=list_users, post=assign_users),
    endpoint("/projects/{project_id}/users/{user_id}", get=get_user, put=update_user, delete=delete_user),
]
