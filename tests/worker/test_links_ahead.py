"""Tasks and bugs read their children's links a window of parents at a time (PerParent.child_type, issue 18): the
links handed with a page are exactly those in the database, a query serves many parents, and a link is never
handed twice or from under another parent (the engine reads those itself)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from shared.db import links
from shared.db.schema import entity_links, module_runs
from shared.zoho.paging import Page
from shared.zoho.projects_models import Task
from worker import page_batch
from worker.engine import run_slice
from worker.modules import REGISTRY, paging
from worker.modules.base import SyncContext
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

        monkeypatch.setattr(paging.links, "links_under", counted)
        monkeypatch.setattr(paging, "LINKS_AHEAD", 2)
        ctx, _module_run = h.claimed_slice("tasks")

        reader = PerParent("project", fetch, "task")
        cursor = {"parents": parents, "index": 0, "page": None}
        handed: dict[str, list[str]] = {}
        while cursor is not None:
            page = reader.page(ctx, cursor)
            assert page.links is not None
            for parent_id, task in page.items:
                if task.id in page.links:
                    assert page.links[task.id] == stored[task.id]
                    handed.setdefault(parent_id, []).append(task.id)
            cursor = page.next_cursor

        # every link under its own parent handed once; the moved, the repeated and the unknown task left to the engine
        assert handed == {parent: by_parent[parent] for parent in parents if by_parent[parent]}
        assert reads == [min(2, len(parents) - i) for i in range(0, len(parents), 2)]


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
