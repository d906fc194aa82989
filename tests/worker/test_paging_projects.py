"""The projects paging under a 429 (worker/modules/project_pages.py): a listing page is handed over in chunks, each
project fetched with its clients and users; a slice stopped halfway through a chunk (a Projects 429 while fetching,
a Books 429 while writing) resumes without fetching a project twice and without skipping one.

Real Postgres, the sandbox over HTTP (its request counts per route), a real worker; the beat's tick is a stand-in
that calls the sweep.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests

from sandbox.generator import credentials
from sandbox.projects.changes import create_project
from scheduler.embedded import running_beat
from shared.dispatch import sweep
from tests.sync_support import SyncHarness, sync_harness
from tests.worker.throttle_support import add_fault, sandbox_429s
from worker.connections import clients_for
from worker.modules.project_pages import CHUNK

# A 429 is handed back to the sweep rather than waited out inline: it ends the slice.
THROTTLED = {"max_inline_wait_seconds": 0, "http_retry_base_seconds": 0.01, "retry_backoff_seconds": 0.2}
CLIENTS_ROUTE = "/restapi/portal/{portal}/projects/{project}/clients/"
USERS_ROUTE = "/restapi/portal/{portal}/projects/{project}/users/"


@contextmanager
def beat(h: SyncHarness) -> Iterator[None]:
    with running_beat(lambda: sweep(h.engine, h.app, h.settings), 0.2):
        yield


def _add_projects(h: SyncHarness, count: int) -> None:
    """Active projects like a seeded one that syncs: its primary client (not the currency mismatch), currency and
    owner."""
    world = h.sandbox.world
    portal = credentials(world)["portal_id"]
    with world.lock:
        mismatched = set(world.awkward.get("currency_mismatch_clients", []))
        model = next(
            p
            for p in world.projects.values()
            if p.portal_id == portal and p.status == "active" and p.primary_client_id not in mismatched | {None}
        )
    for i in range(count):
        create_project(
            world,
            portal,
            f"Chunked {i:02d}",
            model.owner_id,
            primary_client_id=model.primary_client_id,
            currency_code=model.currency_code,
        )


def _requests(h: SyncHarness, route: str) -> int:
    rows = requests.get(f"{h.sandbox.base_url}/_sandbox/requests", timeout=10).json()["requests"]
    return sum(r["count"] for r in rows if r["api"] == "projects" and r["method"] == "GET" and r["path"] == route)


def _listing(h: SyncHarness) -> list[Any]:
    projects, _ = clients_for(h.settings, h.integration)
    return list(projects.iter_projects())


def test_a_projects_slice_throttled_halfway_through_a_chunk_fetches_no_project_twice_and_skips_none(
    sandbox_factory, pg_migrated_url
):
    sandbox = sandbox_factory(size="tiny")
    with sync_harness(sandbox, pg_migrated_url, **THROTTLED) as h, beat(h):
        _add_projects(h, 30)
        listed = _listing(h)
        assert len(listed) > CHUNK + 5, "the listing must hold more than one chunk"
        fetched_for = [p.id for p in listed if p.status == "active"]  # an archived project never linked needs nothing
        # the 429 answers the clients of a project in the second chunk, after 4 of that chunk were fetched
        throttled = listed[CHUNK + 4].id
        assert throttled in fetched_for
        portal = credentials(h.sandbox.world)["portal_id"]
        add_fault(
            h,
            api="projects",
            path=f"/restapi/portal/{portal}/projects/{throttled}/clients/",
            kind="429",
            retry_after_s=1,
            count=1,
        )
        h.reset_requests()
        run = h.sync(timeout=120)
        assert run.status == "partial", run.modules["projects"].error  # the seeded awkward records fail, as ever
        assert sandbox_429s(h) == 1
        projects = run.modules["projects"]
        assert projects.throttled_calls == 1
        # each project's clients and users were asked for once (the throttled clients call twice), none skipped
        assert _requests(h, CLIENTS_ROUTE) == len(fetched_for) + 1
        assert _requests(h, USERS_ROUTE) == len(fetched_for)
        assert projects.fetched == len(listed)  # counted once each, however the run was cut
        books = {p["project_name"] for p in h.state()["books_projects"]}
        assert {f"Chunked {i:02d}" for i in range(30)} <= books


@pytest.mark.parametrize("where", ["inside a page", "on a page's first project"])
def test_a_projects_slice_throttled_by_books_keeps_what_it_fetched_for_the_rest_of_the_page(
    sandbox_factory, pg_migrated_url, where
):
    sandbox = sandbox_factory(size="tiny")
    with sync_harness(sandbox, pg_migrated_url, **THROTTLED) as h, beat(h):
        _add_projects(h, 30)
        h.sync(timeout=120)
        world = h.sandbox.world
        portal = credentials(world)["portal_id"]
        with world.lock:  # every project edited: the next run lists them all, and writes the renamed ones
            now = world.now_ms()
            for project in world.projects.values():
                if project.portal_id == portal:
                    project.updated_ms = now
                    if project.name.startswith("Chunked"):
                        project.name += " (renamed)"
        listed = _listing(h)
        assert len(listed) > CHUNK
        # Books refuses the update of a project: the slice ends after the projects before it on its page were
        # written, the page's others fetched already
        name = "Chunked 05 (renamed)" if where == "inside a page" else listed[CHUNK].name
        position = next(i for i, p in enumerate(listed) if p.name == name)
        assert (position % CHUNK > 0) == (where == "inside a page")
        old_name = name.removesuffix(" (renamed)")
        books_id = next(p["project_id"] for p in h.state()["books_projects"] if p["project_name"] == old_name)
        path = f"/books/v3/projects/{books_id}"
        add_fault(h, api="books", path=path, method="PUT", kind="429", retry_after_s=1, count=1)
        h.reset_requests()
        run = h.sync(timeout=120)
        projects = run.modules["projects"]
        assert projects.throttled_calls >= 1
        fetched_for = [p.id for p in listed if p.status == "active"]
        assert _requests(h, CLIENTS_ROUTE) == len(fetched_for)
        assert _requests(h, USERS_ROUTE) == len(fetched_for)
        assert projects.fetched == len(listed)
        renamed = {p["project_name"] for p in h.state()["books_projects"] if p["project_name"].startswith("Chunked")}
        assert renamed == {f"Chunked {i:02d} (renamed)" for i in range(30)}
