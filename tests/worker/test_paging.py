"""The declared paging kinds (worker/modules/paging.py) and pure record mapping: no server needed.

A paging is driven the way the engine drives it: page after page, each cursor handed back, until None.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest

from shared.zoho.errors import NotFound
from shared.zoho.paging import Page
from shared.zoho.projects_models import (
    PROJECTS_DATE_FORMAT,
    Bug,
    ClientCompany,
    PortalUser,
    Project,
    Task,
    TimeLog,
    parse_projects_date,
)
from worker.modules.base import Paging, SyncContext
from worker.modules.bugs import BUGS
from worker.modules.clients import CLIENTS
from worker.modules.paging import FlatList, PerParent
from worker.modules.project_pages import ProjectSource
from worker.modules.projects import PROJECTS
from worker.modules.tasks import TASKS
from worker.modules.timesheets import TIMESHEETS, ListedLog
from worker.modules.users import USERS


class Untouchable:
    """Stands for what mapping a record must not use: any attribute read fails the test."""

    def __init__(self, what: str) -> None:
        self._what = what

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"mapping a record used {self._what} ({name})")


def _no_io_context() -> SyncContext:
    return SyncContext(
        engine=Untouchable("the database"),  # each stands in for a seam
        settings=Untouchable("the settings"),
        integration=Untouchable("the integration"),
        module_run=Untouchable("the module run"),
        projects=Untouchable("Zoho Projects"),
        books=Untouchable("Zoho Books"),
    )


def _drive(paging: Paging, cursor: dict[str, Any] | None = None) -> tuple[list[Any], list[dict[str, Any] | None]]:
    """Every item, and every cursor the engine would checkpoint, from ``cursor`` to the end."""
    items: list[Any] = []
    cursors: list[dict[str, Any] | None] = []
    ctx = _no_io_context()
    for _ in range(100):
        page = paging.page(ctx, cursor)
        items += page.items
        cursor = page.next_cursor
        cursors.append(cursor)
        if cursor is None:
            return items, cursors
    raise AssertionError("the paging never ended")


def _pages_of(items: list[str], size: int) -> Any:
    def fetch(cursor: str | None) -> Page[str]:
        start = int(cursor or 0)
        end = start + size
        return Page(items[start:end], str(end) if end < len(items) else None)

    return fetch


def test_a_flat_list_reads_every_page_once_and_its_cursor_resumes_at_the_next():
    listing = [f"u{i}" for i in range(7)]
    fetch = _pages_of(listing, 3)
    asked: list[str | None] = []

    def counted(_ctx: SyncContext, cursor: str | None) -> Page[str]:
        asked.append(cursor)
        return fetch(cursor)

    items, cursors = _drive(FlatList(counted))
    assert items == listing
    assert asked == [None, "3", "6"]
    assert cursors == [{"page": "3"}, {"page": "6"}, None]
    assert _drive(FlatList(counted), {"page": "3"})[0] == listing[3:]  # a resumed slice starts at its page


def _children(by_parent: dict[str, list[str]], gone: set[str], asked: list[tuple[str, str | None]]) -> Any:
    def fetch(_ctx: SyncContext, parent_id: str, cursor: str | None) -> Page[str]:
        asked.append((parent_id, cursor))
        if parent_id in gone:
            raise NotFound(f"project {parent_id} not found", api="projects", endpoint="GET tasks")
        return _pages_of(by_parent[parent_id], 2)(cursor)

    return fetch


def test_per_parent_lists_each_parents_children_page_by_page_and_skips_a_parent_deleted_mid_run():
    by_parent = {"P1": ["a", "b", "c"], "P2": ["d"], "P3": ["e", "f"]}
    asked: list[tuple[str, str | None]] = []
    paging = PerParent("project", _children(by_parent, gone=set(), asked=asked))
    start = {"parents": ["P1", "P2", "P3"], "index": 0, "page": None}
    first = paging.page(_no_io_context(), start)
    assert first.items == [("P1", "a"), ("P1", "b")]
    # P2 is deleted in Projects after the run fixed its parent list: it answers 404 and is skipped
    paging = PerParent("project", _children(by_parent, gone={"P2"}, asked=asked))
    items, cursors = _drive(paging, first.next_cursor)
    assert items == [("P1", "c"), ("P3", "e"), ("P3", "f")]
    assert cursors[-1] is None
    assert asked == [("P1", None), ("P1", "2"), ("P2", None), ("P3", None)]


def test_per_parent_resumes_a_checkpoint_written_before_the_kinds_were_declared():
    by_parent = {"P1": ["a"], "P2": ["b", "c", "d"]}
    paging = PerParent("project", _children(by_parent, gone=set(), asked=[]))
    old = {"projects": ["P1", "P2"], "index": 1, "page": "2"}  # per_project_pages' shape
    items, _ = _drive(paging, old)
    assert items == [("P2", "d")]


def test_a_per_parent_run_with_no_parent_reads_nothing():
    paging = PerParent("project", _children({}, gone=set(), asked=[]))
    assert _drive(paging, {"parents": [], "index": 0, "page": None}) == ([], [None])


def _project(status: str = "active", owner: str | None = "U1") -> Project:
    return Project(id="P1", name="Website", status=status, description="x" * 600, owner_id=owner, currency_code="EUR")


@pytest.mark.parametrize(
    ("module", "item", "expected"),
    [
        (USERS, PortalUser(id="U1", name="Ann", email="Ann@Example.com"), {"email": "ann@example.com"}),
        (
            CLIENTS,
            ClientCompany(id="C1", name="Acme", email=" AP@Acme.example ", currency_code="EUR"),
            {"name": "Acme", "email": "ap@acme.example", "currency": "EUR"},
        ),
        (TASKS, ("P1", Task(id="T1", name="Design")), {"name": "Design"}),
        (BUGS, ("P1", Bug(id="B1", title="Crash", key="BG-1")), {"name": "BG-1: Crash"}),
    ],
)
def test_mapping_a_record_makes_no_call_and_reads_no_database(module, item, expected):
    record = module.to_record(_no_io_context(), item)
    assert record.fields == expected


def test_mapping_a_project_takes_its_clients_and_users_from_the_paging_without_a_call():
    item = ProjectSource(
        _project(),
        linked=False,
        clients=(ClientCompany(id="C2", name="Other"), ClientCompany(id="C1", name="Acme", is_primary=True)),
        users=(PortalUser(id="U1"), PortalUser(id="U2"), PortalUser(id="U3")),
        user_books_ids={"U1": "b-1", "U3": "b-3", "U9": "b-9"},  # U2 has no Books user yet
    )
    record = PROJECTS.to_record(_no_io_context(), item)
    assert record.parent == ("client", "C1")
    assert record.fields["primary_client"] == "C1"
    assert record.fields["users"] == ["b-1", "b-3"]
    assert record.fields["owner"] == "b-1"
    assert len(record.fields["description"]) == 500
    assert not record.skip


def test_an_archived_project_never_linked_is_skipped_and_one_linked_is_mapped():
    archived = ProjectSource(_project(status="archived"), linked=False)
    assert PROJECTS.to_record(_no_io_context(), archived).skip
    linked = ProjectSource(_project(status="archived", owner=None), linked=True)
    record = PROJECTS.to_record(_no_io_context(), linked)
    assert not record.skip
    assert record.fields["active"] is False
    assert record.fields["primary_client"] is None  # the rule check reports it, not the mapping
    assert record.fields["owner"] is None


def test_mapping_a_time_log_takes_its_project_and_owner_from_the_listing_without_a_call():
    ctx = dataclasses.replace(
        _no_io_context(), integration=SimpleNamespace(timesheet_cutoff_date=dt.date(2026, 1, 1))
    )  # held in memory: no read
    log = TimeLog(
        id="L1",
        component="bug",
        project_id="P1",
        bug_id="B1",
        name="Crash",
        owner_id="U1",
        owner_name="Ann",
        log_date=dt.date(2026, 3, 2),
        minutes=90,
        billable=True,
        approval_status="Approved",
        notes="fixed",
    )
    record = TIMESHEETS.to_record(ctx, ListedLog(log, books_project="BP1", books_user="BU1"))
    assert record.parent == ("bug", "B1")
    assert record.fields == {
        "component": "bug",
        "project": "BP1",
        "user": "BU1",
        "date": "2026-03-02",
        "minutes": 90,
        "notes": "fixed",
    }
    before_cutoff = log.model_copy(update={"log_date": dt.date(2025, 12, 31)})
    assert TIMESHEETS.to_record(ctx, ListedLog(before_cutoff, "BP1", "BU1")).skip


@pytest.mark.parametrize(
    "text",
    ["04-25-2019", "01-14-2011 12:00 AM", " 12-31-2024 ", "02-29-2024", "1-5-2024", "02-30-2023", "13-01-2020",
     "00-10-2020", "ab-cd-efgh", "04/25/2019", "04-25-19", "\uff11\uff12-31-2024", "+4-25-2019", "04-25-+019"],
)  # fmt: skip
def test_a_listed_date_parses_as_strptime_parses_it(text: str) -> None:
    """Listing pages parse Projects dates without strptime (issue 18); the answers, errors included, are its."""

    def answer(parse: Any) -> Any:
        try:
            return parse(text)
        except ValueError:
            return ValueError

    expected = answer(lambda value: dt.datetime.strptime(value.strip()[:10], PROJECTS_DATE_FORMAT).date())
    assert answer(parse_projects_date) == expected
