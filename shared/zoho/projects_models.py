"""What the product reads from Zoho Projects (classic API), as typed models.

Ids are strings whatever Zoho sent (18-digit numbers lose precision in most JSON stacks, so ``id_string``
wins when present); dates ``MM-DD-YYYY`` (optionally followed by a time) become ``datetime.date``;
``*_long`` epoch millis stay ints. Unknown fields are ignored so new Zoho fields don't break a sync.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator

PROJECTS_DATE_FORMAT = "%m-%d-%Y"


def _id(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return str(int(value))
    return value


def _optional_id(value: Any) -> Any:
    return None if value in ("", None) else _id(value)


def parse_projects_date(value: Any) -> dt.date | None:
    """``"04-25-2019"`` or ``"01-14-2011 12:00 AM"`` → date; empty → None."""
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()[:10]
    # what Zoho sends, parsed without strptime (a tenth of its cost: a task listing has two dates an item)
    if (
        len(text) == 10
        and text.isascii()
        and text[2] == text[5] == "-"
        and text[:2].isdigit()
        and text[3:5].isdigit()
        and text[6:].isdigit()
    ):
        return dt.date(int(text[6:]), int(text[:2]), int(text[3:5]))  # ValueError for a month 13, as strptime
    return dt.datetime.strptime(text, PROJECTS_DATE_FORMAT).date()


def format_projects_date(day: dt.date) -> str:
    return day.strftime(PROJECTS_DATE_FORMAT)


ZohoId = Annotated[str, BeforeValidator(_id)]
OptionalId = Annotated[str | None, BeforeValidator(_optional_id)]
ProjectsDate = Annotated[dt.date | None, BeforeValidator(parse_projects_date)]


class ProjectsModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _prefer_id_string(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("id_string"):
            data = {**data, "id": data["id_string"]}
        return data


class Portal(ProjectsModel):
    id: ZohoId
    name: str
    role: str = ""
    default: bool = False
    company_name: str = ""
    time_zone: str = ""
    # The ZUID of the user who listed the portal: ``login_id`` beside the list (reference §6). Projects counts
    # calls per user, so this keys the rate limit; "" when the listing did not say.
    login_id: str = ""

    @model_validator(mode="before")
    @classmethod
    def _settings(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("settings"), dict):
            settings = data["settings"]
            data = {
                "company_name": settings.get("company_name", ""),
                "time_zone": settings.get("time_zone", ""),
                **data,
            }
        return data


class Project(ProjectsModel):
    id: ZohoId
    name: str
    key: str = ""
    status: str = "active"
    description: str = ""
    owner_id: OptionalId = None
    owner_name: str = ""
    currency_code: str | None = None
    start_date: ProjectsDate = None
    end_date: ProjectsDate = None
    created_ms: int | None = None
    updated_ms: int | None = None
    # the project's hourly billing rate (``project_rate``, reference: projects' fields); None when unset or not a
    # positive number
    rate: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _longs(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = {"created_ms": data.get("created_date_long"), "updated_ms": data.get("updated_date_long"), **data}
            data["rate"] = _positive_rate(data.get("project_rate"))
        return data


def _positive_rate(value: Any) -> float | None:
    try:
        rate = float(str(value).replace(",", "").strip())
    except ValueError:
        return None
    return rate if rate > 0 and rate < float("inf") else None


class ClientCompany(ProjectsModel):
    id: ZohoId
    name: str
    email: str = ""
    currency_code: str | None = None
    is_primary: bool = False
    modified_ms: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            # the classic project-clients shape was never seen (reference §12); accept the spellings in use
            primary = data.get("is_primary", data.get("is_primary_client", data.get("primary", False)))
            data = {**data, "is_primary": bool(primary), "modified_ms": data.get("last_modified_time_long")}
        return data


class PortalUser(ProjectsModel):
    id: ZohoId  # the ZUID; time-log owner_id matches it
    name: str = ""
    email: str = ""
    role: str = ""
    active: bool = True
    zpuid: OptionalId = None


class Milestone(ProjectsModel):
    id: ZohoId
    name: str
    owner_id: OptionalId = None
    status: str = ""
    flag: str = ""
    start_date: ProjectsDate = None
    end_date: ProjectsDate = None


class Tasklist(ProjectsModel):
    id: ZohoId
    name: str
    completed: bool = False
    flag: str = ""
    milestone_id: OptionalId = None

    @model_validator(mode="before")
    @classmethod
    def _milestone(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("milestone"), dict):
            milestone = data["milestone"]
            data = {**data, "milestone_id": milestone.get("id_string") or milestone.get("id")}
        return data


class Task(ProjectsModel):
    id: ZohoId
    name: str
    key: str = ""
    completed: bool = False
    billable: bool = True
    owner_ids: list[str] = []
    tasklist_id: OptionalId = None
    milestone_id: OptionalId = None
    start_date: ProjectsDate = None
    end_date: ProjectsDate = None
    last_updated_ms: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _reshape(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        owners = (data.get("details") or {}).get("owners") or []
        tasklist = data.get("tasklist") or {}
        billing = data.get("billingtype", data.get("billing_type", "Billable"))
        return {
            **data,
            # an unassigned task shows one owner without an id (inferred) — not a person
            "owner_ids": [_id(o.get("id")) for o in owners if isinstance(o, dict) and o.get("id") not in (None, "")],
            "tasklist_id": tasklist.get("id_string") or tasklist.get("id"),
            "billable": str(billing).strip().lower() == "billable",
            "last_updated_ms": data.get("last_updated_time_long"),
        }


class Bug(ProjectsModel):
    id: ZohoId
    title: str
    key: str = ""
    closed: bool = False
    reporter_id: OptionalId = None
    assignee_id: OptionalId = None
    milestone_id: OptionalId = None
    last_updated_ms: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _reshape(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        milestone = data.get("milestone") or {}
        return {**data, "milestone_id": milestone.get("id"), "last_updated_ms": data.get("last_updated_time_long")}


Component = Literal["task", "bug", "general"]
COMPONENTS: tuple[str, ...] = get_args(Component)


class TimeLog(ProjectsModel):
    id: ZohoId
    component: Component
    project_id: OptionalId = None
    task_id: OptionalId = None
    bug_id: OptionalId = None
    name: str = ""  # the subject: task name, bug title or the general log's own name
    owner_id: OptionalId = None
    owner_name: str = ""
    log_date: dt.date
    minutes: int
    billable: bool
    approval_status: str = ""
    notes: str = ""
    modified_ms: int | None = None

    @classmethod
    def from_api(cls, raw: dict[str, Any], component: Component, project_id: str | None = None) -> TimeLog:
        task = raw.get("task") or {}
        bug = raw.get("bug") or {}
        project = raw.get("project") or {}
        minutes = raw.get("total_minutes")
        if minutes is None:
            minutes = int(raw.get("hours") or 0) * 60 + int(raw.get("minutes") or 0)
        return cls.model_validate(
            {
                **raw,
                "component": component,
                "project_id": project.get("id_string") or project.get("id") or project_id,
                "task_id": task.get("id_string") or task.get("id"),
                "bug_id": bug.get("id_string") or bug.get("id"),
                "name": raw.get("name") or task.get("name") or bug.get("title") or "",
                "log_date": parse_projects_date(raw.get("log_date")),
                "minutes": minutes,
                "billable": str(raw.get("bill_status", "")).lower() == "billable",
                "modified_ms": raw.get("last_modified_time_long"),
            }
        )
