"""What dispatch puts on the broker (module tasks labelled for Flower) and when the sweeper re-enqueues."""

import datetime as dt

from shared.celery_app import SYNC_QUEUE
from shared.clock import utcnow
from shared.db import runs
from shared.db.schema import module_runs
from shared.dispatch import request_sync, sweep
from tests.sync_support import sync_harness


def test_module_tasks_name_their_integration_and_module_for_flower(sandbox, sqlite_migrated_url):
    with sync_harness(sandbox, sqlite_migrated_url, worker=False) as h:
        request = request_sync(h.engine, h.app, h.integration.id, module="tasks")
        with h.app.connection_for_read() as conn:
            queue = conn.SimpleQueue(SYNC_QUEUE, no_ack=True)
            message = queue.get(timeout=5)
            queue.close()
        assert message.headers["task"] == "bpsync.sync.module"
        _args, kwargs, _embed = message.decode()
        assert kwargs == {
            "module_run_id": request.start_module_run_id,
            "integration_id": h.integration.id,
            "module": "tasks",
        }


def test_a_module_handed_on_is_not_taken_for_lost_until_it_idles(sandbox, sqlite_migrated_url):
    with sync_harness(sandbox, sqlite_migrated_url, worker=False, stale_after_seconds=60) as h:
        request = request_sync(h.engine, h.app, h.integration.id)
        long_ago = utcnow() - dt.timedelta(hours=2)  # the run began long ago; users and clients just finished
        with h.engine.begin() as conn:
            conn.execute(module_runs.update().values(heartbeat_at=long_ago))
            conn.execute(
                module_runs.update()
                .where(module_runs.c.id.in_(request.start_module_run_ids))
                .values(status="succeeded")
            )
        [projects] = runs.advance(h.engine, request.run_id, "clients")
        assert projects == h.run(request.run_id).modules["projects"].id
        assert sweep(h.engine, h.app, h.settings) == []  # enqueued a moment ago: a worker will claim it
        with h.engine.begin() as conn:
            conn.execute(module_runs.update().where(module_runs.c.id == projects).values(heartbeat_at=long_ago))
        assert sweep(h.engine, h.app, h.settings) == [projects]  # nobody claimed it: the message was lost
