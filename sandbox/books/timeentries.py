"""``/projects/timeentries``: time logged by a project user on a task; invoicing marks entries billed."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from sandbox.books import records, rules
from sandbox.books.dispatch import BooksCall, endpoint
from sandbox.books.envelope import bad_request, invalid_value, required, success
from sandbox.books.formats import date_text, hhmm, money, parse_bool, parse_date, parse_hhmm, parse_number, timestamp
from sandbox.books.listing import ListSpec, matches_id, page_of
from sandbox.books.periods import period
from sandbox.world import BooksProject, TimeEntry, World


def _unbilled(entry: TimeEntry) -> bool:
    if rules.UNBILLED_FILTER_EXCLUDES_NON_BILLABLE and not entry.is_billable:
        return False
    return entry.billed_status == "unbilled"


LIST = ListSpec(
    report_name="Projects",  # sic: the official example names the time-entry report "Projects"
    sort_keys={"log_date": lambda e: e.log_date, "timer_started_at": lambda e: ""},  # names added per call
    default_sort="log_date",
    default_order="D",
    filters={"Status.Unbilled": _unbilled, "Status.Invoiced": lambda e: e.billed_status == "invoiced"},
)
_DATE_FILTERS = ("All", "Today", "ThisWeek", "ThisMonth", "ThisQuarter", "ThisYear", "PreviousDay", "PreviousWeek",
                 "PreviousMonth", "PreviousQuarter", "PreviousYear", "CustomDate")  # fmt: skip


def render_row(world: World, entry: TimeEntry, current_id: str) -> dict[str, Any]:
    project = world.books_projects.get(entry.project_id)
    task = world.books_tasks.get(entry.task_id)
    user = world.books_users.get(entry.user_id)
    customer_id = project.customer_id if project else ""
    return {
        "time_entry_id": entry.time_entry_id,
        "project_id": entry.project_id,
        "project_name": project.project_name if project else "",
        "customer_id": customer_id,
        "customer_name": records.contact_name(world, customer_id),
        "task_id": entry.task_id,
        "task_name": task.task_name if task else "",
        "user_id": entry.user_id,
        "is_current_user": entry.user_id == current_id,
        "user_name": user.name if user else "",
        "log_date": date_text(entry.log_date),
        "begin_time": "",
        "end_time": "",
        "log_time": hhmm(entry.minutes),
        "is_billable": entry.is_billable,
        "billed_status": entry.billed_status,
        "invoice_id": entry.invoice_id,
        "notes": entry.notes,
        "timer_started_at": "",
        "timer_duration_in_minutes": "",
        "created_time": timestamp(entry.created_time),
        "cost_rate": entry.cost_rate,
        "cost_amount": money(entry.cost_rate * entry.minutes / 60),
    }


def render(world: World, entry: TimeEntry, current_id: str) -> dict[str, Any]:
    return render_row(world, entry, current_id) | {
        "timer_started_at_utc_time": "",
        "timer_duration_in_seconds": "",
        "timesheet_custom_fields": "",
    }


def _project_for_entry(world: World, org_id: str, project_id: Any) -> BooksProject:
    project = world.books_projects.get(str(project_id or ""))
    if project is None or project.organization_id != org_id:
        raise invalid_value("project_id")
    if rules.TIME_ENTRY_PROJECT_MUST_BE_ACTIVE and project.status != "active":
        raise bad_request(rules.CODE_NOT_ALLOWED_IN_STATE, "Time cannot be logged for an inactive project.")
    return project


def _check_user(world: World, project: BooksProject, user_id: str) -> None:
    user = world.books_users.get(user_id)
    if user is None or user.organization_id != project.organization_id:
        raise invalid_value("user_id")
    if user.status == "deleted" or (rules.TIME_ENTRY_USER_MUST_BE_ACTIVE and user.status == "inactive"):
        raise bad_request(rules.CODE_NOT_ALLOWED_IN_STATE, f"The user {user.name} is {user.status}.")
    if rules.TIME_ENTRY_USER_MUST_BE_ON_PROJECT and all(m.user_id != user_id for m in project.users):
        raise bad_request(rules.CODE_NOT_ALLOWED_IN_STATE, f"The user {user.name} is not associated with the project.")


def _apply(world: World, entry: TimeEntry, body: dict[str, Any]) -> None:
    if "project_id" in body:
        entry.project_id = _project_for_entry(world, entry.organization_id, body["project_id"]).project_id
    project = world.books_projects[entry.project_id]
    if "task_id" in body:
        entry.task_id = str(body["task_id"] or "")
    task = world.books_tasks.get(entry.task_id)
    if task is None or task.project_id != entry.project_id:
        raise invalid_value("task_id")
    if "user_id" in body:
        entry.user_id = str(body["user_id"] or "")
    _check_user(world, project, entry.user_id)
    if "log_date" in body:
        entry.log_date = parse_date(body["log_date"], "log_date")
    if body.get("log_time") not in (None, ""):
        entry.minutes = parse_hhmm(body["log_time"], "log_time")
    elif body.get("begin_time") not in (None, "") or body.get("end_time") not in (None, ""):
        begin = parse_hhmm(body.get("begin_time", ""), "begin_time")
        end = parse_hhmm(body.get("end_time", ""), "end_time")
        if end <= begin:
            raise invalid_value("end_time")
        entry.minutes = end - begin
    if entry.minutes <= 0 or entry.minutes > rules.MAX_MINUTES_PER_ENTRY:
        raise invalid_value("log_time")
    if "is_billable" in body:
        entry.is_billable = parse_bool(body["is_billable"], "is_billable")
    if "notes" in body:
        notes = str(body["notes"] or "")
        if len(notes) > 500:
            raise invalid_value("notes")
        entry.notes = notes
    if body.get("cost_rate") not in (None, ""):
        entry.cost_rate = parse_number(body["cost_rate"], "cost_rate")


def create_time_entry(world: World, org_id: str, body: dict[str, Any]) -> TimeEntry:
    for field in ("project_id", "task_id", "user_id", "log_date"):
        if not body.get(field):
            raise required(field)
    if body.get("log_time") in (None, "") and body.get("begin_time") in (None, ""):
        raise required("log_time")
    entry = TimeEntry(world.books_id(), org_id, "", "", "", dt.date.min, 0, created_time=world.now_ms())
    _apply(world, entry, body)
    task = world.books_tasks[entry.task_id]
    if "is_billable" not in body:
        entry.is_billable = task.is_billable
    world.time_entries[entry.time_entry_id] = entry
    return entry


def _entry(call: BooksCall) -> TimeEntry:
    return records.find(call.world.time_entries, call.path["time_entry_id"], call.org_id, "Time entry")


def refuse_if_invoiced(entry: TimeEntry, action: str) -> None:
    if entry.billed_status == "invoiced":
        raise bad_request(
            rules.CODE_ALREADY_INVOICED,
            f"The time entry {entry.time_entry_id} has been invoiced and cannot be {action}. "
            "Delete the invoice (or remove the entry from it) first.",
        )


def _date_filter(call: BooksCall) -> Callable[[TimeEntry], bool]:
    first: dt.date | None = None
    last: dt.date | None = None
    by = call.query.get("filter_by", "")
    if by.startswith("Date."):
        name = by.removeprefix("Date.")
        if name not in _DATE_FILTERS:
            raise invalid_value("filter_by")
        first, last = period(name, call.world.today()) or (None, None)
    if call.query.get("from_date"):
        first = parse_date(call.query["from_date"], "from_date")
    if call.query.get("to_date"):
        last = parse_date(call.query["to_date"], "to_date")
    return lambda e: (first is None or e.log_date >= first) and (last is None or e.log_date <= last)


def list_time_entries(call: BooksCall) -> Response:
    world, query = call.world, call.query
    in_dates = _date_filter(call)
    project_id = query.get("project_id")
    candidates = world.time_entries.where("project_id", project_id) if project_id else world.time_entries.values()
    rows = [
        e
        for e in candidates
        if e.organization_id == call.org_id
        and matches_id(query, "project_id", e.project_id)
        and matches_id(query, "user_id", e.user_id)
        and in_dates(e)
    ]
    spec = _spec_with_names(world)
    if query.get("filter_by", "").startswith("Date."):
        spec = dataclasses.replace(spec, filters={**spec.filters, query["filter_by"]: lambda e: True})
    page, context = page_of(query, rows, spec, lambda e: e.time_entry_id)
    current = records.caller_user_id(world, call.org_id, call.zuid)
    return success(time_entries=[render_row(world, e, current) for e in page], page_context=context)


def _spec_with_names(world: World) -> ListSpec:
    def project(e: TimeEntry) -> BooksProject | None:
        return world.books_projects.get(e.project_id)

    def name(table: dict, key: str, attr: str) -> str:
        record = table.get(key)
        return getattr(record, attr) if record else ""

    names = {
        "project_name": lambda e: name(world.books_projects, e.project_id, "project_name"),
        "task_name": lambda e: name(world.books_tasks, e.task_id, "task_name"),
        "user_name": lambda e: name(world.books_users, e.user_id, "name"),
        "customer_name": lambda e: records.contact_name(world, p.customer_id) if (p := project(e)) else "",
    }
    return dataclasses.replace(LIST, sort_keys={**LIST.sort_keys, **names})


def _rendered(call: BooksCall, entry: TimeEntry) -> dict[str, Any]:
    return render(call.world, entry, records.caller_user_id(call.world, call.org_id, call.zuid))


def get_time_entry(call: BooksCall) -> Response:
    return success(time_entry=_rendered(call, _entry(call)))


def post_time_entry(call: BooksCall) -> Response:
    entry = create_time_entry(call.world, call.org_id, call.body)
    rendered = _rendered(call, entry)
    call.emit("time_entry.created", {"organization_id": call.org_id, "time_entry": rendered})
    return success("Your timesheet entry has been added.", status=201, time_entry=rendered)


def put_time_entry(call: BooksCall) -> Response:
    entry = _entry(call)
    refuse_if_invoiced(entry, "edited")
    staged = dataclasses.replace(entry)
    _apply(call.world, staged, call.body)
    call.world.time_entries[entry.time_entry_id] = staged
    rendered = _rendered(call, staged)
    call.emit("time_entry.updated", {"organization_id": call.org_id, "time_entry": rendered})
    return success("The timesheet's information has been updated.", time_entry=rendered)


def delete_time_entry(call: BooksCall) -> Response:
    entry = _entry(call)
    refuse_if_invoiced(entry, "deleted")
    del call.world.time_entries[entry.time_entry_id]
    call.emit("time_entry.deleted", {"organization_id": call.org_id, "time_entry_id": entry.time_entry_id})
    return success("The time entry has been deleted.")


def delete_time_entries(call: BooksCall) -> Response:
    ids = [i.strip() for i in call.query.get("time_entry_ids", "").split(",") if i.strip()]
    if not ids:
        raise required("time_entry_ids")
    entries = [records.find(call.world.time_entries, i, call.org_id, "Time entry") for i in ids]
    for entry in entries:
        refuse_if_invoiced(entry, "deleted")
    for entry in entries:
        del call.world.time_entries[entry.time_entry_id]
        call.emit("time_entry.deleted", {"organization_id": call.org_id, "time_entry_id": entry.time_entry_id})
    return success("The selected timesheet entries have been deleted")


routes = [
    endpoint("/projects/timeentries", get=list_time_entries, post=post_time_entry, delete=delete_time_entries),
    endpoint("/projects/timeentries/{time_entry_id}", get=get_time_entry, put=put_time_entry, delete=delete_time_entry),
]
