"""Full and incremental sync of the `large` preset (issue 6 benchmark), run by hand:

    .venv/bin/python -m benchmarks.sync_large --limits off     # records/second, API calls per record
    .venv/bin/python -m benchmarks.sync_large --limits fast    # wall time vs the rate-limit floor

Embedded broker + in-process worker (4 threads), PostgreSQL (BENCH_POSTGRES_URL, default the local test server).
"fast" compresses Zoho's windows ~60x (Books 100/s per org, Projects 100 per 2 s per user); the daily Books cap
is raised for the benchmark, because a first sync of `large` needs far more than one day's 5,000 calls — with
real limits it spreads over several days (see RESULTS.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import time
import uuid
from collections import Counter

import requests
import sqlalchemy as sa

from sandbox.config import SandboxConfig
from sandbox.generator import generate
from sandbox.limits import preset
from sandbox.server import SandboxServer
from shared.db import runs
from shared.db.schema import module_runs
from shared.dispatch import enqueue_modules
from tests.sync_support import SyncHarness, sync_harness

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def api_calls(base_url: str) -> Counter[str]:
    served = requests.get(f"{base_url}/_sandbox/requests", timeout=30).json()
    counts: Counter[str] = Counter()
    for row in served["requests"]:
        counts[row["api"]] += row["count"]
    counts["429s"] = served["throttled"]
    return counts


def pages(count: int, size: int = 200) -> int:
    return max(1, -(-count // size))


def minimum_calls(world) -> dict[str, int]:
    """A lower bound for a first sync: every listing at the largest page size, one Books write per record.

    Projects: the project list, then per active project its clients, users, tasks and bugs (classic API has
    no bulk endpoints for these). Books: one create per project, task and bug (no bulk create exists).
    """
    active = [p for p in world.projects.values() if p.status == "active"]
    tasks_by: Counter[str] = Counter(t.project_id for t in world.tasks.values())
    bugs_by: Counter[str] = Counter(b.project_id for b in world.bugs.values())
    per_project = sum(2 + pages(tasks_by[p.id]) + pages(bugs_by[p.id]) for p in active)
    writes = len(active) + sum(tasks_by[p.id] + bugs_by[p.id] for p in active)
    return {"projects": pages(len(world.projects)) + pages(len(world.clients)) + per_project, "books": writes}


def timed_run(harness: SyncHarness, modules: list[str]) -> tuple[float, Counter[str], dict[str, int]]:
    requests.delete(f"{harness.sandbox.base_url}/_sandbox/requests", timeout=10)
    started = time.monotonic()
    with harness.engine.begin() as conn:
        request = runs.request_run(conn, harness.integration.id, modules, "manual")
    enqueue_modules(harness.app, request.start_module_run_ids)  # siblings (users and clients) start at once
    run = harness.wait(request.run_id, timeout=3600)
    elapsed = time.monotonic() - started
    with harness.engine.connect() as conn:
        rows = conn.execute(sa.select(module_runs).where(module_runs.c.sync_run_id == run.id)).all()
    written = sum(r.created + r.updated for r in rows)
    fetched = sum(r.fetched for r in rows)
    return elapsed, api_calls(harness.sandbox.base_url), {"written": written, "fetched": fetched}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limits", choices=["off", "fast"], default="off")
    parser.add_argument("--size", default="large")
    parser.add_argument(
        "--modules",
        default="users,clients,projects,tasks,bugs",
        help="comma-separated; timesheets has its own benchmark (benchmarks/timesheets.py)",
    )
    args = parser.parse_args()
    world = generate(7, args.size)
    for org in world.organizations.values():
        org.daily_limit = 10**7
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    overrides: dict[str, object] = {"slice_pages": 10, "books_daily_limit": 10**7}
    if args.limits == "fast":
        overrides |= {"rate_limits_enabled": True, "books_window_seconds": 1.0, "projects_window_seconds": 2.0}
    try:
        config = SandboxConfig(rate_limits=preset(args.limits))
        with SandboxServer(world, config=config) as sandbox, sync_harness(sandbox, url, **overrides) as harness:
            modules = args.modules.split(",")
            full = timed_run(harness, modules)
            incremental = timed_run(harness, modules)
            floor = None
            if args.limits == "fast":
                calls = full[1]
                floor = max(calls["projects"] / 50.0, calls["books"] / 100.0)
            report(args, world, full, incremental, floor)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def report(args, world, full, incremental, floor) -> None:
    minimum = minimum_calls(world)
    print(
        f"{dt.date.today()} {platform.machine()} {platform.python_version()} limits={args.limits} size={args.size} "
        f"modules={args.modules}"
    )
    for label, (elapsed, calls, counts) in (("full", full), ("incremental", incremental)):
        line = (
            f"{label}: {elapsed:.1f}s, fetched {counts['fetched']}, written {counts['written']}, "
            f"projects calls {calls['projects']}, books calls {calls['books']}, 429s served {calls['429s']}, "
            f"records/s {counts['fetched'] / elapsed:.0f}"
        )
        print(line)
    print(f"minimum calls (lower bound): projects {minimum['projects']}, books {minimum['books']}")
    if floor is not None:
        print(f"rate-limit floor for the full run: {floor:.1f}s (wall {full[0]:.1f}s = {full[0] / floor:.2f}x)")


if __name__ == "__main__":
    main()
