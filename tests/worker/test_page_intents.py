"""A page's new tasks have their intents noted in one transaction before the page's first create (issue 18), and a
worker that dies among those creates leaves nothing to duplicate.

Each create used to commit its own pending link and intent just before its POST (17,600 transactions of a large
sync). The rule that matters is unchanged: every record's pending link and intent are committed before its POST,
so a retry looks the record up by that intent instead of creating it twice.
"""

from __future__ import annotations

import time
from typing import Any

import requests
import sqlalchemy as sa

from shared.db import runs
from shared.db.schema import entity_links, module_runs
from shared.dispatch import request_sync
from worker.connections import clients_for
from worker.engine import run_slice
from worker.modules import REGISTRY, paging
from worker.modules.base import SyncContext, parent_maps

NEW = [f"Intent noted first {n:02d}" for n in range(12)]


class Died(BaseException):
    """The worker process dying mid-page (not an Exception: nothing in the slice catches it)."""


def _task_links(h: Any, task_ids: list[str]) -> list[Any]:
    """(projects id, state, attributes) of these tasks' links."""
    with h.engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(entity_links.c.projects_id, entity_links.c.state, entity_links.c.attributes).where(
                    entity_links.c.integration_id == h.integration.id,
                    entity_links.c.entity_type == "task",
                    entity_links.c.projects_id.in_(task_ids),
                )
            )
        )


def _pending_with_intent(h: Any, task_ids: list[str]) -> dict[str, str]:
    links = _task_links(h, task_ids)
    return {task: attributes.get("books_name") for task, state, attributes in links if state == "pending"}


def _new_tasks_in_a_linked_project(h: Any) -> tuple[Any, list[str]]:
    """A synced project (its projects and Books ids) and the ids of the NEW tasks created in it since."""
    with h.engine.connect() as conn:
        project = conn.execute(
            sa.select(entity_links.c.projects_id, entity_links.c.books_id).where(
                entity_links.c.integration_id == h.integration.id,
                entity_links.c.entity_type == "project",
                entity_links.c.state == "linked",
            )
        ).first()
    assert project is not None
    return project, [h.act("create_task", project_id=project.projects_id, name=name)["task_id"] for name in NEW]


def test_a_pages_intents_are_noted_before_its_first_create_and_a_death_among_the_creates_duplicates_nothing(
    tiny_snapshot, sandbox_factory, pg_admin_engine
):
    with tiny_snapshot.harness(pg_admin_engine, sandbox_factory, worker=False, module_lease_seconds=0.2) as h:
        project, task_ids = _new_tasks_in_a_linked_project(h)
        request = request_sync(h.engine, h.app, h.integration.id, module="tasks")
        h.reset_requests()

        projects, books = clients_for(h.settings, h.integration)
        create = books.create_project_task
        noted_at_first_post: list[dict[str, str]] = []
        posts = 0

        def dies_at_the_sixth(books_project_id: str, payload: dict[str, Any]) -> Any:
            nonlocal posts
            if not noted_at_first_post:
                noted_at_first_post.append(_pending_with_intent(h, task_ids))
            posts += 1
            if posts == 6:
                raise Died
            return create(books_project_id, payload)

        books.create_project_task = dies_at_the_sixth  # type: ignore[method-assign]  # the seam where it dies
        first = runs.claim_module(h.engine, request.start_module_run_id, lease_seconds=0.2)
        assert first is not None
        try:
            run_slice(
                SyncContext(h.engine, h.settings, h.integration, first, projects, books),
                REGISTRY["tasks"],
                max_pages=1000,
            )
        except Died:
            pass
        else:
            raise AssertionError("the sixth create never came")
        # every new task's pending link and intent were committed before the page's first POST
        assert noted_at_first_post == [dict(zip(task_ids, NEW, strict=True))]

        time.sleep(0.3)  # the lease lapses: another worker takes the module
        second = runs.claim_module(h.engine, first.id, lease_seconds=60)
        assert second is not None
        _projects, fresh_books = clients_for(h.settings, h.integration)
        ctx = SyncContext(h.engine, h.settings, h.integration, second, projects, fresh_books)
        assert run_slice(ctx, REGISTRY["tasks"], max_pages=1000).done

        # 5 before the death, 7 after it: none twice (the sixth never reached Books)
        assert sum(n for method, route, n in h.books_writes() if method == "POST" and route.endswith("/tasks")) == 12
        with h.engine.connect() as conn:
            linked = dict(
                conn.execute(
                    sa.select(entity_links.c.projects_id, entity_links.c.books_id).where(
                        entity_links.c.integration_id == h.integration.id,
                        entity_links.c.state == "linked",
                        entity_links.c.projects_id.in_(task_ids),
                    )
                ).all()
            )
        assert set(linked) == set(task_ids) and len(set(linked.values())) == len(NEW)
        in_books = [t.task_name for t in fresh_books.iter_project_tasks(project.books_id) if t.task_name in NEW]
        assert sorted(in_books) == NEW


class BooksStopped(Exception):
    """Books refusing more writes mid-page (a spent quota): an Exception, so the slice keeps what the page did."""


def _books_task_lookups(h: Any) -> int:
    rows = requests.get(f"{h.sandbox.base_url}/_sandbox/requests", timeout=10).json()["requests"]
    books_gets = (r for r in rows if r["api"] == "books" and r["method"] == "GET")
    return sum(r["count"] for r in books_gets if r["path"].endswith("/tasks"))


def test_a_slice_stopped_mid_page_drops_the_intents_of_records_it_never_reached(
    tiny_snapshot, sandbox_factory, pg_admin_engine
):
    """Only the record whose create was under way may have reached Books: it alone is looked up by the next slice;
    the rest are created outright (a lookup each would spend the calls a quota stop just ran out of)."""
    with tiny_snapshot.harness(pg_admin_engine, sandbox_factory, worker=False) as h:
        project, task_ids = _new_tasks_in_a_linked_project(h)
        request = request_sync(h.engine, h.app, h.integration.id, module="tasks")

        projects, books = clients_for(h.settings, h.integration)
        create = books.create_project_task
        posts = 0

        def stops_at_the_sixth(books_project_id: str, payload: dict[str, Any]) -> Any:
            nonlocal posts
            posts += 1
            if posts == 6:
                raise BooksStopped
            return create(books_project_id, payload)

        books.create_project_task = stops_at_the_sixth  # type: ignore[method-assign]  # the seam where Books stops
        first = runs.claim_module(h.engine, request.start_module_run_id, lease_seconds=60)
        assert first is not None
        try:
            ctx = SyncContext(h.engine, h.settings, h.integration, first, projects, books)
            run_slice(ctx, REGISTRY["tasks"], max_pages=1000)
        except BooksStopped:
            pass
        else:
            raise AssertionError("the sixth create never came")
        # the sixth was under way: its intent stays; the six after it were never tried: nothing of them is kept
        assert _pending_with_intent(h, task_ids) == {task_ids[5]: NEW[5]}
        runs.release(h.engine, first)

        h.reset_requests()
        second = runs.claim_module(h.engine, first.id, lease_seconds=60)
        assert second is not None
        _projects, fresh_books = clients_for(h.settings, h.integration)
        ctx = SyncContext(h.engine, h.settings, h.integration, second, projects, fresh_books)
        assert run_slice(ctx, REGISTRY["tasks"], max_pages=1000).done
        assert _books_task_lookups(h) == 1  # the sixth's, by its intent; it was never posted, so it is created
        assert sum(n for method, route, n in h.books_writes() if method == "POST" and route.endswith("/tasks")) == 7
        in_books = [t.task_name for t in fresh_books.iter_project_tasks(project.books_id) if t.task_name in NEW]
        assert sorted(in_books) == NEW


def test_a_page_of_creates_is_committed_with_the_next_pages_intents_in_one_transaction(
    tiny_snapshot, sandbox_factory, pg_admin_engine, monkeypatch
):
    """Two pages of new tasks, one after the other: between the first page's last POST and the second page's first,
    one commit holds the first page's links (linked), its checkpoint and the second page's intents (pending)."""
    with tiny_snapshot.harness(pg_admin_engine, sandbox_factory, worker=False) as h:
        ctx, module_run = h.claimed_slice("tasks")
        parents = paging.parent_ids(ctx, "project")
        linked = parent_maps(ctx, "project")[0]
        first = next(i for i in range(len(parents) - 1) if {parents[i], parents[i + 1]} <= linked.keys())
        pages = {
            project_id: [h.act("create_task", project_id=project_id, name=f"{name} {n}")["task_id"] for n in range(3)]
            for project_id, name in ((parents[first], "First page"), (parents[first + 1], "Second page"))
        }
        commits: list[float] = []
        sa.event.listen(h.engine, "commit", lambda _conn: commits.append(time.monotonic()))
        seen: list[tuple[str, float, dict[str, str], Any]] = []
        real_create = type(ctx.books).create_project_task

        def create(self: Any, project_id: str, fields: dict[str, Any]) -> Any:
            with h.engine.connect() as conn:
                checkpoint = conn.execute(
                    sa.select(module_runs.c.checkpoint).where(module_runs.c.id == module_run.id)
                ).scalar()
            states = _states(h, [*pages[parents[first]], *pages[parents[first + 1]]])
            seen.append((fields["task_name"], time.monotonic(), states, checkpoint))
            return real_create(self, project_id, fields)

        monkeypatch.setattr(type(ctx.books), "create_project_task", create)
        assert run_slice(ctx, REGISTRY["tasks"], max_pages=1000).done

        names = [name for name, *_ in seen]
        assert names == [f"First page {n}" for n in range(3)] + [f"Second page {n}" for n in range(3)]
        last_of_first, first_of_second = seen[2], seen[3]
        between = [t for t in commits if last_of_first[1] < t < first_of_second[1]]
        assert len(between) == 1, "the first page's checkpoint and the second page's intents: one transaction"
        states = first_of_second[2]
        assert {states[t] for t in pages[parents[first]]} == {"linked"}
        assert {states[t] for t in pages[parents[first + 1]]} == {"pending"}
        assert first_of_second[3] == {"parents": parents, "index": first + 1, "page": None}


def _states(h: Any, task_ids: list[str]) -> dict[str, str]:
    return {task: state for task, state, _attributes in _task_links(h, task_ids)}
