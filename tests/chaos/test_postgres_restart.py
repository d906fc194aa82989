"""PostgreSQL crashes and restarts twice in the middle of a sync: the workers stay up and the run completes, once.

The test makes its own cluster (``initdb`` in a temporary folder, a free port; the shared test server is never
touched), runs two real ``celery worker`` processes and a real ``celery beat`` (tick 1 s, leases 2 s, stale after
2 s) against it and a ``tiny`` sandbox, and crashes the database (``pg_ctl stop -m immediate``: every backend dies
at once, as with a failed database host) at the worst moment it can pick: while a worker's transaction completing a
link sleeps (a test-only trigger) right after Books created the record, first for a task, then for a time entry.
That transaction is lost; the Books record exists with a pending link, which the next attempt must find instead of
creating it again. After 2 s the cluster starts again (crash recovery). The run must end as an undisturbed run of
the same world ends: same statuses, every counter equal, Books holding the same records, none twice.
"""

from __future__ import annotations

import time

import pytest

from sandbox.generator import credentials
from shared.db.integrations import update_integration
from shared.dispatch import request_sync
from tests.chaos.support import (
    LinkStall,
    PrivatePostgres,
    books_picture,
    books_posts,
    claims,
    counts_of,
    harness_summary,
    install_lease_audit,
    lease_violations,
    logs,
    processes,
    start_beat,
    start_worker,
    wait_until,
    worker_env,
)
from tests.sync_support import sync_harness

pytestmark = [pytest.mark.slow, pytest.mark.chaos]

OUTAGE_SECONDS = 2.0
STALL_SECONDS = 5.0  # longer than it takes to notice the stall and crash the database


def _claims(h, run_id: int) -> int:
    try:
        return claims(h.engine, run_id)
    except Exception:  # the database is down
        return -1


def test_workers_survive_two_postgres_restarts_mid_sync_and_the_run_completes_once(
    sandbox_factory, redis_url, tmp_path, reference
):
    ref = reference("tiny")
    sandbox = sandbox_factory(size="tiny")
    database = PrivatePostgres()
    restarts: list[dict[str, object]] = []
    try:
        database.init()
        database.start()
        url = database.create_database("bpsync_chaos")
        with (
            sync_harness(
                sandbox,
                url,
                broker_url=redis_url,
                worker=False,
                slice_pages=1,
                module_lease_seconds=2,
                stale_after_seconds=2,
                beat_tick_seconds=1,
            ) as h,
            processes() as started,
        ):
            install_lease_audit(h.engine)
            stall = LinkStall(h.engine)
            organization = credentials(sandbox.world)["organization_id"]
            records_before = books_picture(h.state(), organization).records()
            env = worker_env(h.settings)
            started += [start_worker(env, name, tmp_path / f"{name}.log") for name in ("w1", "w2")]
            started.append(start_beat(env, tmp_path, "beat"))

            stall.arm(STALL_SECONDS, "task")
            request = request_sync(h.engine, h.app, h.integration.id)
            run_id = request.run_id
            for entity_type, following in (("task", "timesheet"), ("timesheet", None)):
                fired = wait_until(stall.fired, 60, interval=0.02)
                assert fired, f"no {entity_type} link was completed\n{harness_summary(h, run_id)}\n{logs(tmp_path)}"
                summary = harness_summary(h, run_id)
                before = claims(h.engine, run_id)
                database.crash()
                down_at = time.monotonic()
                time.sleep(OUTAGE_SECONDS)
                database.start()
                up_at = time.monotonic()
                if following is not None:
                    stall.arm(STALL_SECONDS, following)
                again = wait_until(lambda before=before: _claims(h, run_id) > before, 60, interval=0.02)
                restarts.append(
                    {
                        "during": f"{entity_type} link commit",
                        "state": summary,
                        "claimed_again_after_restart_s": round(time.monotonic() - up_at, 2),
                        "claimed_again_after_crash_s": round(time.monotonic() - down_at, 2),
                    }
                )
                assert again, f"nothing claimed after restart: {restarts}\n{logs(tmp_path)}"
                assert all(p.poll() is None for p in started), f"a process died: {restarts}\n{logs(tmp_path)}"

            finished = h.wait(run_id, timeout=120)
            print(f"\nrestarts: {restarts}")
            summary = harness_summary(h, run_id)
            # both workers (and the beat) are still the processes started before the first crash
            assert all(p.poll() is None for p in started), f"a process died\n{logs(tmp_path)}"
            replies: dict[str, object] = {}
            deadline = time.monotonic() + 20
            while len(replies) < 2 and time.monotonic() < deadline:
                for reply in h.app.control.ping(timeout=2) or []:
                    replies.update(reply)
            assert sorted(n.split("@")[0] for n in replies) == ["w1", "w2"], replies

            assert finished.status == ref.status, summary
            assert {m: r.status for m, r in finished.modules.items()} == ref.module_statuses, summary
            picture = books_picture(h.state(), organization)
            assert not picture.doubled(ref.picture), f"duplicates in Books: {picture.doubled(ref.picture)}"
            assert picture == ref.picture, f"Books differs from the undisturbed run: {picture.diff(ref.picture)}"
            posts = books_posts(sandbox.base_url)
            assert posts == ref.posts, f"Books POSTs {dict(posts)}, undisturbed {dict(ref.posts)}"
            counts = counts_of(h.engine, run_id)
            created = sum(c["created"] for c in counts.values())
            assert created == picture.records() - records_before == ref.books_created, summary
            wrong = {m: (counts[m], ref.counts[m]) for m in counts if counts[m] != ref.counts[m]}
            assert not wrong, f"counts (restarted run, undisturbed run) differ: {wrong}; restarts: {restarts}"
            assert not lease_violations(h.engine)
            update_integration(h.engine, h.integration.id, state="disabled")
            h.engine.dispose()
    finally:
        database.destroy()
