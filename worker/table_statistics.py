"""Fresh planner statistics for the tables a sync fills, analyzed by the worker once they have grown.

A first sync of a large portal is a bulk load: 20,000 links and errors written in a minute into tables PostgreSQL
knows nothing of (relpages 0, reltuples -1 until the first ANALYZE). With no statistics the planner takes a tenant's
links for a row or two and reads every one of them for each lookup: the index conditions stop at (integration,
entity type) and the Projects id is filtered (issue 18: 5.6 s of a large full sync's link reads on a server with
autovacuum off). Autovacuum would analyze them within a minute or so, or never where it is turned off, as on the
project's CI machine. PostgreSQL's own advice for a bulk load is to run ANALYZE afterwards ("Populating a Database:
Run ANALYZE Afterwards"), so a slice does when a table has grown by a fifth since it was last analyzed.

The rule reads the table's size on disk against the page count the last ANALYZE recorded (both exact and
immediate, unlike the statistics collector's counters, which reach other sessions up to seconds late), so it costs
one catalog query per slice. One worker analyzes at a time (an advisory lock; the others skip), and ANALYZE takes a
lock that lets reads and writes go on.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

log = logging.getLogger(__name__)

TABLES = ("entity_links", "sync_errors")
LOCK = 0x62706173  # pg advisory lock key ("bpas"): one ANALYZE by the workers at a time
GROWTH = 1.2  # analyzed again once this many times the pages its statistics know
MIN_PAGES = 128  # 1 MiB of 8 KiB pages: below it every plan is cheap, known or not

STALE_SQL = sa.text(
    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = current_schema() AND c.relname = ANY(CAST(:tables AS text[])) "
    "AND pg_relation_size(c.oid) / current_setting('block_size')::int >= GREATEST(:min_pages, c.relpages * :growth) "
    "ORDER BY c.relname"
)


def analyze_grown_tables(engine: sa.Engine) -> list[str]:
    """ANALYZE the sync's tables that grew past what their statistics know; returns those analyzed (PostgreSQL
    only: SQLite plans these lookups by its unique indexes alone)."""
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as conn:
        grown = list(
            conn.execute(STALE_SQL, {"tables": list(TABLES), "min_pages": MIN_PAGES, "growth": GROWTH}).scalars()
        )
    if not grown:
        return []
    with engine.begin() as conn:
        if not conn.execute(sa.select(sa.func.pg_try_advisory_xact_lock(LOCK))).scalar():
            return []  # another worker is analyzing: its statistics will do for this one too
        for table in grown:
            conn.execute(sa.text(f'ANALYZE "{table}"'))  # a name from TABLES, never from input
    log.info("analyzed %s: grown past what their planner statistics knew", ", ".join(grown))
    return grown
