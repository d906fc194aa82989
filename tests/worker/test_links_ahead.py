"""Tasks and bugs read their children's links a window of parents at a time (PerParent.child_type, issue 18): the
links handed with a page are exactly those in the database, a query serves many parents, and a link is never
handed twice or from under another parent (the engine reads those itself)."""

from __future__ import annotations

import threading
from typing import Any

import sqlalchemy as sa

from shared.db import links
from shared.db.schema import entity_links, module_runs
from shared.zoho.paging import Page
from shared.zoho.projects_models import Task
from worker import page_batch
from worker.engine import run_slice
from worker.modules import REGISTRY, paging
from worker.modules.base import SyncContext, parent_maps
from worker.modules.paging import PerParent


def test_a_page_is_handed_its_childrens_links_read_ahead_once(
    tiny_snapshot, sandbox_factory, pg_admin_engine, monkeypatch
):
    with tiny_snapshot.harness(pg_admin_engine, sandbox_factory, worker=False) as h:
        with h.engine.connect() as conn:
            rows = conn.execute(
                sa.select(entity_links.c.projects_id, entity_links.c.parent_projects_id).where(
                    entity_links.c.integration_id == h.integration.id, entity_links.c.entity_type == "task"
                )
            ).all()
            stored = links.links_of(conn, h.integration.id, "task")
        by_parent: dict[str, list[str]] = {}
        for task_id, parent_id in rows:
            by_parent.setdefault(parent_id, []).append(task_id)
        parents = sorted(by_parent)
        assert len(parents) >= 3
        moved = by_parent[parents[0]][0]  # listed under the second parent: its link says the first
        listing = {parent: list(by_parent[parent]) for parent in parents}
        listing[parents[1]].append(moved)
        listing[parents[2]].append(by_parent[parents[2]][0])  # listed twice (a listing that moved under us)
        listing[parents[2]].append("never-synced")

        def fetch(_ctx: SyncContext, parent_id: str, cursor: str | None) -> Page[Task]:
            start = int(cursor or 0)
            ids = listing[parent_id][start : start + 2]
            after = start + 2 if start + 2 < len(listing[parent_id]) else None
            return Page([Task(id=i, name=i) for i in ids], str(after) if after else None)

        reads: list[int] = []
        real = links.links_under

        def counted(conn: sa.Connection, iid: int, entity_type: str, parent_ids: set[str]) -> list[links.Link]:
            reads.append(len(parent_ids))
            return real(conn, iid, entity_type, parent_ids)

        queried: list[list[str]] = []
        real_for = links.links_for

        def counted_for(conn: sa.Connection, iid: int, entity_type: str, ids: Any) -> dict[str, links.Link]:
            queried.append(sorted(ids))
            return real_for(conn, iid, entity_type, ids)

        monkeypatch.setattr(paging.links, "links_under", counted)
        monkeypatch.setattr(paging.links, "links_for", counted_for)
        monkeypatch.setattr(paging, "LINKS_AHEAD", 2)
        ctx, _module_run = h.claimed_slice("tasks")

        reader = PerParent("project", fetch, "task")
        cursor = {"parents": parents, "index": 0, "page": None}
        while cursor is not None:
            page = reader.page(ctx, cursor)
            assert page.links is not None
            # every child is handed its link, or None: none (never synced)
            assert {task.id: page.links[task.id] for _, task in page.items} == {
                task.id: stored.get(task.id) for _, task in page.items
            }
            cursor = page.next_cursor

        # the links under their own parents in a query per window of parents (the first page's own parent alone: the
        # slice reads that page itself); the moved, the repeated and the unknown task in a query of their page
        assert reads == [1] + [min(2, len(parents) - i) for i in range(1, len(parents), 2)]
        assert sorted(i for ids in queried for i in ids) == sorted([moved, by_parent[parents[2]][0], "never-synced"])


def test_a_page_whose_records_are_blocked_by_their_parent_reads_no_links(
    tiny_snapshot, sandbox_factory, pg_admin_engine, monkeypatch
):
    with tiny_snapshot.harness(pg_admin_engine, sandbox_factory, worker=False) as h:
        reads: list[int] = []
        real = links.links_for

        def counted(conn: sa.Connection, iid: int, entity_type: str, ids: Any) -> dict[str, links.Link]:
            reads.append(len(ids))
            return real(conn, iid, entity_type, ids)

        monkeypatch.setattr(page_batch.links, "links_for", counted)
        ctx, module_run = h.claimed_slice("bugs")
        # as if no project were linked yet (their module has not run): every bug waits for its project
        ctx.memo["parents:project"] = ({}, {})
        assert run_slice(ctx, REGISTRY["bugs"], max_pages=1000).done
        with h.engine.connect() as conn:
            row = conn.execute(sa.select(module_runs).where(module_runs.c.id == module_run.id)).one()
        assert row.fetched == row.blocked > 0
        assert reads == []


def test_a_task_listed_again_after_its_link_was_read_ahead_is_created_once(
    tiny_snapshot, sandbox_factory, pg_admin_engine, monkeypatch
):
    """A task moved between two projects while they were listed appears under both. The next project's page, links
    included, is read in a thread while the first one creates the task: the engine reads that link again."""
    with tiny_snapshot.harness(pg_admin_engine, sandbox_factory, worker=False) as h:
        ctx, _module_run = h.claimed_slice("tasks")
        parents = paging.parent_ids(ctx, "project")
        linked = parent_maps(ctx, "project")[0]
        first = next(i for i in range(len(parents) - 1) if {parents[i], parents[i + 1]} <= linked.keys())
        moving = Task(id="moving-task", name="Moving task")
        real_tasks_page = type(ctx.projects).tasks_page

        def tasks_page(self: Any, project_id: str, cursor: str | None = None) -> Page[Task]:
            page = real_tasks_page(self, project_id, cursor)
            if cursor is None and project_id in parents[first : first + 2]:
                return Page([*page.items, moving], page.next_cursor)
            return page

        second_read = threading.Event()
        real_page = PerParent.page
        second = {"parents": parents, "index": first + 1, "page": None}

        def page_read(self: PerParent, ctx: SyncContext, cursor: dict[str, Any] | None) -> Any:
            found = real_page(self, ctx, cursor)
            if cursor == second:
                second_read.set()
            return found

        creates: list[str] = []
        real_create = type(ctx.books).create_project_task

        def create(self: Any, project_id: str, fields: dict[str, Any]) -> Any:
            if fields["task_name"] == moving.name:
                assert second_read.wait(5)  # the next page and its links were read before this link was written
                creates.append(project_id)
            return real_create(self, project_id, fields)

        monkeypatch.setattr(type(ctx.projects), "tasks_page", tasks_page)
        monkeypatch.setattr(PerParent, "page", page_read)
        monkeypatch.setattr(type(ctx.books), "create_project_task", create)
        assert run_slice(ctx, REGISTRY["tasks"], max_pages=1000, max_seconds=60.0).done

        assert creates == [linked[parents[first]]]  # created once, under the project it was listed under first
        with h.engine.connect() as conn:
            link = links.get_link(conn, h.integration.id, "task", moving.id)
        assert link is not None and link.state == "linked"
