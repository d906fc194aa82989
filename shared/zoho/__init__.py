"""Zoho API clients: OAuth, one HTTP layer, paging, global rate limiting, one error hierarchy.

Public names are re-exported here; the modules behind them are implementation detail.
"""

from shared.zoho.books import BooksClient
from shared.zoho.books_models import (
    BooksProject,
    BooksProjectUser,
    BooksTask,
    BooksUser,
    Contact,
    Currency,
    Estimate,
    Expense,
    Invoice,
    LineItem,
    Organization,
    RecurringInvoice,
    TimeEntry,
)
from shared.zoho.datacenters import DATA_CENTERS, Endpoints, endpoints_for
from shared.zoho.errors import (
    AuthError,
    ConnectionFailed,
    DailyQuotaExhausted,
    FatalError,
    MalformedResponse,
    NotFound,
    RateLimited,
    RetryableError,
    ServerError,
    ValidationFailed,
    ZohoError,
)
from shared.zoho.factory import ZohoCredentials, build_accounts, build_books_client, build_projects_client
from shared.zoho.http import CallCounter, RetryPolicy, ZohoHttp
from shared.zoho.oauth import TokenProvider
from shared.zoho.paging import Page
from shared.zoho.projects import ProjectsClient
from shared.zoho.projects_models import (
    Bug,
    ClientCompany,
    Milestone,
    Portal,
    PortalUser,
    Project,
    Task,
    Tasklist,
    TimeLog,
)
from shared.zoho.ratelimit import Limit, RateLimiter

__all__ = [
    "DATA_CENTERS",
    "AuthError",
    "BooksClient",
    "BooksProject",
    "BooksProjectUser",
    "BooksTask",
    "BooksUser",
    "Bug",
    "CallCounter",
    "ClientCompany",
    "ConnectionFailed",
    "Contact",
    "Currency",
    "DailyQuotaExhausted",
    "Endpoints",
    "Estimate",
    "Expense",
    "FatalError",
    "Invoice",
    "Limit",
    "LineItem",
    "MalformedResponse",
    "Milestone",
    "NotFound",
    "Organization",
    "Page",
    "Portal",
    "PortalUser",
    "Project",
    "ProjectsClient",
    "RateLimited",
    "RateLimiter",
    "RecurringInvoice",
    "RetryPolicy",
    "RetryableError",
    "ServerError",
    "Task",
    "Tasklist",
    "TimeEntry",
    "TimeLog",
    "TokenProvider",
    "ValidationFailed",
    "ZohoCredentials",
    "ZohoError",
    "ZohoHttp",
    "build_accounts",
    "build_books_client",
    "build_projects_client",
    "endpoints_for",
]
