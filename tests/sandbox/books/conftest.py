"""A sandbox over a small hand-built Books world, and a client that checks every successful response
against Zoho's OpenAPI documents (``spec_check``), so each test is also a schema test."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from sandbox.server import SandboxServer
from sandbox.world import (
    BooksProject,
    BooksProjectUser,
    BooksTask,
    Contact,
    Currency,
    Expense,
    TimeEntry,
    World,
)
from tests.sandbox.books.spec_check import check_response
from tests.sandbox_fixtures import MINIMAL_MEMBER_REFRESH, MINIMAL_ORG_ID, access_token, minimal_world

ORG = MINIMAL_ORG_ID


@dataclass
class Seeded:
    """Ids of the hand-built records, so tests read like the scenario they check."""

    usd: str
    eur: str
    admin_user: str
    member_user: str
    acme: str
    globex: str
    project: str
    design_task: str
    build_task: str
    entries: list[str]
    expense: str
    nonbillable_expense: str


def books_world() -> tuple[World, Seeded]:
    world = minimal_world(clock=lambda: 1_700_000_000.0)  # 2023-11-14
    users = sorted(u.user_id for u in world.books_users.values())
    usd, eur = world.books_id(), world.books_id()
    world.currencies[usd] = Currency(usd, ORG, "USD", "USD- US Dollar", "$", is_base_currency=True)
    world.currencies[eur] = Currency(eur, ORG, "EUR", "EUR- Euro", "€", exchange_rate=1.1)
    acme, globex = world.books_id(), world.books_id()
    world.contacts[acme] = Contact(
        acme, ORG, "Acme Ltd", company_name="Acme Ltd", currency_id=usd, email="ap@acme.test"
    )
    world.contacts[globex] = Contact(globex, ORG, "Globex", currency_id=eur)
    project = world.books_id()
    world.books_projects[project] = BooksProject(
        project, ORG, "Website", acme, currency_id=usd, billing_type="based_on_task_hours",
        users=[BooksProjectUser(users[0], user_role="admin"), BooksProjectUser(users[1])],
    )  # fmt: skip
    design, build = world.books_id(), world.books_id()
    world.books_tasks[design] = BooksTask(design, ORG, project, "Design", rate=100.0)
    world.books_tasks[build] = BooksTask(build, ORG, project, "Build", rate=80.0)
    entries = []
    for day in range(1, 6):
        entry_id = world.books_id()
        world.time_entries[entry_id] = TimeEntry(
            entry_id, ORG, project, design if day % 2 else build, users[day % 2], dt.date(2023, 11, day), 90
        )
        entries.append(entry_id)
    expense, nonbillable = world.books_id(), world.books_id()
    world.expenses[expense] = Expense(
        expense, ORG, "1", "2", dt.date(2023, 11, 3), 40.0, is_billable=True, customer_id=acme,
        project_id=project, currency_id=usd, status="unbilled",
    )  # fmt: skip
    world.expenses[nonbillable] = Expense(nonbillable, ORG, "1", "2", dt.date(2023, 11, 4), 12.5, currency_id=usd)
    seeded = Seeded(usd, eur, users[0], users[1], acme, globex, project, design, build, entries, expense, nonbillable)
    return world, seeded


class BooksClient:
    """``books.get("/contacts", per_page=2)`` → requests.Response; ``organization_id`` added unless given."""

    def __init__(self, server: SandboxServer, seeded: Seeded, refresh_token: str | None = None) -> None:
        self.server = server
        self.world = server.world
        self.ids = seeded
        self.base = server.base_url + "/books/v3"
        self.http = requests.Session()
        token = access_token(server.base_url, refresh_token) if refresh_token else access_token(server.base_url)
        self.http.headers["Authorization"] = f"Zoho-oauthtoken {token}"

    def call(
        self, method: str, path: str, body: Any = None, *, org: str | None = ORG, **params: Any
    ) -> requests.Response:
        if org is not None:
            params.setdefault("organization_id", org)
        response = self.http.request(method, self.base + path, params=params, json=body, timeout=10)
        check_response(response)
        return response

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.call("GET", path, **params)

    def post(self, path: str, body: Any = None, **params: Any) -> requests.Response:
        return self.call("POST", path, body, **params)

    def put(self, path: str, body: Any = None, **params: Any) -> requests.Response:
        return self.call("PUT", path, body, **params)

    def delete(self, path: str, **params: Any) -> requests.Response:
        return self.call("DELETE", path, **params)


@pytest.fixture
def books(sandbox_factory: Callable[..., SandboxServer]) -> BooksClient:
    world, seeded = books_world()
    return BooksClient(sandbox_factory(world=world), seeded)


@pytest.fixture
def member_books(books: BooksClient) -> BooksClient:
    """The same sandbox, called by the non-admin member."""
    return BooksClient(books.server, books.ids, MINIMAL_MEMBER_REFRESH)
