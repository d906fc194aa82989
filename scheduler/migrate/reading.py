"""Reading what a migration needs from Zoho: the legacy integration's Books records and their Projects sources.

Only reads. The lists are read whole (Books projects, Projects projects and clients, users on both sides); the
details (tasks, bugs, time logs, Books tasks, time entries and invoices) only under the projects that pair with a
legacy Books project, so a portal of many projects that the legacy integration never touched costs little.
Time logs are read for the months the project's legacy time entries span (the list API is month-bound).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.zoho.books import BooksClient
from shared.zoho.books_api import RESOURCES
from shared.zoho.books_models import BooksProject, BooksTask, Invoice, TimeEntry
from shared.zoho.paging import iterate
from shared.zoho.projects import ProjectsClient
from shared.zoho.projects_models import Bug, ClientCompany, Component, Project, Task, TimeLog

Progress = Callable[[str], None]
LOG_COMPONENTS: tuple[Component, ...] = (
    "task",
    "bug",
)  # general logs: see the README (the legacy integration had none)


@dataclass
class Lists:
    """The whole lists, read first: enough to pair projects."""

    books_projects: list[BooksProject]
    projects: list[Project]
    clients: list[ClientCompany]
    owner_email: dict[str, str]  # Projects user id (ZUID) -> email, lower case
    books_user_by_email: dict[str, str]  # email, lower case -> Books user id


@dataclass
class ProjectDetail:
    """One paired project: its Projects side and what the legacy integration made for it in Books."""

    primary: ClientCompany | None
    tasks: list[Task] = field(default_factory=list)
    bugs: list[Bug] = field(default_factory=list)
    logs: list[TimeLog] = field(default_factory=list)
    books_tasks: list[BooksTask] = field(default_factory=list)
    entries: list[TimeEntry] = field(default_factory=list)
    invoices: list[Invoice] = field(default_factory=list)


def read_lists(projects: ProjectsClient, books: BooksClient, progress: Progress) -> Lists:
    progress("reading Zoho Books projects and users")
    books_projects = list(books.iter_projects())
    books_users = {u.email.strip().lower(): u.user_id for u in books.iter_users() if u.email}
    progress("reading Zoho Projects projects, clients and users")
    portal_projects = list(projects.iter_projects())
    clients = list(projects.iter_clients())
    owners = {u.id: u.email.strip().lower() for u in projects.iter_portal_users() if u.email}
    return Lists(books_projects, portal_projects, clients, owners, books_users)


def read_primary(projects: ProjectsClient, project_id: str) -> ClientCompany | None:
    return next((c for c in projects.project_clients(project_id) if c.is_primary), None)


def read_detail(
    projects: ProjectsClient, books: BooksClient, project: Project, books_project: BooksProject, *, with_work: bool
) -> ProjectDetail:
    """``with_work`` False (a project that will not be adopted): only its invoices, to list them as skipped."""
    detail = ProjectDetail(read_primary(projects, project.id))
    detail.invoices = _project_invoices(books, books_project.project_id)
    if not with_work or detail.primary is None:
        return detail
    detail.tasks = list(projects.iter_tasks(project.id))
    detail.bugs = list(projects.iter_bugs(project.id))
    detail.books_tasks = list(books.iter_project_tasks(books_project.project_id))
    detail.entries = list(books.iter_time_entries(project_id=books_project.project_id))
    dates = [e.log_date for e in detail.entries if e.log_date is not None]
    if dates:
        detail.logs = _logs(projects, project.id, min(dates), max(dates))
    return detail


def _logs(projects: ProjectsClient, project_id: str, first: dt.date, last: dt.date) -> list[TimeLog]:
    found: dict[str, TimeLog] = {}
    for component in LOG_COMPONENTS:
        for log in projects.iter_timelogs_between(
            project_id, first.replace(day=1), _month_end(last), component=component
        ):
            found[log.id] = log
    return list(found.values())


def _month_end(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)


def _project_invoices(books: BooksClient, books_project_id: str) -> list[Invoice]:
    # the project's own invoice list (rows carry number, customer, status, totals): no read per invoice
    resource = RESOURCES["invoices"]
    path = f"/projects/{books_project_id}/invoices"
    return list(iterate(lambda cursor: books.page(resource, Invoice, cursor, path=path)))
