"""What dispatch puts on the broker: module tasks carry their integration and module as readable labels."""

from shared.celery_app import SYNC_QUEUE
from shared.dispatch import request_sync
from tests.sync_support import sync_harness


def test_module_tasks_name_their_integration_and_module_for_flower(sandbox, sqlite_url):
    with sync_harness(sandbox, sqlite_url, worker=False) as h:
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
