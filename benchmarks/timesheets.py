"""Timesheets module: time-log list calls vs the minimum, and wall time vs Zoho's rate-limit floor.

    .venv/bin/python -m benchmarks.timesheets --size small
    .venv/bin/python -m benchmarks.timesheets --size large      # long: the parents (20k tasks) sync first

The parents (users..bugs) sync first; then three timesheets runs are measured alone: the first (a deep read), a
daily run between deep reads, and an instant (recent windows) run. The minimum is what an oracle that knew where
logs are would need: one call per (project, component, month) window holding at least one log of a project the
module reads, plus extra pages. The rate-limit floor is the time Zoho's limits alone impose on those calls
(Projects 100 per 2 minutes per user, Books 100 a minute per organization; the two run in parallel, so the larger
one).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import platform
import tempfile
import time
from collections import Counter
from pathlib import Path

import requests

from sandbox.config import SandboxConfig
from sandbox.limits import preset
from sandbox.server import SandboxServer
from shared.db import links, runs
from shared.dispatch import enqueue_modules, request_sync
from tests.sync_support import SyncHarness, sync_harness

LOG_LIST = "/restapi/portal/{portal}/projects/{project}/logs/"
PAGE = 100


def calls(h: SyncHarness) -> Counter[str]:
    rows = requests.get(f"{h.sandbox.base_url}/_sandbox/requests", timeout=30).json()["requests"]
    counted: Counter[str] = Counter()
    for row in rows:
        counted[row["api"]] += row["count"]
        if row["path"] == LOG_LIST:
            counted["log_list"] += row["count"]
    return counted


def minimum_windows(h: SyncHarness, general: bool) -> int:
    scanned = {e.source_id for e in h.errors() if e.entity_type == "project"}
    with h.engine.connect() as conn:
        scanned |= {p for p, link in links.links_of(conn, h.integration.id, "project").items() if link.books_id}
    windows: Counter[tuple[str, str, dt.date]] = Counter()
    for log in h.sandbox.world.timelogs.values():
        if log.project_id in scanned and (general or log.component != "general"):
            windows[(log.project_id, log.component, log.log_date.replace(day=1))] += 1
    return sum(math.ceil(n / PAGE) for n in windows.values())


def floor_seconds(counted: Counter[str]) -> float:
    return max(counted["projects"] / 100 * 120, counted["books"] / 100 * 60)


def timed_run(h: SyncHarness, trigger: str) -> tuple[float, Counter[str], object]:
    h.reset_requests()
    started = time.perf_counter()
    request = request_sync(h.engine, h.app, h.integration.id, module="timesheets", trigger=trigger)
    run = h.wait(request.run_id, timeout=7200)
    return time.perf_counter() - started, calls(h), run.modules["timesheets"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small", choices=["tiny", "small", "large"])
    parser.add_argument("--general", action="store_true", help="general-timesheets preference on")
    args = parser.parse_args()
    db = Path(tempfile.mkdtemp()) / "bench.sqlite"
    config = SandboxConfig(rate_limits=preset("off"))
    prefs = {"general_timesheets": args.general}
    with (
        SandboxServer(seed=1, size=args.size, config=config) as sandbox,
        sync_harness(sandbox, f"sqlite:///{db}", prefs=prefs, books_daily_limit=10**7) as h,
    ):
        with h.engine.begin() as conn:  # the parents alone, so the timesheets run below is measured by itself
            parents = runs.request_run(
                conn, h.integration.id, ["users", "clients", "projects", "tasks", "bugs"], "manual"
            )
        enqueue_modules(h.app, parents.start_module_run_ids)  # siblings (users and clients) start at once
        h.wait(parents.run_id, timeout=7200)
        full_s, full, module = timed_run(h, "manual")
        again_s, again, _ = timed_run(h, "manual")
        instant_s, instant, _ = timed_run(h, "instant")
        minimum = minimum_windows(h, args.general)
    print(
        f"| {dt.date.today()} | {args.size} | {platform.python_implementation()} {platform.python_version()} "
        f"| {module.fetched} fetched, {module.created} created | {full['log_list']} / {minimum} "
        f"| {full['projects']} + {full['books']} | {full_s:.1f} / {floor_seconds(full):.0f} "
        f"| {again['log_list']} + {again['books']} books, {again_s:.1f} s "
        f"| {instant['log_list']}, {instant_s:.1f} s |"
    )


if __name__ == "__main__":
    main()
