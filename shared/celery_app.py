"""The Celery app's configuration (design §6), shared by worker and scheduler.

The scheduler only sends tasks by name through this app; the task code lives in ``worker.tasks`` and is
loaded by the worker through ``include`` (a string), so ``scheduler`` never imports ``worker``.
"""

from __future__ import annotations

from celery import Celery
from kombu import Exchange, Queue

from shared.config import Settings

SYNC_QUEUE = "sync"
INSTANT_QUEUE = "instant"
TASK_MODULES = ["worker.tasks.checks", "worker.tasks.sync", "worker.tasks.finance_pull", "worker.tasks.finance"]


def create_celery(settings: Settings, *, main: str = "bpsync") -> Celery:
    from shared.logging import install_task_context

    install_task_context()  # task ids in log lines, also when logging was configured before Celery was loaded
    app = Celery(main, broker=settings.broker_url, backend=settings.result_backend or None, include=TASK_MODULES)
    transport_options: dict[str, object] = {}
    if settings.embedded:
        # kombu's memory transport polls; its default of 1 s makes a 3-task chain take seconds.
        transport_options["polling_interval"] = settings.embedded_polling_interval
    else:
        # A task not acked within visibility_timeout is redelivered (Redis); the hard time limit stays below it
        # so a slow task is killed before a second worker also starts it.
        transport_options["visibility_timeout"] = settings.visibility_timeout_seconds
        if settings.broker_url.startswith(("redis", "rediss")):
            # queues of several deployments (or test runs) sharing one Redis never see each other's messages
            transport_options["global_keyprefix"] = f"{settings.redis_key_prefix}:"
            # A broker that vanishes without closing the TCP connection (host lost, failover, NAT timeout) must
            # fail the socket instead of hanging a publish or the consumer forever; kombu then reconnects.
            transport_options.update(
                socket_timeout=30, socket_connect_timeout=10, socket_keepalive=True, health_check_interval=25
            )
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        enable_utc=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=settings.task_time_limit_seconds,
        task_soft_time_limit=max(1, settings.task_time_limit_seconds - 30),
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        # Surviving a broker restart (issue 13): reconnect for as long as the broker is away (Celery's default gives
        # up after 100 attempts, ~50 minutes, and the worker exits for good), and cancel a task that is running when
        # the connection drops (Celery 6's default) instead of letting it ack and send events later through the
        # torn-down connection, the path where kombu's Redis channel raised AttributeError("'NoneType' object has no
        # attribute 'hostname'") and Celery stopped the worker as "unrecoverable". The cancelled slice's message is
        # redelivered or, if it died with the broker, the sweeper re-enqueues the module from its checkpoint.
        broker_connection_retry=True,
        broker_connection_max_retries=None,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        task_default_queue=SYNC_QUEUE,
        task_queues=[
            Queue(SYNC_QUEUE, Exchange(SYNC_QUEUE), routing_key=SYNC_QUEUE),
            Queue(INSTANT_QUEUE, Exchange(INSTANT_QUEUE), routing_key=INSTANT_QUEUE),
        ],
        # Bulk module work never delays an invoice: transaction/invoicing tasks have their own queue.
        task_routes={
            # the beat's tick must not wait behind a backlog of bulk module slices (first match wins)
            "bpsync.sync.tick": {"queue": INSTANT_QUEUE},
            "bpsync.sync.*": {"queue": SYNC_QUEUE},
            "bpsync.instant.*": {"queue": INSTANT_QUEUE},
            "bpsync.check.*": {"queue": INSTANT_QUEUE},
        },
        task_ignore_result=settings.result_backend is None,
        worker_hijack_root_logger=False,
        worker_send_task_events=True,
        task_send_sent_event=True,
    )
    app.conf.beat_schedule = {
        "bpsync-tick": {
            "task": "bpsync.sync.tick",
            "schedule": settings.beat_tick_seconds,
            # a tick that waited past the next one is worthless: a backlog of ticks (workers down, two beats)
            # would otherwise run a burst of dispatches and sweeps when the workers come back
            "options": {"expires": settings.beat_tick_seconds},
        },
    }
    app.conf.bpsync_settings = settings
    return app
