"""Fairness between tenants (issue 19 benchmark), run by hand, never in tests:

    .venv/bin/python -m benchmarks.fairness                  # small world, 3 rounds of each scenario
    .venv/bin/python -m benchmarks.fairness --size tiny --rounds 1
    .venv/bin/python -m benchmarks.fairness --latency-ms 25     # every answer 25 ms later, as from a real Zoho

One healthy integration's full sync, timed in three scenarios on the same worker pool:
- alone;
- beside a tenant whose every Zoho Books call is answered 429 (Retry-After 1 s, the sandbox's fault injection on
  its organization): it keeps coming back for as long as the healthy sync runs;
- beside a tenant's backfill of the same size (its first full sync, started just before).
Goal: the healthy sync beside either takes at most 1.5x its time alone.

Production shape: PostgreSQL (a throw-away database per scenario on BENCH_POSTGRES_URL's server), Redis db 9 as the
broker (flushed before each scenario), ``celery -A worker.app worker -Q sync,instant --concurrency 2`` and ``celery
-A worker.app beat`` (30 s tick) as subprocesses with BPSYNC_* env, ``bpsync sandbox --rate-limits off`` in its own
process, fresh for each scenario. Both tenants read the sandbox's main portal; the healthy one writes to its main
Books organization, the other to its second one (a sandbox holds one populated portal).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import redis
import requests
import sqlalchemy as sa

from benchmarks.finance_latency import ADMIN_URL, BROKER_URL, Processes, env_of, free_port, wait_http
from shared.celery_app import create_celery
from shared.config import Settings, load_settings
from shared.crypto import new_key
from shared.db import engine as dbengine
from shared.db.integrations import Integration, create_integration
from shared.db.schema import integrations, module_runs, sync_runs
from shared.dispatch import request_sync

SCENARIOS = ("alone", "beside a 429 storm", "beside a backfill")
GOAL = 1.5


@dataclass
class Outcome:
    scenario: str
    seconds: float
    status: str
    other_slices_429: int  # 429s the other tenant's module runs counted meanwhile
    other_status: str


def connect(engine: sa.Engine, settings: Settings, creds: dict, organization_id: str, name: str) -> Integration:
    integration = create_integration(
        engine,
        settings,
        name=name,
        organization_id=organization_id,
        portal_id=creds["portal_id"],
        credentials={
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
            "refresh_token": creds["admin"]["refresh_token"],
        },
    )
    with engine.begin() as conn:  # the benchmark starts the syncs itself, never the beat's schedule
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        conn.execute(integrations.update().where(integrations.c.id == integration.id).values(next_run_at=later))
    return integration


def run_status(engine: sa.Engine, run_id: int) -> str:
    with engine.connect() as conn:
        return str(conn.execute(sa.select(sync_runs.c.status).where(sync_runs.c.id == run_id)).scalar_one())


def wait_run(engine: sa.Engine, run_id: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = run_status(engine, run_id)
        if status not in ("queued", "running"):
            return status
        time.sleep(0.05)
    raise RuntimeError(f"run {run_id} did not finish in {timeout:.0f}s")


def throttled_calls(engine: sa.Engine, integration_id: int) -> int:
    with engine.connect() as conn:
        total = conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(module_runs.c.throttled_calls), 0)).where(
                module_runs.c.integration_id == integration_id
            )
        ).scalar_one()
    return int(total)


def scenario(args: argparse.Namespace, name: str, directory: Path) -> Outcome:
    procs = Processes(directory)
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    database = f"bench_fair_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
    url = admin.url.set(database=database).render_as_string(hide_password=False)
    broker = redis.Redis.from_url(BROKER_URL)
    broker.flushdb()  # db 9 is this benchmark's
    engine: sa.Engine | None = None
    try:
        dbengine.upgrade(url)
        bpsync = str(Path(sys.executable).with_name("bpsync"))
        port = free_port()
        sandbox_url = f"http://127.0.0.1:{port}"
        procs.start(
            "sandbox",
            [bpsync, "sandbox", "--port", str(port), "--size", args.size, "--seed", "1", "--rate-limits", "off"],
        )
        wait_http(f"{sandbox_url}/_sandbox/credentials", 120)
        settings = load_settings(
            database_url=url,
            broker_url=BROKER_URL,
            projects_api_url=sandbox_url,
            books_api_url=f"{sandbox_url}/books/v3",
            accounts_url=sandbox_url,
            secret_key=new_key(),
            rate_limits_enabled=False,
            redis_key_prefix=f"benchfair{uuid.uuid4().hex[:8]}",
            transactions_poll_seconds=0,  # the syncs alone
            instant_poll_minutes=0,
        )
        env = env_of(settings)
        celery = [sys.executable, "-m", "celery", "-A", "worker.app"]
        procs.start(
            "worker",
            [*celery, "worker", "-Q", "sync,instant", "--concurrency", str(args.concurrency), "--loglevel", "INFO",
             "-n", f"fair-{uuid.uuid4().hex[:4]}@%h"],
            env,
        )  # fmt: skip
        procs.start("beat", [*celery, "beat", "--loglevel", "INFO", "-s", str(directory / "beat-schedule")], env)
        engine = dbengine.make_engine(url)
        app = create_celery(settings, main=f"bench-{uuid.uuid4().hex[:6]}")
        creds = requests.get(f"{sandbox_url}/_sandbox/credentials", timeout=30).json()
        other_org = next(o for o in creds["organization_ids"] if o != creds["organization_id"])
        healthy = connect(engine, settings, creds, creds["organization_id"], "healthy")
        other = connect(engine, settings, creds, other_org, "other")
        time.sleep(3)  # the worker's start-up, outside the timed part
        procs.check()
        other_run = None
        if args.latency_ms:  # Zoho answers in tens to hundreds of ms; a local sandbox in one or two
            latency = {"api": "*", "kind": "latency", "latency_ms": args.latency_ms}
            requests.post(f"{sandbox_url}/_sandbox/faults", json=latency, timeout=10).raise_for_status()
        if name == "beside a 429 storm":
            fault = {"api": "books", "kind": "429", "organization_id": other_org, "retry_after_s": 1}
            requests.post(f"{sandbox_url}/_sandbox/faults", json=fault, timeout=10).raise_for_status()
        if name != "alone":
            other_run = request_sync(engine, app, other.id).run_id
            deadline = time.monotonic() + 60
            while not throttled_calls(engine, other.id) and name == "beside a 429 storm":
                if time.monotonic() > deadline:
                    raise RuntimeError("the throttled tenant never reached Zoho Books")
                time.sleep(0.05)
            time.sleep(0.5)  # the other tenant is well under way
        started = time.monotonic()
        run_id = request_sync(engine, app, healthy.id).run_id
        status = wait_run(engine, run_id, 1800)
        seconds = time.monotonic() - started
        procs.check()
        other_status = run_status(engine, other_run) if other_run else "-"
        return Outcome(name, seconds, status, throttled_calls(engine, other.id), other_status)
    finally:
        procs.stop_all()
        if engine is not None:
            engine.dispose()
        broker.flushdb()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", choices=["tiny", "small", "large"], default="small")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the three scenarios, interleaved")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes (celery's default = nproc)")
    parser.add_argument("--latency-ms", type=int, default=0, help="added to every sandbox answer (Zoho's latency)")
    args = parser.parse_args()
    started_at = dt.datetime.now(dt.UTC)
    load_before = os.getloadavg()
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="bench-fair-") as tmp:
        for round_ in range(args.rounds):
            for name in SCENARIOS:
                directory = Path(tmp) / f"{round_}-{name.replace(' ', '-')}"
                directory.mkdir()
                outcome = scenario(args, name, directory)
                outcomes.append(outcome)
                print(
                    f"round {round_ + 1} {name}: {outcome.seconds:.2f}s ({outcome.status}); other tenant: "
                    f"{outcome.other_slices_429} 429s, {outcome.other_status}",
                    flush=True,
                )
    alone = statistics.median(o.seconds for o in outcomes if o.scenario == "alone")
    print()
    print(f"| scenario | rounds | healthy sync, median s | runs (s) | ratio to alone | goal ≤ {GOAL}x |")
    print("|---|---|---|---|---|---|")
    for name in SCENARIOS:
        mine = [o for o in outcomes if o.scenario == name]
        median = statistics.median(o.seconds for o in mine)
        runs = ", ".join(f"{o.seconds:.1f}" for o in mine)
        ratio = median / alone
        verdict = "—" if name == "alone" else ("✓" if ratio <= GOAL else "✗")
        print(f"| {name} | {len(mine)} | {median:.2f} | {runs} | {ratio:.2f} | {verdict} |")
    print()
    print(
        f"{started_at:%Y-%m-%d %H:%M} UTC, commit {commit()}, size {args.size}, concurrency {args.concurrency}, "
        f"latency {args.latency_ms} ms, "
        f"{platform.python_implementation()} {platform.python_version()}, nproc {os.cpu_count()}, "
        f"load average before {load_before}, after {os.getloadavg()}"
    )


if __name__ == "__main__":
    main()
