"""``/projects``: Books projects of a customer, with a billing type, tasks and users."""

from __future__ import annotations

import dataclasses
from typing import Any

from starlette.responses import Response

from sandbox.books import records, rules
from sandbox.books.billing import customer_of
from sandbox.books.dispatch import BooksCall, endpoint
from sandbox.books.envelope import bad_request, invalid_value, required, success
from sandbox.books.formats import parse_number, timestamp
from sandbox.books.hours import Tally, tally_by
from sandbox.books.listing import ListSpec, matches_id, page_of
from sandbox.books.project_users import add_user, render_user
from sandbox.books.tasks import create_task, render_in_project
from sandbox.world import BooksProject, World

BILLING_TYPES = ("fixed_cost_for_project", "based_on_project_hours", "based_on_staff_hours", "based_on_task_hours")
BUDGET_TYPES = ("", "total_project_cost", "total_project_hours", "hours_per_task", "hours_per_staff")

LIST = ListSpec(
    report_name="Projects",
    sort_keys={
        "project_name": lambda p: p.project_name,
        "customer_name": lambda p: p.customer_id,  # replaced per call by the customer's name
        "rate": lambda p: p.rate,
        "created_time": lambda p: p.created_time,
    },
    default_sort="created_time",
    default_order="D",
    filters={
        "Status.All": lambda p: True,
        "Status.Active": lambda p: p.status == "active",
        "Status.Inactive": lambda p: p.status == "inactive",
    },
    default_filter="Status.All",
)


def render_row(world: World, project: BooksProject, tally: Tally) -> dict[str, Any]:
    return {
        "project_id": project.project_id,
        "project_name": project.project_name,
        "customer_id": project.customer_id,
        "customer_name": records.contact_name(world, project.customer_id),
        "description": project.description,
        "status": project.status,
        "billing_type": project.billing_type,
        "rate": project.rate,
        "created_time": timestamp(project.created_time),
        "has_attachment": False,
        "total_hours": tally.fields()["total_hours"],
        "billable_hours": tally.fields()["billable_hours"],
        # only projects that carry any (the legacy seed's): every other answer stays as it was
        **({"custom_fields": [dict(f) for f in project.custom_fields]} if project.custom_fields else {}),
    }


def render(world: World, project: BooksProject, current_user_id: str) -> dict[str, Any]:
    entries = world.time_entries.where("project_id", project.project_id)
    tally = tally_by(world, entries, lambda e: e.project_id).get(project.project_id, Tally())
    recurring = [
        r.recurring_invoice_id for r in world.recurring_invoices.values() if r.project_id == project.project_id
    ]
    return {
        **render_row(world, project, tally),
        **records.currency_fields(world, project.organization_id, project.currency_id),
        "budget_type": project.budget_type,
        **tally.fields(),
        **tally.amounts(),
        "cost_budget_amount": 0,
        "is_recurrence_associated": bool(recurring),
        "recurring_invoices": recurring,
        "show_in_dashboard": True,
        "tasks": render_in_project(world, project.project_id, entries),
        "users": [render_user(world, project, u, current_user_id) for u in project.users],
    }


def _apply(world: World, project: BooksProject, body: dict[str, Any]) -> None:
    if "project_name" in body:
        name = str(body["project_name"] or "").strip()
        if not name or len(name) > 100:
            raise invalid_value("project_name")
        project.project_name = name
    if "customer_id" in body:
        customer = customer_of(world, project.organization_id, body["customer_id"])
        project.customer_id = customer.contact_id
        project.currency_id = customer.currency_id
    if "billing_type" in body:
        if body["billing_type"] not in BILLING_TYPES:
            raise invalid_value("billing_type")
        project.billing_type = body["billing_type"]
    if "budget_type" in body:
        if (body["budget_type"] or "") not in BUDGET_TYPES:
            raise invalid_value("budget_type")
        project.budget_type = body["budget_type"] or ""
    if "rate" in body:
        project.rate = parse_number(body["rate"], "rate")
    if "description" in body:
        description = str(body["description"] or "")
        if len(description) > 500:
            raise invalid_value("description")
        project.description = description


def create_project(world: World, org_id: str, body: dict[str, Any]) -> BooksProject:
    for field in ("project_name", "customer_id", "billing_type", "user_id"):
        if not body.get(field):
            raise required(field)
    now = world.now_ms()
    project = BooksProject(world.books_id(), org_id, "", "", created_time=now, last_modified_time=now)
    _apply(world, project, body)
    users = body.get("users") or []
    if not isinstance(users, list) or not all(isinstance(u, dict) for u in users):
        raise invalid_value("users")
    # validate every task before storing anything, so a bad body leaves no half-made project behind
    tasks = body.get("tasks") or []
    if not isinstance(tasks, list) or not all(isinstance(t, dict) and t.get("task_name") for t in tasks):
        raise invalid_value("tasks")
    add_user(world, project, {"user_id": body["user_id"]})
    for user in users:
        if user.get("user_id") != body["user_id"]:
            add_user(world, project, user)
    world.books_projects[project.project_id] = project
    for task in tasks:
        create_task(world, project, task)
    return project


def _project(call: BooksCall) -> BooksProject:
    return records.find(call.world.books_projects, call.path["project_id"], call.org_id, "Project")


def list_projects(call: BooksCall) -> Response:
    world = call.world
    rows = [
        p
        for p in records.in_org(world.books_projects, call.org_id)
        if matches_id(call.query, "customer_id", p.customer_id)
    ]
    by_customer = {**LIST.sort_keys, "customer_name": lambda p: records.contact_name(world, p.customer_id)}
    spec = dataclasses.replace(LIST, sort_keys=by_customer)
    page, context = page_of(call.query, rows, spec, lambda p: p.project_id)
    tallies = tally_by(
        world, (e for p in page for e in world.time_entries.where("project_id", p.project_id)), lambda e: e.project_id
    )
    return success(
        projects=[render_row(world, p, tallies.get(p.project_id, Tally())) for p in page], page_context=context
    )


def _rendered(call: BooksCall, project: BooksProject) -> dict[str, Any]:
    return render(call.world, project, records.caller_user_id(call.world, call.org_id, call.zuid))


def get_project(call: BooksCall) -> Response:
    return success(project=_rendered(call, _project(call)))


def post_project(call: BooksCall) -> Response:
    project = create_project(call.world, call.org_id, call.body)
    rendered = _rendered(call, project)
    call.emit("project.created", {"organization_id": call.org_id, "project": rendered})
    return success("The project has been created.", status=201, project=rendered)


def put_project(call: BooksCall) -> Response:
    project = _project(call)
    _apply(call.world, project, call.body)
    project.last_modified_time = call.world.now_ms()
    rendered = _rendered(call, project)
    call.emit("project.updated", {"organization_id": call.org_id, "project": rendered})
    return success("The project has been updated.", project=rendered)


def delete_project(call: BooksCall) -> Response:
    project = _project(call)
    world = call.world
    entries = world.time_entries.where("project_id", project.project_id)
    if any(e.billed_status == "invoiced" for e in entries):
        raise bad_request(
            rules.CODE_NOT_ALLOWED_IN_STATE, "The project cannot be deleted as it has invoiced time entries."
        )
    for entry in entries:
        del world.time_entries[entry.time_entry_id]
    for task_id in [t.task_id for t in world.books_tasks.where("project_id", project.project_id)]:
        del world.books_tasks[task_id]
    del world.books_projects[project.project_id]
    call.emit("project.deleted", {"organization_id": call.org_id, "project_id": project.project_id})
    return success("The project has been deleted.")


def _mark(status: str, message: str):
    def mark(call: BooksCall) -> Response:
        project = _project(call)
        project.status = status
        project.last_modified_time = call.world.now_ms()
        call.emit("project.updated", {"organization_id": call.org_id, "project": _rendered(call, project)})
        return success(message)

    return mark


routes = [
    endpoint("/projects", get=list_projects, post=post_project),
    endpoint("/projects/{project_id}", get=get_project, put=put_project, delete=delete_project),
    endpoint(
        "/projects/{project_id}/active", post=_mark("active", "The selected Projects have been marked as active.")
    ),
    endpoint(
        "/projects/{project_id}/inactive", post=_mark("inactive", "The selected projects have been marked as inactive.")
    ),
]
