"""A chain of three tasks writing to the database, through a real broker and a real worker."""

import pytest
from celery.contrib.testing.worker import start_worker

from scheduler.checks import run_check
from scheduler.embedded import running_worker
from shared.celery_app import INSTANT_QUEUE, SYNC_QUEUE, create_celery
from shared.config import ConfigError, load_settings
from shared.db import engine as dbengine


def test_chain_over_redis_with_a_real_worker(redis_url, pg_migrated_url):
    dbengine.upgrade(pg_migrated_url)
    app = create_celery(load_settings(broker_url=redis_url, database_url=pg_migrated_url), main="roundtrip-redis")
    with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False, queues=[SYNC_QUEUE, INSTANT_QUEUE]):
        result = run_check(app, pg_migrated_url, timeout=30)
    assert result.ok, result


def test_chain_over_the_embedded_memory_broker(sqlite_migrated_url):
    dbengine.upgrade(sqlite_migrated_url)
    app = create_celery(
        load_settings(broker_url="memory://", database_url=sqlite_migrated_url), main="roundtrip-memory"
    )
    with running_worker(app):
        result = run_check(app, sqlite_migrated_url, timeout=30)
    assert result.ok, result
    # the memory transport's default 1 s poll would make every chain step wait; embedded mode polls fast
    assert app.conf.broker_transport_options["polling_interval"] <= 0.05


def test_the_worker_configuration_follows_the_design():
    settings = load_settings(broker_url="redis://localhost:6379/0")
    conf = create_celery(settings, main="conf").conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.task_time_limit < conf.broker_transport_options["visibility_timeout"]
    assert {q.name for q in conf.task_queues} == {SYNC_QUEUE, INSTANT_QUEUE}
    router = create_celery(settings, main="routes").amqp.router
    assert router.route({}, "bpsync.sync.module")["queue"].name == SYNC_QUEUE
    # the beat's tick and the quick work never wait behind a backlog of module slices
    assert router.route({}, "bpsync.sync.tick")["queue"].name == INSTANT_QUEUE
    assert router.route({}, "bpsync.instant.anything")["queue"].name == INSTANT_QUEUE


def test_time_limit_must_stay_below_visibility_timeout():
    with pytest.raises(ConfigError, match=r"^BPSYNC_TASK_TIME_LIMIT_SECONDS: .*BPSYNC_VISIBILITY_TIMEOUT_SECONDS"):
        load_settings(broker_url="redis://localhost:6379/0", task_time_limit_seconds=4000)
