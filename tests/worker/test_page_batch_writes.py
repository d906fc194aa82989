"""Issue 18: a page's completed links, resolutions and errors are written in a statement per kind, and leave exactly
what writing them one record at a time left: the same rows, attempts, counts and open error counts.

Two integrations start from the same errors and links; one gets the page written record by record (the engine's
former PageBatch.write, kept below as the reference), the other through PageBatch.write.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import sqlalchemy as sa

from shared.clock import utcnow
from shared.db import links, runs, sync_errors
from shared.db.integrations import create_integration
from shared.db.schema import entity_links, module_runs, open_error_counts
from shared.db.schema import sync_errors as errors_table
from shared.dispatch import request_sync
from tests.shared.db.state_recompute import assert_states_match_history
from tests.sync_support import sync_harness
from worker.modules.base import Record, SyncContext
from worker.page_batch import PageBatch

ENTITY = "user"
PROBLEM = sync_errors.Problem("bad_email", "no email", "add one")
OTHER = sync_errors.Problem("still_bad", "still no email")


def _record(
    conn: sa.Connection, iid: int, source_id: str, module: str, run_id: int | None, name: str | None = None
) -> None:
    sync_errors.record(
        conn,
        iid,
        module=module,
        entity_type=ENTITY,
        source_id=source_id,
        source_name=name,
        problem=PROBLEM,
        module_run_id=run_id,
    )


def _start(conn: sa.Connection, iid: int, run_id: int) -> dict[str, int]:
    """Errors of every kind a page can meet, and two pending links; returns the links' ids."""
    _record(conn, iid, "open-this-run", "users", run_id)
    _record(conn, iid, "open-earlier", "users", None)
    _record(conn, iid, "open-elsewhere", "bugs", None)  # counted under another module until it fails here
    _record(conn, iid, "fixed-earlier", "users", None)
    sync_errors.resolve(conn, iid, ENTITY, "fixed-earlier")
    _record(conn, iid, "fixed-now", "users", None)
    _record(conn, iid, "fixed-then-failed", "users", None)
    # failing again saying the same: only the sighting is written (one statement for all such rows)
    _record(conn, iid, "same-again", "users", None, name="name same-again")
    _record(conn, iid, "same-again-this-run", "users", run_id, name="name same-again-this-run")
    return {p: links.put_pending(conn, iid, ENTITY, p, attributes={"name": p}).id for p in ("created-1", "created-2")}


def _page(batch: PageBatch, link_ids: dict[str, int]) -> None:
    for projects_id, link_id in link_ids.items():
        batch.linked.append((link_id, f"books-{projects_id}", {"name": projects_id}))
    batch.resolved += ["fixed-now", "never-failed", "fixed-then-failed"]
    failures = [
        ("open-this-run", PROBLEM, "failed"),
        ("open-earlier", OTHER, "failed"),
        ("open-elsewhere", PROBLEM, "blocked"),
        ("fixed-earlier", PROBLEM, "failed"),
        ("new", PROBLEM, "blocked"),
        ("new", OTHER, "blocked"),  # listed twice: counted once, its attempts twice
        ("fixed-earlier", OTHER, "failed"),
        ("open-earlier", PROBLEM, "failed"),
        ("fixed-then-failed", PROBLEM, "failed"),
        ("same-again", PROBLEM, "blocked"),
        ("same-again-this-run", PROBLEM, "failed"),
        ("same-again", PROBLEM, "blocked"),  # listed twice: its attempts twice
    ]
    for source_id, problem, counter in failures:
        batch.failed.append(("users", Record(source_id, f"name {source_id}", {}), problem, counter))


def _seen_in_run(conn: sa.Connection, iid: int, entity_type: str, source_id: str, module_run_id: int) -> bool:
    """Whether this module run already recorded an open error for the record (and counted it)."""
    found = conn.execute(
        sa.select(errors_table.c.id).where(
            errors_table.c.integration_id == iid,
            errors_table.c.entity_type == entity_type,
            errors_table.c.source_id == source_id,
            errors_table.c.module_run_id == module_run_id,
            errors_table.c.resolved_at.is_(None),
        )
    )
    return found.first() is not None


def _one_by_one(batch: PageBatch, conn: sa.Connection) -> None:
    """PageBatch.write as it was: a statement (or two) per record."""
    iid, run = batch.ctx.integration.id, batch.ctx.module_run
    for link_id, books_id, fields in batch.linked:
        links.complete(conn, link_id, books_id, fields, module_run_id=run.id)
    for projects_id in batch.resolved:
        sync_errors.resolve(conn, iid, batch.entity_type, projects_id)
    counts: Counter[str] = Counter()
    for module, record, problem, counter in batch.failed:
        if not _seen_in_run(conn, iid, batch.entity_type, record.projects_id, run.id):
            counts[counter] += 1
        sync_errors.record(
            conn,
            iid,
            module=module,
            entity_type=batch.entity_type,
            source_id=record.projects_id,
            source_name=record.name,
            problem=problem,
            module_run_id=run.id,
        )
    runs.add_counts(conn, run, dict(counts))


def _left(engine: sa.Engine, iid: int, run_id: int, page_start: dt.datetime) -> dict[str, Any]:
    """What the page left for one integration, its own ids and clock readings told apart only by what they mean."""
    with engine.connect() as conn:
        errors = {
            r.source_id: (
                r.module,
                r.source_name,
                r.reason_code,
                r.message,
                r.hint,
                r.attempts,
                r.resolved_at is None,
                "this run" if r.module_run_id == run_id else r.module_run_id,
                r.first_seen_at >= page_start,
                r.last_seen_at >= page_start,
            )
            for r in conn.execute(sa.select(errors_table).where(errors_table.c.integration_id == iid))
        }
        linked = {
            r.projects_id: (r.books_id, r.state, r.fingerprint, r.module_run_id == run_id, r.last_synced_at is not None)
            for r in conn.execute(sa.select(entity_links).where(entity_links.c.integration_id == iid))
        }
        counted = {
            r.module: r.open_errors
            for r in conn.execute(sa.select(open_error_counts).where(open_error_counts.c.integration_id == iid))
        }
        run = conn.execute(sa.select(module_runs).where(module_runs.c.id == run_id)).one()
    return {"errors": errors, "links": linked, "open": counted, "counts": (run.failed, run.blocked)}


def test_a_page_written_in_batches_leaves_what_one_by_one_left(sandbox, pg_migrated_url):
    with sync_harness(sandbox, pg_migrated_url, worker=False) as h:
        # never calls Zoho: another organization's integration with made-up credentials
        creds = {"client_id": "c", "client_secret": "s", "refresh_token": "r"}
        other = create_integration(
            h.engine, h.settings, name="other", organization_id="1", portal_id="2", credentials=creds
        )
        results = []
        for integration, write in ((h.integration, _one_by_one), (other, PageBatch.write)):
            request = request_sync(h.engine, h.app, integration.id)
            run = runs.claim_module(h.engine, request.start_module_run_id, lease_seconds=60)
            assert run is not None and run.module == "users"
            with h.engine.begin() as conn:
                link_ids = _start(conn, integration.id, run.id)
            page_start = utcnow()
            ctx = SyncContext(h.engine, h.settings, integration, run, None, None)  # no Zoho: no clients
            batch = PageBatch(ctx, ENTITY, set(), {})
            _page(batch, link_ids)
            with h.engine.begin() as conn:
                write(batch, conn)
            results.append(_left(h.engine, integration.id, run.id, page_start))
        by_one, batched = results
        assert batched == by_one
        # what the reference itself left (so the comparison is about the cases that matter)
        # open-this-run and same-again-this-run were counted when first met in this run; new and same-again once
        assert by_one["counts"] == (3, 3)
        assert by_one["errors"]["same-again"][5] == 3 and by_one["errors"]["same-again-this-run"][5] == 2
        assert by_one["errors"]["new"][5] == 2 and by_one["errors"]["fixed-earlier"][5:7] == (2, True)
        assert by_one["errors"]["fixed-now"][6] is False and by_one["errors"]["fixed-then-failed"][6] is True
        assert by_one["open"] == {"users": 8, "bugs": 0}
        assert by_one["links"]["created-1"][:2] == ("books-created-1", "linked")
        assert_states_match_history(h.engine)
