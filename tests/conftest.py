"""Fixtures for real services. Under CI (CI=true) a missing service fails the test instead of skipping it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

PG_ADMIN_URL = os.environ.get("BPSYNC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BPSYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
pytest_plugins = ["tests.sandbox_fixtures"]

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def service_missing(what: str, exc: BaseException) -> None:
    message = f"{what} is not reachable ({exc}); start it or set the BPSYNC_TEST_* URL"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def pg_admin_engine() -> Iterator[sa.Engine]:
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as exc:  # any connection failure means the service is missing
        service_missing("PostgreSQL", exc)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_url(pg_admin_engine: sa.Engine) -> Iterator[str]:
    """URL of a brand-new, empty PostgreSQL database, dropped after the test."""
    name = f"bpsync_t_{uuid.uuid4().hex[:12]}"
    with pg_admin_engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = pg_admin_engine.url.set(database=name).render_as_string(hide_password=False)
    yield url
    with pg_admin_engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'bpsync.sqlite'}"


@pytest.fixture
def redis_url() -> Iterator[str]:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except Exception as exc:
        service_missing("Redis", exc)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
    client.close()


@pytest.fixture(autouse=True)
def _empty_memory_broker() -> None:
    """kombu's memory transport is one broker for the whole process: a message an earlier test left behind (a beat
    tick's poll, a continuation its worker stopped before taking) must not reach this test's queue or worker."""
    from kombu.transport import memory

    for queue in memory.Channel.queues.values():
        queue.queue.clear()
