"""Two beats and two workers for 10+ minutes of compressed time, with refreshes, webhook runs and instant polls.

Compressed time: 70 s of wall time. The beat ticks every 1 s (production: every 30 s, so this is 35 minutes of
ticks); the integration syncs every 6 s (production: daily) while a ``tiny`` sync takes a few seconds, so most beat
dispatches meet a running sync; instant polls are on (every 6 s; production: 5 minutes; they start only when the
integration was idle that long, which here is rare); every 1-4 s the test does
one of: a manual refresh of a random module (or all), a new approved time log in Projects plus its webhook, a bare
webhook. Leases are 2 s and a module looks stale after 2 s. Two real ``celery beat`` processes tick against one
database (production runs one; two must be safe) and two real ``celery worker`` processes work the runs.

Then the beats stop, the test sweeps (as the tick does) until nothing runs, and asserts on the tables: no beat slot
dispatched twice (one beat run per interval of the schedule grid at most), never two runs of the integration at once,
no module claimed while another worker's lease was live (a trigger logs every claim), no finished module changed
again, no run left ``queued`` or ``running``; and a last full sync leaves Books matching the sandbox's ground truth,
nothing doubled. The random choices are seeded (``BPSYNC_CHAOS_SEED`` replays them).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
import random
import time
from collections import Counter

import pytest

from scheduler.webhooks import receive_projects_webhook, webhook_token
from shared.clock import as_utc
from shared.db.integrations import get_integration, update_integration
from shared.db.links import links_of
from shared.dispatch import request_sync, sweep
from shared.modules import MODULE_ORDER
from tests.chaos.support import (
    books_mismatches,
    install_lease_audit,
    install_schedule_audit,
    lease_audit,
    lease_violations,
    logs,
    processes,
    run_statuses,
    schedule_audit,
    start_beat,
    start_worker,
    stop,
    wait_until,
    worker_env,
)
from tests.sync_support import sync_harness
from tests.worker.timesheet_support import admin_zuid

pytestmark = [pytest.mark.slow, pytest.mark.chaos]

WALL_SECONDS = 70
INTERVAL_SECONDS = 6


def test_two_beats_and_two_workers_never_dispatch_a_run_twice_nor_share_a_module(
    sandbox_factory, pg_migrated_url, redis_url, tmp_path
):
    seed = int(os.environ.get("BPSYNC_CHAOS_SEED") or random.SystemRandom().randrange(1 << 32))
    rng = random.Random(seed)
    sandbox = sandbox_factory(size="tiny")
    done: Counter = Counter()

    def about() -> str:
        return f"seed={seed} (BPSYNC_CHAOS_SEED={seed} replays it); actions {dict(done)}"

    with (
        sync_harness(
            sandbox,
            pg_migrated_url,
            broker_url=redis_url,
            worker=False,
            prefs={"sync_interval_seconds": INTERVAL_SECONDS},
            slice_pages=1,
            module_lease_seconds=2,
            stale_after_seconds=2,
            beat_tick_seconds=1,
            instant_poll_minutes=INTERVAL_SECONDS / 60,
        ) as h,
        processes() as started,
    ):
        install_lease_audit(h.engine)
        install_schedule_audit(h.engine)
        iid = h.integration.id
        token = webhook_token(h.engine, iid)
        env = worker_env(h.settings)
        started += [start_worker(env, name, tmp_path / f"{name}.log") for name in ("w1", "w2")]
        beats = [start_beat(env, tmp_path, name) for name in ("beat1", "beat2")]
        started += beats

        began = time.monotonic()
        while time.monotonic() - began < WALL_SECONDS:
            time.sleep(rng.uniform(1.0, 4.0))
            with h.engine.connect() as conn:
                projects = [p for p, link in links_of(conn, iid, "project").items() if link.books_id]
                tasks = [
                    (link.parent_projects_id, t)
                    for t, link in links_of(conn, iid, "task").items()
                    if link.books_id and link.parent_projects_id in projects
                ]
            action = rng.choice(("refresh", "log+webhook", "webhook")) if projects else "refresh"
            if action == "refresh":
                request_sync(h.engine, h.app, iid, module=rng.choice([None, *MODULE_ORDER]))
            elif action == "log+webhook" and tasks:
                project_id, task_id = rng.choice(tasks)
                day = (dt.date.today() - dt.timedelta(days=rng.randrange(0, 20))).isoformat()
                made = h.act(
                    "log_time",
                    project_id=project_id,
                    task_id=task_id,
                    owner_id=admin_zuid(h),
                    date=day,
                    minutes=rng.choice((30, 60, 90)),
                    bill_status="Billable",
                )
                h.act("approve_log", log_id=made["log_id"])
                body = {"event": "timelog.created", "payload": {"portal_id": h.integration.projects_portal_id}}
                body["payload"] |= {"project_id": project_id, "log_id": made["log_id"], "log_date": day}
                receive_projects_webhook(h.engine, h.app, iid, token, body)
            else:
                body = {"event": "timelog.updated", "payload": {"portal_id": h.integration.projects_portal_id}}
                body["payload"]["project_id"] = rng.choice(projects)
                receive_projects_webhook(h.engine, h.app, iid, token, body)
            done[action] += 1
            assert all(p.poll() is None for p in started), f"a process died; {about()}\n{logs(tmp_path)}"

        # the storm is over: no more dispatches; sweep as the tick does until nothing runs
        for beat in beats:
            stop(beat)
        dispatched = [row for row in schedule_audit(h.engine) if row.integration_id == iid]
        update_integration(h.engine, iid, next_run_at=dt.datetime(2100, 1, 1, tzinfo=dt.UTC))

        def settled() -> bool:
            with contextlib.suppress(Exception):
                sweep(h.engine, h.app, h.settings)
            return all(r.status not in ("queued", "running") for r in run_statuses(h.engine, iid))

        assert wait_until(settled, 90, interval=0.5), f"runs still going; {about()}\n{logs(tmp_path)}"
        runs = run_statuses(h.engine, iid)
        triggers = Counter(r.trigger for r in runs)
        audited = len(lease_audit(h.engine))
        print(f"\n{len(runs)} runs {dict(triggers)}, {len(dispatched)} slots dispatched, {audited} audited; {about()}")
        assert {"beat", "manual", "webhook"} <= set(triggers), f"{triggers}; {about()}"
        # the beats dispatched the slots of the grid, each once: every move of next_run_at goes forward to a later
        # slot (how many of them became runs of their own depends on how long the runs took: a slot that meets a
        # running sync coalesces into it or its queued follow-up)
        moves = [(as_utc(row.old_next_run_at), as_utc(row.new_next_run_at)) for row in dispatched]
        assert all(new > old for old, new in moves), f"next_run_at went back: {moves}; {about()}"
        assert len({new for _, new in moves}) == len(moves), f"a slot dispatched twice: {moves}; {about()}"
        assert len(moves) >= WALL_SECONDS // INTERVAL_SECONDS * 2 // 3, f"{len(moves)} slots dispatched; {about()}"

        # no beat slot dispatched twice: beat runs fall in distinct intervals of the grid connected_at + k * interval
        integration = get_integration(h.engine, iid)
        connected = as_utc(integration.connected_at)
        slots = Counter(
            int((as_utc(r.requested_at) - connected).total_seconds() // INTERVAL_SECONDS)
            for r in runs
            if r.trigger == "beat"
        )
        assert all(n == 1 for n in slots.values()), f"beat slots dispatched twice: {slots}; {about()}"
        # never two runs of the integration at once
        spans = sorted((as_utc(r.started_at), as_utc(r.finished_at), r.id) for r in runs if r.started_at)
        overlapping = [(a[2], b[2]) for a, b in itertools.pairwise(spans) if b[0] < a[1]]
        assert not overlapping, f"runs overlapping in time: {overlapping}; {about()}"
        # no module held by two workers at once, no finished module reopened, nothing left running
        violations = lease_violations(h.engine)
        assert not violations, f"{violations[:5]}; {about()}"
        assert all(r.status in ("succeeded", "partial") for r in runs), [(r.id, r.status, r.error) for r in runs]

        # after all of it, one more full sync: Books holds what the sandbox says, each record once
        final = h.wait(request_sync(h.engine, h.app, iid).run_id, timeout=60)
        assert final.status in ("succeeded", "partial"), final
        problems = books_mismatches(h)
        assert not problems, f"{problems}; {about()}"
        update_integration(h.engine, iid, state="disabled")
        h.engine.dispose()
