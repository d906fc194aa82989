"""Pages that make no Books call are not committed one by one (engine.Held, issue 18): their cursor, counts and
deferred writes wait for the next page that calls Books, at most HOLD_PAGES pages. What the held pages did is
kept however the slice ends, and counted once."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from shared.db import links, runs, sync_errors
from shared.db.schema import module_runs
from shared.db.schema import sync_errors as errors_table
from shared.zoho.errors import RetryableError
from worker import engine, page_batch
from worker.engine import run_slice
from worker.modules import REGISTRY
from worker.modules.base import SyncContext
from worker.modules.paging import parent_ids


class Stop(RetryableError):
    """A Zoho call that failed while the slice listed its next page."""


def _row(h, module_run_id: int) -> Any:
    with h.engine.connect() as conn:
        return conn.execute(sa.select(module_runs).where(module_runs.c.id == module_run_id)).one()


def _tasks_context(h) -> tuple[SyncContext, runs.ModuleRun]:
    return h.claimed_slice("tasks")


def _outcomes(row: Any) -> int:
    return int(row.unchanged + row.updated + row.created + row.skipped + row.blocked + row.failed)


def _listed(ctx: SyncContext) -> int:
    """Tasks the paging lists, read without syncing them."""
    count, cursor = 0, None
    while True:
        page = REGISTRY["tasks"].paging.page(ctx, cursor)
        count += len(page.items)
        if (cursor := page.next_cursor) is None:
            return count


def test_unchanged_pages_commit_together_and_a_page_that_writes_commits_at_once(
    tiny_snapshot, sandbox_factory, pg_admin_engine, monkeypatch
):
    with tiny_snapshot.harness(pg_admin_engine, sandbox_factory, worker=False) as h:
        ctx, module_run = _tasks_context(h)
        parents = parent_ids(ctx, "project")
        with h.engine.connect() as conn:
            tasks = links.links_of(conn, h.integration.id, "task")
        under = {link.parent_projects_id: task_id for task_id, link in tasks.items()}
        writer = next(i for i, parent in enumerate(parents) if i >= 2 and parent in under)
        h.act("rename_task", task_id=under[parents[writer]], name="Renamed in Projects")
        listed = _listed(ctx)
        ctx.memo.clear()
        commits: list[dict[str, Any]] = []
        real = runs.checkpoint

        def counted(conn: sa.Connection, mr: runs.ModuleRun, cursor: Any, counts: dict[str, int], lease: float):
            commits.append({"cursor": cursor, **counts})
            real(conn, mr, cursor, counts, lease)

        monkeypatch.setattr(engine.runs, "checkpoint", counted)
        assert run_slice(ctx, REGISTRY["tasks"], max_pages=1000, max_seconds=60.0).done

        # the pages before the rename's wait for it (it made a Books call); the rest wait for the last page
        assert len(commits) == 2
        assert commits[0]["cursor"]["index"] == writer + 1 and commits[0]["updated"] == 1
        assert commits[1]["cursor"] == engine.ALL_READ and "updated" not in commits[1]
        row = _row(h, module_run.id)
        assert row.fetched == _outcomes(row) == listed and row.updated == 1


def test_what_held_pages_did_is_kept_when_the_next_listing_fails(
    tiny_snapshot, sandbox_factory, pg_admin_engine, monkeypatch
):
    with tiny_snapshot.harness(pg_admin_engine, sandbox_factory, worker=False) as h:
        ctx, module_run = _tasks_context(h)
        listed = _listed(ctx)
        ctx.memo.clear()
        paging = REGISTRY["tasks"].paging
        pages: list[dict[str, Any] | None] = []
        real_page = type(paging).page

        def failing(self: Any, ctx: SyncContext, cursor: dict[str, Any] | None) -> Any:
            pages.append(cursor)
            if len(pages) == 4:
                raise Stop("the listing of the fourth project failed")
            return real_page(self, ctx, cursor)

        monkeypatch.setattr(type(paging), "page", failing)
        with pytest.raises(Stop):
            run_slice(ctx, REGISTRY["tasks"], max_pages=1000, max_seconds=60.0)
        # three pages read, none of which called Books: their cursor and counts are committed with the failure
        row = _row(h, module_run.id)
        assert row.checkpoint == pages[3] and row.checkpoint["index"] == 3
        assert row.fetched == _outcomes(row) > 0
        first_three = row.fetched

        monkeypatch.setattr(type(paging), "page", real_page)
        runs.release(h.engine, module_run)
        again = runs.claim_module(h.engine, module_run.id, lease_seconds=60)
        assert again is not None
        ctx.module_run = again
        assert run_slice(ctx, REGISTRY["tasks"], max_pages=1000, max_seconds=60.0).done
        row = _row(h, module_run.id)
        assert row.fetched == _outcomes(row) == listed > first_three  # every task counted once


def test_held_pages_are_committed_when_the_page_budget_ends_the_slice(tiny_snapshot, sandbox_factory, pg_admin_engine):
    with tiny_snapshot.harness(pg_admin_engine, sandbox_factory, worker=False) as h:
        ctx, module_run = _tasks_context(h)
        result = run_slice(ctx, REGISTRY["tasks"], max_pages=2, max_seconds=60.0)
        assert not result.done
        row = _row(h, module_run.id)
        assert row.checkpoint == result.checkpoint and row.checkpoint["index"] == 2
        assert row.fetched == _outcomes(row) > 0


def test_held_pages_failures_are_written_together_and_counted_once(
    tiny_snapshot, sandbox_factory, pg_admin_engine, monkeypatch
):
    with tiny_snapshot.harness(pg_admin_engine, sandbox_factory, worker=False) as h:
        calls: list[int] = []
        real = sync_errors.record_many

        def counted(conn: sa.Connection, iid: int, entity_type: str, failures: Any, **kw: Any) -> list[bool]:
            calls.append(len(failures))
            return real(conn, iid, entity_type, failures, **kw)

        monkeypatch.setattr(page_batch.sync_errors, "record_many", counted)
        ctx, module_run = h.claimed_slice("bugs")
        ctx.memo["parents:project"] = ({}, {})  # as if no project were linked: every bug waits for its project
        assert run_slice(ctx, REGISTRY["bugs"], max_pages=1000).done
        row = _row(h, module_run.id)
        assert row.fetched == row.blocked > 1
        assert calls == [row.blocked]  # every page held, one write for all of them
        with h.engine.connect() as conn:
            open_bugs = conn.execute(
                sa.select(sa.func.count())
                .select_from(errors_table)
                .where(
                    errors_table.c.integration_id == h.integration.id,
                    errors_table.c.entity_type == "bug",
                    errors_table.c.resolved_at.is_(None),
                )
            ).scalar_one()
        assert open_bugs == row.blocked
