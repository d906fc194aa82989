"""Issue 18: a pooled connection back in use within seconds is not pinged; one idle longer is, and a dead one is
replaced at checkout (real PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from shared.db import engine as dbengine


@pytest.fixture
def engine(pg_url: str) -> Any:
    engine = dbengine.make_engine(pg_url)
    yield engine
    engine.dispose()


def count_pings(monkeypatch: pytest.MonkeyPatch, engine: sa.Engine) -> list[int]:
    pings = [0]
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings[0] += 1
        return ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return pings


def test_a_connection_reused_at_once_is_not_pinged(monkeypatch: pytest.MonkeyPatch, engine: sa.Engine) -> None:
    pings = count_pings(monkeypatch, engine)
    for _ in range(20):
        with engine.begin() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1
    assert pings[0] == 0


def test_a_connection_idle_past_the_threshold_is_pinged_and_a_dead_one_replaced(
    monkeypatch: pytest.MonkeyPatch, engine: sa.Engine
) -> None:
    with engine.connect() as conn:
        first_pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
    admin = sa.create_engine(engine.url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first_pid})
    admin.dispose()
    monkeypatch.setattr(dbengine, "PING_AFTER_IDLE_SECONDS", 0.0)
    pings = count_pings(monkeypatch, engine)
    with engine.connect() as conn:  # the ping finds the pooled connection dead: a new one answers
        assert conn.execute(sa.text("SELECT pg_backend_pid()")).scalar() != first_pid
    assert pings[0] >= 1
