"""The sync's tables get planner statistics once they have grown (worker/table_statistics.py): without any, a
tenant's link lookup reads every link of the tenant; with them, the unique index finds each by its Projects id."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from shared.db.engine import make_engine
from shared.db.links import links_for
from worker.table_statistics import LOCK, analyze_grown_tables

TENANT = """INSERT INTO integrations (id, name, books_organization_id, projects_portal_id, data_center, credentials,
      contact_duplication, general_timesheets, sync_interval_seconds, state, connected_at, next_run_at, created_at,
      updated_at)
    VALUES (1, 'stats', 'org', 'portal', 'US', 'sealed', 'merge', false, 86400, 'active', now(), now(), now(), now())"""
LINKS = """INSERT INTO entity_links (integration_id, entity_type, projects_id, books_id, state, fingerprint,
      parent_projects_id, created_at, last_synced_at)
    SELECT 1, 'task', 'T' || g, 'B' || g, 'linked', md5(g::text), 'P' || (g % 500), now(), now()
    FROM generate_series(CAST(:first AS int), CAST(:last AS int)) g"""


@pytest.fixture
def engine(pg_migrated_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(pg_migrated_url)
    with engine.begin() as conn:
        conn.execute(sa.text(TENANT))
    yield engine
    engine.dispose()


def _add_links(engine: sa.Engine, first: int, last: int) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(LINKS), {"first": first, "last": last})


def _known_rows(engine: sa.Engine) -> float:
    with engine.connect() as conn:
        return float(conn.execute(sa.text("SELECT reltuples FROM pg_class WHERE relname = 'entity_links'")).scalar())


def _rows_read_by_a_lookup(engine: sa.Engine) -> int:
    """Table rows the page batch's lookup of 20 ids reads (found, or removed by a filter)."""
    ids = ", ".join(f"'T{n}'" for n in range(100, 120))
    query = f"SELECT * FROM entity_links WHERE integration_id = 1 AND entity_type = 'task' AND projects_id IN ({ids})"
    with engine.connect() as conn:
        [[plan]] = conn.execute(sa.text(f"EXPLAIN (ANALYZE, FORMAT JSON) {query}")).all()
    node = (plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"]
    return int(node.get("Actual Rows", 0)) + int(node.get("Rows Removed by Filter", 0))


def test_a_grown_table_is_analyzed_once_and_lookups_then_read_only_their_rows(engine):
    _add_links(engine, 1, 20_000)
    assert _known_rows(engine) <= 0  # never analyzed: the planner knows nothing of the 20,000 links

    assert analyze_grown_tables(engine) == ["entity_links"]
    assert _known_rows(engine) == pytest.approx(20_000, rel=0.05)
    with engine.connect() as conn:  # the product's own lookup still answers the same
        assert set(links_for(conn, 1, "task", ["T100", "T101", "nope"])) == {"T100", "T101"}
    assert _rows_read_by_a_lookup(engine) == 20  # each by the unique index, not the tenant's 20,000

    assert analyze_grown_tables(engine) == []  # nothing grew: no second ANALYZE
    _add_links(engine, 20_001, 22_000)
    assert analyze_grown_tables(engine) == []  # a tenth more: the statistics still serve
    _add_links(engine, 22_001, 26_000)
    assert analyze_grown_tables(engine) == ["entity_links"]  # past a fifth more: analyzed again
    assert _known_rows(engine) == pytest.approx(26_000, rel=0.05)


def test_a_worker_analyzing_already_is_left_to_it(engine):
    _add_links(engine, 1, 20_000)
    with engine.begin() as other:
        assert other.execute(sa.select(sa.func.pg_try_advisory_xact_lock(LOCK))).scalar()
        assert analyze_grown_tables(engine) == []  # skipped, not waited for
    assert _known_rows(engine) <= 0
    assert analyze_grown_tables(engine) == ["entity_links"]


def test_small_tables_and_sqlite_are_left_alone(engine, sqlite_migrated_url):
    _add_links(engine, 1, 500)
    assert analyze_grown_tables(engine) == []  # a few pages: every plan is cheap
    sqlite = make_engine(sqlite_migrated_url)
    try:
        assert analyze_grown_tables(sqlite) == []
    finally:
        sqlite.dispose()
