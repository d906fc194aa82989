"""A run's start is read once it may start: a request that waited for the integration's lock behind the transaction
ending the previous run never starts before that end (the chaos suite saw a webhook's run "start" 0.1 s before)."""

from __future__ import annotations

import threading
import time

import sqlalchemy as sa

from shared.clock import utcnow
from shared.db import runs
from shared.db.schema import sync_runs
from tests.sync_support import sync_harness


def test_a_run_requested_while_the_last_one_ends_starts_after_that_end(sandbox, pg_migrated_url):
    with sync_harness(sandbox, pg_migrated_url, worker=False) as h:
        iid = h.integration.id
        with h.engine.begin() as conn:
            first = runs.request_run(conn, iid, ["users"], "manual")
        locked, requested = threading.Event(), threading.Event()

        def end_first_run() -> None:  # as runs._advance does when the last module ends
            with h.engine.begin() as conn:
                runs._lock_integration(conn, iid)
                locked.set()
                requested.wait(5)
                time.sleep(0.3)  # the request below waits for this lock meanwhile
                conn.execute(
                    sync_runs.update()
                    .where(sync_runs.c.id == first.run_id)
                    .values(status="succeeded", finished_at=utcnow())
                )

        ending = threading.Thread(target=end_first_run)
        ending.start()
        assert locked.wait(5)
        now = utcnow()  # a webhook's request reads its clock first, then asks for the run
        requested.set()
        with h.engine.begin() as conn:
            second = runs.request_run(conn, iid, ["timesheets"], "webhook", now)
        ending.join()

        with h.engine.connect() as conn:
            rows = {r.id: r for r in conn.execute(sa.select(sync_runs).where(sync_runs.c.integration_id == iid))}
        assert not second.coalesced  # the first run had ended: the second started at once
        assert rows[second.run_id].status == "running" and rows[second.run_id].requested_at == now
        assert rows[second.run_id].started_at >= rows[first.run_id].finished_at
