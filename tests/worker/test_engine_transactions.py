"""Issue 18: an unchanged incremental run of a child module costs less than one database transaction per record.

Each record used to cost a link lookup of its own (and a blocked one a write of its own); a page now reads its
records' links in one query and commits its outcomes with its checkpoint. Counted on the engine the in-process
worker uses, per module (the worker's log context names it; the test's own polling is not counted).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import sqlalchemy as sa

from shared.logging import current_context
from tests.sync_support import small_snapshot_test


@small_snapshot_test
def test_an_unchanged_incremental_run_costs_less_than_a_transaction_per_record(
    small_snapshot, sandbox_factory, pg_admin_engine, redis_url
):
    # a copy of the first sync (whose status small_snapshot checks): its database and its sandbox world
    with small_snapshot.harness(pg_admin_engine, sandbox_factory, broker_url=redis_url) as harness:
        counted: Counter[str] = Counter()

        def count(*_: Any) -> None:
            module = current_context().get("module")
            if module is not None:
                counted[module] += 1

        sa.event.listen(harness.engine, "commit", count)
        sa.event.listen(harness.engine, "rollback", count)
        try:
            again = harness.sync()
        finally:
            sa.event.remove(harness.engine, "commit", count)
            sa.event.remove(harness.engine, "rollback", count)
        tasks = again.modules["tasks"]
        assert (tasks.created, tasks.updated) == (0, 0)
        assert tasks.unchanged > 100 and tasks.blocked > 0  # the children of failed projects are blocked again
        assert counted["tasks"] < tasks.unchanged, counted
