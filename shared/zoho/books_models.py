"""What the product reads from Zoho Books v3, as typed models.

Ids are strings (the OAS examples sometimes show numbers); dates ``yyyy-mm-dd`` become ``datetime.date``;
durations ``"HH:mm"`` become minutes; timestamps (``2013-09-18T18:05:27+0530``) stay strings because the
invoice list's ``last_modified_time`` filter wants them back verbatim. Unknown fields are ignored.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator


def _id(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(int(value))
    return value


def _date(value: Any) -> Any:
    if value in (None, "") or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        return dt.date.fromisoformat(value.strip()[:10])
    return value


def _number(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return value


def duration_minutes(value: Any) -> int:
    """Books durations: ``"05:30"`` (HH:mm); some totals come as decimal hours (``"0.00"``)."""
    if value in (None, ""):
        return 0
    text = str(value).strip()
    if ":" in text:
        hours, minutes = text.split(":", 1)
        return int(hours or 0) * 60 + int(minutes or 0)
    return round(float(text) * 60)


def format_duration(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


BooksId = Annotated[str, BeforeValidator(_id)]
BooksDate = Annotated[dt.date | None, BeforeValidator(_date)]
Amount = Annotated[float | None, BeforeValidator(_number)]


class BooksModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Organization(BooksModel):
    organization_id: BooksId
    name: str
    email: str = ""
    currency_id: BooksId = ""
    currency_code: str = ""
    plan_name: str = ""
    time_zone: str = ""
    is_default_org: bool = False


class BooksUser(BooksModel):
    user_id: BooksId
    name: str = ""
    email: str = ""
    user_role: str = ""
    role_id: BooksId = ""
    status: str = ""

    @model_validator(mode="before")
    @classmethod
    def _email(cls, data: Any) -> Any:
        # the single-user object carries email_ids[] instead of a flat email (reference §8)
        if isinstance(data, dict) and not data.get("email") and data.get("email_ids"):
            selected = [e for e in data["email_ids"] if e.get("is_selected")] or data["email_ids"]
            data = {**data, "email": selected[0].get("email", "")}
        return data


class Currency(BooksModel):
    currency_id: BooksId
    currency_code: str
    currency_name: str = ""
    currency_symbol: str = ""
    is_base_currency: bool = False


class Contact(BooksModel):
    contact_id: BooksId
    contact_name: str
    company_name: str = ""
    contact_type: str = ""
    email: str = ""
    currency_id: BooksId = ""
    currency_code: str = ""
    status: str = ""
    last_modified_time: str = ""


class BooksProjectUser(BooksModel):
    user_id: BooksId
    user_name: str = ""
    email: str = ""
    user_role: str = ""
    status: str = ""
    rate: Amount = None
    cost_rate: Amount = None


class BooksTask(BooksModel):
    task_id: BooksId
    task_name: str
    project_id: BooksId = ""
    description: str = ""
    rate: Amount = None
    status: str = ""
    is_billable: bool | None = None


class BooksProject(BooksModel):
    project_id: BooksId
    project_name: str
    customer_id: BooksId = ""
    customer_name: str = ""
    currency_code: str = ""
    description: str = ""
    status: str = ""
    billing_type: str = ""
    rate: Amount = None
    tasks: list[BooksTask] = Field(default_factory=list)
    users: list[BooksProjectUser] = Field(default_factory=list)
    # [{"customfield_id", "api_name", "label", "value"}]; ``bpsync migrate`` reads the legacy integration's id here
    custom_fields: list[dict[str, Any]] = Field(default_factory=list)


class TimeEntry(BooksModel):
    time_entry_id: BooksId
    project_id: BooksId = ""
    task_id: BooksId = ""
    user_id: BooksId = ""
    log_date: BooksDate = None
    minutes: int = 0
    is_billable: bool = True
    billed_status: str = ""
    invoice_id: BooksId = ""
    notes: str = ""

    @model_validator(mode="before")
    @classmethod
    def _minutes(cls, data: Any) -> Any:
        if isinstance(data, dict) and "minutes" not in data:
            data = {**data, "minutes": duration_minutes(data.get("log_time"))}
        return data


class LineItem(BooksModel):
    line_item_id: BooksId = ""
    item_id: BooksId = ""
    name: str = ""
    description: str = ""
    rate: Amount = None
    quantity: Amount = None
    unit: str = ""
    project_id: BooksId = ""
    time_entry_ids: list[BooksId] = Field(default_factory=list)
    expense_id: BooksId = ""

    @model_validator(mode="before")
    @classmethod
    def _ids(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("time_entry_ids") in (None, ""):
            data = {**data, "time_entry_ids": []}
        return data


class Invoice(BooksModel):
    invoice_id: BooksId
    invoice_number: str = ""
    customer_id: BooksId = ""
    customer_name: str = ""
    status: str = ""
    reference_number: str = ""
    date: BooksDate = None
    due_date: BooksDate = None
    currency_id: BooksId = ""
    currency_code: str = ""
    total: Amount = None
    balance: Amount = None
    recurring_invoice_id: BooksId = ""
    line_items: list[LineItem] = Field(default_factory=list)
    created_time: str = ""
    last_modified_time: str = ""


class Estimate(BooksModel):
    estimate_id: BooksId
    estimate_number: str = ""
    customer_id: BooksId = ""
    customer_name: str = ""
    status: str = ""
    reference_number: str = ""
    date: BooksDate = None
    expiry_date: BooksDate = None
    currency_code: str = ""
    total: Amount = None
    line_items: list[LineItem] = Field(default_factory=list)
    last_modified_time: str = ""


class Expense(BooksModel):
    expense_id: BooksId
    date: BooksDate = None
    account_id: BooksId = ""
    account_name: str = ""
    description: str = ""
    reference_number: str | None = None
    total: Amount = None
    amount: Amount = None
    is_billable: bool = False
    customer_id: BooksId = ""
    customer_name: str = ""
    project_id: BooksId = ""
    currency_code: str = ""
    status: str = ""
    invoice_id: BooksId = ""
    last_modified_time: str = ""


class RecurringInvoice(BooksModel):
    recurring_invoice_id: BooksId
    recurrence_name: str = ""
    customer_id: BooksId = ""
    customer_name: str = ""
    recurrence_frequency: str = ""
    repeat_every: int | None = None
    status: str = ""
    start_date: BooksDate = None
    end_date: BooksDate = None
    project_id: BooksId = ""
    currency_code: str = ""
    line_items: list[LineItem] = Field(default_factory=list)
