"""The sandbox's ground truth: every entity of both emulated systems, in storage form.

Each API module (``sandbox/projects``, ``sandbox/books``, ``sandbox/accounts``) renders these records in its
own JSON shape; the generator (``sandbox/generator.py``) fills a World; ``/_sandbox/act`` mutates one as a
person would; ``/_sandbox/state`` dumps it. Records hold plain values (ids as digit strings, dates as
``datetime.date``, times as epoch millis) so that the rendering rules live in one place per API.

Every mutation goes through a World method or happens under ``world.lock`` because the ASGI server runs
sync handlers in a thread pool.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from sandbox.indexes import IndexedTable

Clock = Callable[[], float]
"""Seconds since the epoch; injectable so tests can move time (token expiry, rate-limit windows)."""


# --------------------------------------------------------------------------------------------- identity
@dataclass
class OAuthClient:
    client_id: str
    client_secret: str


@dataclass
class Person:
    """A Zoho account (one login) that can hold refresh tokens for both products."""

    zuid: str
    name: str
    email: str
    refresh_tokens: list[str] = field(default_factory=list)


@dataclass
class AccessToken:
    token: str
    zuid: str
    refresh_token: str
    expires_at: float
    revoked: bool = False
    issued_at: float = 0.0  # Zoho caps how many access tokens one refresh token may mint per window


@dataclass
class AuthorizationCode:
    """A grant code from the consent screen, exchanged once for a refresh token (authorization_code grant)."""

    code: str
    client_id: str
    zuid: str
    redirect_uri: str
    expires_at: float
    used: bool = False


# --------------------------------------------------------------------------------------------- Projects
@dataclass
class Portal:
    id: str
    name: str
    company_name: str
    # zuid -> portal role ("admin" | "manager" | "employee" | "contractor" | "client"); the owner is "admin"
    roles: dict[str, str] = field(default_factory=dict)
    owner_zuid: str = ""
    time_zone: str = "UTC"


@dataclass
class PortalUser:
    id: str  # zuid as string; time-log owner_id matches it
    zpuid: str
    portal_id: str
    name: str
    email: str
    role: str
    active: bool = True


@dataclass
class ClientCompany:
    id: str
    portal_id: str
    name: str
    email: str = ""
    currency_code: str = "USD"
    created_ms: int = 0
    modified_ms: int = 0


@dataclass
class Project:
    id: str
    portal_id: str
    name: str
    key: str
    owner_id: str
    status: Literal["active", "archived", "template"] = "active"
    description: str = ""
    currency_code: str = "USD"
    client_ids: list[str] = field(default_factory=list)
    primary_client_id: str | None = None  # None: the awkward "no primary client" case
    user_ids: list[str] = field(default_factory=list)
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    created_ms: int = 0
    updated_ms: int = 0
    rate: float = 0.0  # ``project_rate``: the hourly billing rate (0: none set)


@dataclass
class Milestone:
    id: str
    project_id: str
    name: str
    owner_id: str
    status: Literal["notcompleted", "completed"] = "notcompleted"
    flag: Literal["internal", "external"] = "internal"
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    created_ms: int = 0


@dataclass
class Tasklist:
    id: str
    project_id: str
    name: str
    milestone_id: str | None = None
    completed: bool = False
    flag: Literal["internal", "external"] = "internal"
    created_ms: int = 0


@dataclass
class Task:
    id: str
    project_id: str
    tasklist_id: str
    name: str
    key: str
    owner_ids: list[str] = field(default_factory=list)
    completed: bool = False
    billingtype: Literal["Billable", "Non Billable"] = "Billable"
    priority: str = "None"
    description: str = ""
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    created_by: str = ""
    created_ms: int = 0
    last_updated_ms: int = 0


@dataclass
class Bug:
    id: str
    project_id: str
    title: str
    key: str
    reporter_id: str
    assignee_id: str | None = None
    closed: bool = False
    severity: str = "Minor"
    description: str = ""
    milestone_id: str | None = None
    created_ms: int = 0
    last_updated_ms: int = 0


@dataclass
class TimeLog:
    id: str
    project_id: str
    component: Literal["task", "bug", "general"]
    owner_id: str
    log_date: dt.date
    minutes: int
    bill_status: Literal["Billable", "Non Billable"] = "Billable"
    approval_status: Literal["Approved", "Pending", "Rejected"] = "Pending"
    approver_id: str | None = None
    task_id: str | None = None  # component == "task"
    bug_id: str | None = None  # component == "bug"
    name: str = ""  # component == "general" (required there)
    notes: str = ""
    created_ms: int = 0
    modified_ms: int = 0


# --------------------------------------------------------------------------------------------- Books
@dataclass
class Organization:
    organization_id: str
    name: str
    email: str
    currency_code: str = "USD"
    plan_name: str = "PROFESSIONAL"
    daily_limit: int = 5000  # calls/day by plan (reference §6)
    admin_zuids: list[str] = field(default_factory=list)  # who may use the API as admin
    member_zuids: list[str] = field(default_factory=list)  # everyone who may call at all
    time_zone: str = "UTC"
    created_date: dt.date = dt.date(2020, 1, 1)


@dataclass
class Currency:
    currency_id: str
    organization_id: str
    currency_code: str
    currency_name: str
    currency_symbol: str
    is_base_currency: bool = False
    exchange_rate: float = 1.0


@dataclass
class BooksUser:
    user_id: str
    organization_id: str
    name: str
    email: str
    user_role: str = "staff"  # "admin" | "staff" | "timesheetstaff"
    status: Literal["active", "inactive", "invited", "deleted"] = "active"
    zuid: str | None = None  # the person behind it, when there is one
    cost_rate: float = 0.0
    created_time: int = 0


@dataclass
class Contact:
    contact_id: str
    organization_id: str
    contact_name: str
    company_name: str = ""
    contact_type: Literal["customer", "vendor"] = "customer"
    currency_id: str = ""
    email: str = ""  # of the primary contact person
    first_name: str = ""
    last_name: str = ""
    status: Literal["active", "inactive"] = "active"
    notes: str = ""
    created_time: int = 0
    last_modified_time: int = 0


@dataclass
class BooksProjectUser:
    user_id: str
    user_role: str = "staff"
    rate: float = 0.0
    budget_hours: str = "0"
    cost_rate: float = 0.0
    status: str = "active"


@dataclass
class BooksProject:
    project_id: str
    organization_id: str
    project_name: str
    customer_id: str
    currency_id: str = ""
    description: str = ""
    billing_type: str = "based_on_task_hours"
    rate: float = 0.0
    budget_type: str = ""
    status: Literal["active", "inactive"] = "active"
    users: list[BooksProjectUser] = field(default_factory=list)
    created_time: int = 0
    last_modified_time: int = 0
    # Books custom fields ({"customfield_id", "api_name", "label", "value"}); the legacy seed stores the Zoho
    # Projects id in one, as the old integration is assumed to have done (inferred, see sandbox/seed_legacy.py)
    custom_fields: list[dict[str, str]] = field(default_factory=list)


@dataclass
class BooksTask:
    task_id: str
    organization_id: str
    project_id: str
    task_name: str
    description: str = ""
    rate: float = 0.0
    budget_hours: str = "0"
    status: Literal["active", "inactive"] = "active"
    is_billable: bool = True
    created_time: int = 0


@dataclass
class TimeEntry:
    time_entry_id: str
    organization_id: str
    project_id: str
    task_id: str
    user_id: str
    log_date: dt.date
    minutes: int
    is_billable: bool = True
    billed_status: Literal["unbilled", "invoiced"] = "unbilled"
    invoice_id: str = ""
    notes: str = ""
    cost_rate: float = 0.0
    created_time: int = 0


@dataclass
class LineItem:
    line_item_id: str
    name: str
    rate: float
    quantity: float
    description: str = ""
    item_id: str = ""
    project_id: str = ""
    time_entry_ids: list[str] = field(default_factory=list)
    expense_id: str = ""
    unit: str = ""
    item_order: int = 1


@dataclass
class Invoice:
    invoice_id: str
    organization_id: str
    invoice_number: str
    customer_id: str
    date: dt.date
    line_items: list[LineItem] = field(default_factory=list)
    status: str = "draft"
    reference_number: str = ""
    due_date: dt.date | None = None
    currency_id: str = ""
    recurring_invoice_id: str = ""
    invoiced_estimate_id: str = ""
    notes: str = ""
    terms: str = ""
    created_time: int = 0
    last_modified_time: int = 0


@dataclass
class Estimate:
    estimate_id: str
    organization_id: str
    estimate_number: str
    customer_id: str
    date: dt.date
    line_items: list[LineItem] = field(default_factory=list)
    status: str = "draft"
    reference_number: str = ""
    expiry_date: dt.date | None = None
    currency_id: str = ""
    notes: str = ""
    created_time: int = 0
    last_modified_time: int = 0


@dataclass
class Expense:
    expense_id: str
    organization_id: str
    account_id: str
    paid_through_account_id: str
    date: dt.date
    amount: float
    account_name: str = "Travel Expense"
    description: str = ""
    reference_number: str = ""
    is_billable: bool = False
    customer_id: str = ""
    project_id: str = ""
    currency_id: str = ""
    status: str = "nonbillable"  # "unbilled" | "invoiced" | "reimbursed" | "nonbillable"
    invoice_id: str = ""
    created_time: int = 0
    last_modified_time: int = 0


@dataclass
class RecurringInvoice:
    recurring_invoice_id: str
    organization_id: str
    recurrence_name: str
    customer_id: str
    recurrence_frequency: str
    repeat_every: int = 1
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    line_items: list[LineItem] = field(default_factory=list)
    status: Literal["active", "stopped", "expired"] = "active"
    currency_id: str = ""
    reference_number: str = ""
    project_id: str = ""
    created_time: int = 0
    last_modified_time: int = 0


# --------------------------------------------------------------------------------------------- world
_TABLES = (
    "people",
    "oauth_clients",
    "access_tokens",
    "portals",
    "portal_users",
    "clients",
    "projects",
    "milestones",
    "tasklists",
    "tasks",
    "bugs",
    "timelogs",
    "organizations",
    "currencies",
    "books_users",
    "contacts",
    "books_projects",
    "books_tasks",
    "time_entries",
    "invoices",
    "estimates",
    "expenses",
    "recurring_invoices",
)


@dataclass
class World:
    clock: Clock = time.time
    people: dict[str, Person] = field(default_factory=dict)
    oauth_clients: dict[str, OAuthClient] = field(default_factory=dict)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    authorization_codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    # Projects
    portals: dict[str, Portal] = field(default_factory=dict)
    portal_users: dict[tuple[str, str], PortalUser] = field(default_factory=dict)  # (portal_id, zuid)
    clients: dict[str, ClientCompany] = field(default_factory=dict)
    projects: dict[str, Project] = field(default_factory=dict)
    # per-project (and per-task/bug) indexes: list endpoints read one project's records, not the world's
    milestones: IndexedTable[Milestone] = field(default_factory=lambda: IndexedTable("project_id"))
    tasklists: IndexedTable[Tasklist] = field(default_factory=lambda: IndexedTable("project_id"))
    tasks: IndexedTable[Task] = field(default_factory=lambda: IndexedTable("project_id"))
    bugs: IndexedTable[Bug] = field(default_factory=lambda: IndexedTable("project_id"))
    timelogs: IndexedTable[TimeLog] = field(default_factory=lambda: IndexedTable("project_id", "task_id", "bug_id"))
    # Books
    organizations: dict[str, Organization] = field(default_factory=dict)
    currencies: dict[str, Currency] = field(default_factory=dict)
    books_users: dict[str, BooksUser] = field(default_factory=dict)
    contacts: dict[str, Contact] = field(default_factory=dict)
    books_projects: dict[str, BooksProject] = field(default_factory=dict)
    books_tasks: IndexedTable[BooksTask] = field(default_factory=lambda: IndexedTable("project_id"))
    time_entries: IndexedTable[TimeEntry] = field(default_factory=lambda: IndexedTable("project_id", "task_id"))
    invoices: dict[str, Invoice] = field(default_factory=dict)
    estimates: dict[str, Estimate] = field(default_factory=dict)
    expenses: dict[str, Expense] = field(default_factory=dict)
    recurring_invoices: dict[str, RecurringInvoice] = field(default_factory=dict)
    # what the generator seeded, for tests and the demo (e.g. {"no_primary_client": [project ids]})
    awkward: dict[str, list[str]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)
    _seq: itertools.count = field(default_factory=lambda: itertools.count(1), repr=False, compare=False)

    # ids look like Zoho's: Projects 18 digits (JSON numbers above 2**53, hence id_string), Books 15 digits
    def projects_id(self) -> str:
        return str(170876000000000000 + next(self._seq))

    def books_id(self) -> str:
        return str(460000000000000 + next(self._seq))

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def today(self) -> dt.date:
        return dt.datetime.fromtimestamp(self.clock(), tz=dt.UTC).date()

    def state(self) -> dict[str, Any]:
        """Ground truth as JSON-ready data: every table, with dates as ISO strings."""
        with self.lock:
            return {name: [_jsonable(r) for r in getattr(self, name).values()] for name in _TABLES} | {
                "awkward": {k: list(v) for k, v in self.awkward.items()}
            }


def _jsonable(record: Any) -> Any:
    data = dataclasses.asdict(record)
    return _dates_to_iso(data)


def _dates_to_iso(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _dates_to_iso(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dates_to_iso(v) for v in value]
    return value
