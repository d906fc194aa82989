"""The plans of the entity-link lookups when Postgres' statistics are stale (issue 18: "indexes that match the
lookups, so a plan never depends on fresh statistics"), run by hand:

    .venv/bin/python -m benchmarks.link_plans                 # 1,000 tenants x 2,000 links = 2M links

A throw-away database on BENCH_POSTGRES_URL's server, migrated, autovacuum off for ``entity_links`` (so nothing
analyzes behind our back). Tenant 1's links are loaded and ANALYZEd alone, then the other tenants' are bulk
loaded without ANALYZE: the statistics say one tenant, the table holds a thousand. Each query of
``shared/db/links.py`` that a sync runs (the page batch's ``links_for`` above all) is EXPLAIN ANALYZEd as the code
builds it, for a tenant the statistics know and one they do not, then again after ANALYZE. A lookup whose plan
reads more than its own tenant's rows shows up as a large ``rows read`` (shared buffers hit + read).
"""

from __future__ import annotations

import argparse
import os
import re
import time
import uuid
from collections.abc import Callable

import sqlalchemy as sa

from shared.db import engine as dbengine
from shared.db import links
from shared.db.schema import entity_links

NODE = re.compile(r"^\s*(?:->\s*)?(.+?)\s+\(cost=", re.M)
ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

INTEGRATIONS = """INSERT INTO integrations (id, name, books_organization_id, projects_portal_id, data_center,
      credentials, contact_duplication, general_timesheets, sync_interval_seconds, state, connected_at,
      next_run_at, created_at, updated_at)
    SELECT i, 'tenant-' || i, 'org-' || i, 'portal-' || i, 'US', 'sealed', 'merge', false, 86400, 'active',
      now(), now(), now(), now()
    FROM generate_series(1, CAST(:n AS int)) i"""
# per tenant: a tenth projects, the rest tasks spread over them (parent_projects_id), a few still pending
LINKS = """INSERT INTO entity_links (integration_id, entity_type, projects_id, books_id, state, fingerprint,
      parent_projects_id, created_at, last_synced_at)
    SELECT i, CASE WHEN l % 10 = 0 THEN 'project' ELSE 'task' END, (1708760000000 + l)::text,
      CASE WHEN l % 97 = 0 THEN NULL ELSE (4600000000 + i * 100000 + l)::text END,
      CASE WHEN l % 97 = 0 THEN 'pending' ELSE 'linked' END, md5(l::text),
      CASE WHEN l % 10 = 0 THEN NULL ELSE (1708760000000 + (l / 10) * 10 + 10)::text END, now(), now()
    FROM generate_series(CAST(:first AS int), CAST(:last AS int)) i, generate_series(1, CAST(:l AS int)) l"""


def queries(tenant: int, per_tenant: int) -> dict[str, Callable[[sa.Connection], object]]:
    page = [str(1708760000000 + n) for n in range(1, min(per_tenant, 400)) if n % 10][:200]
    parents = {str(1708760000000 + n) for n in range(10, 110, 10)}
    return {
        "links_for (a page of 200)": lambda c: links.links_for(c, tenant, "task", page),
        "get_link": lambda c: links.get_link(c, tenant, "task", page[0]),
        "links_under (10 projects)": lambda c: links.links_under(c, tenant, "task", parents),
        "links_of project": lambda c: links.links_of(c, tenant, "project"),
        "books_ids_of task": lambda c: links.books_ids_of(c, tenant, "task"),
        "claimed_books_ids task": lambda c: links.claimed_books_ids(c, tenant, "task"),
        "any_linked task": lambda c: links.any_linked(c, tenant, "task"),
    }


def explain(engine: sa.Engine, call: Callable[[sa.Connection], object]) -> str:
    """The plan of the one statement ``call`` runs, as EXPLAIN (ANALYZE, BUFFERS) prints it."""
    captured: list[tuple[str, object]] = []

    def capture(conn: object, cursor: object, statement: str, params: object, context: object, many: bool) -> None:
        captured.append((statement, params))

    with engine.connect() as conn:
        sa.event.listen(conn, "before_cursor_execute", capture)
        call(conn)
        sa.event.remove(conn, "before_cursor_execute", capture)
        statement, params = captured[-1]
        raw = conn.connection.dbapi_connection
        assert raw is not None
        with raw.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
            return "\n".join(row[0] for row in cursor.fetchall())


def summary(plan: str) -> str:
    """The plan's nodes, its execution time and the buffers it touched."""
    nodes = [m.group(1).strip() for m in NODE.finditer(plan)]
    buffers = re.search(r"Buffers: shared (?:hit=(\d+))?\s*(?:read=(\d+))?", plan)
    touched = sum(int(g) for g in buffers.groups() if g) if buffers else 0
    took = re.search(r"Execution Time: ([\d.]+) ms", plan)
    return f"{' / '.join(nodes[:3])}; {touched} buffers; {took.group(1) if took else '?'} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--links", type=int, default=2000, help="per tenant")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="print whole plans")
    args = parser.parse_args()
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"bench_plans_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        dbengine.upgrade(url)
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE entity_links SET (autovacuum_enabled = false)"))
            conn.execute(sa.text(INTEGRATIONS), {"n": args.tenants})
            conn.execute(sa.text(LINKS), {"first": 1, "last": 1, "l": args.links})
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE entity_links"))
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(sa.text(LINKS), {"first": 2, "last": args.tenants, "l": args.links})
        loaded = time.perf_counter() - started
        with engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(entity_links)).scalar_one()
        print(f"{total:,} links in {args.tenants} tenants loaded in {loaded:.0f} s; statistics from tenant 1 alone")
        for when in ("stale statistics", "after ANALYZE"):
            if when == "after ANALYZE":
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(sa.text("ANALYZE entity_links"))
            for tenant in (1, args.tenants // 2):
                print(f"-- {when}, tenant {tenant}")
                for label, call in queries(tenant, args.links).items():
                    plan = explain(engine, call)
                    print(f"   {label}: {summary(plan)}")
                    if args.verbose:
                        print("     " + plan.replace("\n", "\n     "))
        engine.dispose()
    finally:
        with admin.connect() as conn:
            if not args.keep:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
