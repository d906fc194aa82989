"""Engine overhead: what a sync costs beyond the Zoho calls it makes (issue 18 benchmark), run by hand:

    .venv/bin/python -m benchmarks.engine_overhead                 # small world, seed 7
    .venv/bin/python -m benchmarks.engine_overhead --size large

Production shape: ``bpsync sandbox --rate-limits off`` in its own process, one ``celery -A worker.app worker -Q sync``
(prefork, ``--concurrency`` 2 by default) with BPSYNC_* env, Redis as the broker and the token cache (``--broker``,
flushed before and after: that db must be the benchmark's), PostgreSQL (a throw-away database on
BENCH_POSTGRES_URL's server), the product's limiter off. A full sync of users..bugs (``--modules`` adds timesheets),
then the same sync again with nothing changed (the incremental run). For each run:

- wall: from the run's request to its end (read from the database);
- client CPU: user + system time of the worker's process group (/proc), and the sandbox's for the same requests;
- transactions: xact_commit / xact_rollback deltas of the benchmark database (pg_stat_database), per record fetched;
- requests: what the sandbox served (``/_sandbox/requests``);
- HTTP time, with ``--http-times``: the sum of the worker's own per-call timings (``shared.zoho.http`` logs "-> status
  in N ms" at DEBUG, so the worker then runs with BPSYNC_LOG_LEVEL=DEBUG, a JSON log line per call: ~1 s of a large
  full run): the time a client that did nothing but send the same requests one after another would need, at best.
  ``wall / HTTP`` is the engine's overhead ratio. Without the flag the worker logs at the product's default (INFO),
  as in production, and the replay ratio is measured on that;
- peak RSS of the busy worker child (VmHWM of the pool processes);
- replay: right after each product run, the requests it sent (the sandbox's journal) are sent again one after
  another by ``benchmarks/replay.py`` (one ``requests.Session``) to a second sandbox of the same seed, started with
  the first: its wall and CPU, that sandbox's CPU, and checks that both sent the same requests (per route and
  status; method, path, query and body) and that both sandboxes hold the same Books records at the end.
  ``wall / replay`` is issue 18's goal (at most 1.5 times). The journal is on in both sandboxes, so both pay for it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import requests
import sqlalchemy as sa

from benchmarks import replay as rp
from benchmarks.finance_latency import Processes, clean_up, env_of, free_port, wait_http
from shared.celery_app import create_celery
from shared.clock import as_utc
from shared.config import load_settings
from shared.crypto import new_key
from shared.db import engine as dbengine
from shared.db import runs
from shared.db.integrations import create_integration
from shared.db.schema import integrations, module_runs, sync_runs
from shared.dispatch import enqueue_modules

ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
MODULES = "users,clients,projects,tasks,bugs"  # issue 18 adds timesheets: --modules …,timesheets (long on large)
CALL_LINE = re.compile(rb"shared\.zoho\.http.* -> (\d+|None) in (\d+) ms")
TICKS = os.sysconf("SC_CLK_TCK")


def group_cpu(session_id: int) -> float:
    """User + system seconds of every live process in the session (a pool child's time is its own)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session_id:  # field 6 of stat: the session id
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def peak_rss_mb(session_id: int, exclude: int) -> float:
    """The largest VmHWM among the session's processes other than ``exclude`` (the pool parent)."""
    peak = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == exclude:
            continue
        try:
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[3]) != session_id:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            continue
    return peak / 1024


def xacts(engine: sa.Engine, name: str) -> tuple[int, int]:
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
        row = conn.execute(
            sa.text("SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = :n"), {"n": name}
        ).one()
    return int(row[0]), int(row[1])


@dataclass
class Measured:
    label: str
    wall: float
    worker_cpu: float
    sandbox_cpu: float
    commits: int
    rollbacks: int
    requests: int
    http_seconds: float
    http_calls: int
    counts: dict[str, int]
    status: str
    journal: list[dict[str, Any]]
    windows: dict[str, tuple[float, float]]  # each module's start and end (epoch seconds), as the worker wrote them


@dataclass
class Replay:
    label: str
    replayed: rp.Replayed
    sandbox_cpu: float
    requests: int
    differences: list[str]


class Bench:
    def __init__(
        self, args: argparse.Namespace, url: str, db_name: str, sandbox_url: str, replay_url: str, broker: str
    ) -> None:
        self.args = args
        self.db_name = db_name
        self.sandbox_url = sandbox_url
        self.replay_url = replay_url
        self.ids = rp.IdMap()
        self.rss_by_module: dict[str, float] = {}  # the pool's peak RSS (MB) last seen while the module ran
        self.phase = ""
        self.replay_token = ""
        self.settings = load_settings(
            database_url=url,
            broker_url=broker,
            projects_api_url=sandbox_url,
            books_api_url=f"{sandbox_url}/books/v3",
            accounts_url=sandbox_url,
            secret_key=new_key(),
            web_token=secrets.token_hex(24),
            rate_limits_enabled=False,
            books_daily_limit=10**7,
            redis_key_prefix=f"benchengine{uuid.uuid4().hex[:8]}",
            log_level="DEBUG" if args.http_times else "INFO",
        )
        self.engine = dbengine.make_engine(url)
        self.admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
        self.app = create_celery(self.settings, main=f"bench-{uuid.uuid4().hex[:6]}")
        self.iid = 0

    def connect(self) -> None:
        creds = requests.get(f"{self.sandbox_url}/_sandbox/credentials", timeout=30).json()
        form = {
            "grant_type": "refresh_token",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
            "refresh_token": creds["admin"]["refresh_token"],
        }  # the replay's first token, taken before anything is counted (the worker's comes from its first call)
        self.replay_token = requests.post(f"{self.replay_url}/oauth/v2/token", data=form, timeout=30).json()[
            "access_token"
        ]
        integration = create_integration(
            self.engine,
            self.settings,
            name=f"bench-{uuid.uuid4().hex[:6]}",
            organization_id=creds["organization_id"],
            portal_id=creds["portal_id"],
            credentials={
                "client_id": creds["client_id"],
                "client_secret": creds["client_secret"],
                "refresh_token": creds["admin"]["refresh_token"],
            },
        )
        self.iid = integration.id
        with self.engine.begin() as conn:  # no scheduled run gets in the way (no beat runs anyway)
            later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
            conn.execute(integrations.update().where(integrations.c.id == self.iid).values(next_run_at=later))

    def run(self, label: str, worker: subprocess.Popen[bytes], sandbox: subprocess.Popen[bytes], log: Path) -> Measured:
        requests.delete(f"{self.sandbox_url}/_sandbox/requests", timeout=10)
        requests.post(f"{self.sandbox_url}/_sandbox/journal", timeout=10)
        offset = log.stat().st_size
        cpu0, sandbox0 = group_cpu(worker.pid), group_cpu(sandbox.pid)
        commits0, rollbacks0 = xacts(self.admin, self.db_name)
        started = dt.datetime.now(dt.UTC)
        with self.engine.begin() as conn:
            request = runs.request_run(conn, self.iid, self.args.modules.split(","), "manual")
        enqueue_modules(self.app, request.start_module_run_ids)  # siblings (users and clients) start at once
        self.phase = label
        status = self.wait(request.run_id, worker.pid)
        with self.engine.connect() as conn:  # the end the worker wrote, not when a poll (every 0.25 s) saw it
            finished = conn.execute(sa.select(sync_runs.c.finished_at).where(sync_runs.c.id == request.run_id)).scalar()
        wall = (as_utc(finished) - started).total_seconds()
        cpu1, sandbox1 = group_cpu(worker.pid), group_cpu(sandbox.pid)
        time.sleep(1.5)  # the server flushes its statistics at most once a second
        commits1, rollbacks1 = xacts(self.admin, self.db_name)
        served = requests.get(f"{self.sandbox_url}/_sandbox/requests", timeout=30).json()
        journal = requests.delete(f"{self.sandbox_url}/_sandbox/journal", timeout=300).json()["entries"]
        with log.open("rb") as f:
            f.seek(offset)
            timings = [int(m.group(2)) for m in CALL_LINE.finditer(f.read())]
        with self.engine.connect() as conn:
            of_run = sa.select(module_runs).where(module_runs.c.sync_run_id == request.run_id)
            rows = conn.execute(of_run.order_by(module_runs.c.position)).all()
        counts = {k: sum(getattr(r, k) for r in rows) for k in ("fetched", "created", "updated", "unchanged")}
        took = {r.module: (as_utc(r.finished_at) - as_utc(r.started_at)).total_seconds() for r in rows}
        windows = merged_windows(
            {r.module: (as_utc(r.started_at).timestamp(), as_utc(r.finished_at).timestamp()) for r in rows}
        )
        print(f"  {label} modules (s): " + ", ".join(f"{m} {t:.1f}" for m, t in took.items()), flush=True)
        return Measured(
            label,
            wall,
            cpu1 - cpu0,
            sandbox1 - sandbox0,
            commits1 - commits0,
            rollbacks1 - rollbacks0,
            int(served["total"]),
            sum(timings) / 1000,
            len(timings),
            counts,
            status,
            journal,
            windows,
        )

    def replay(self, product: Measured, sandbox: subprocess.Popen[bytes]) -> Replay:
        """Send what ``product`` sent, one request after another, to the replay sandbox; compare what was sent."""
        requests.delete(f"{self.replay_url}/_sandbox/requests", timeout=10)
        requests.post(f"{self.replay_url}/_sandbox/journal", timeout=10)
        sandbox0 = group_cpu(sandbox.pid)
        replayed, self.replay_token = rp.replay(product.journal, self.replay_url, self.replay_token, self.ids)
        sandbox1 = group_cpu(sandbox.pid)
        served = requests.get(f"{self.replay_url}/_sandbox/requests", timeout=30).json()
        journal = requests.delete(f"{self.replay_url}/_sandbox/journal", timeout=300).json()["entries"]
        ours, theirs = rp.route_statuses(product.journal), rp.route_statuses(journal)
        differences = [f"route/status product only x{n}: {k}" for k, n in (ours - theirs).items()]
        differences += [f"route/status replay only x{n}: {k}" for k, n in (theirs - ours).items()]
        differences += rp.request_differences(product.journal, journal, self.ids)
        per_module = replay_by_module(product, replayed)
        print(
            f"  {product.label} replay modules (s): "
            + ", ".join(
                f"{m} {t:.1f} ({product.windows[m][1] - product.windows[m][0]:.1f} / {t:.1f} = "
                f"{(product.windows[m][1] - product.windows[m][0]) / max(t, 0.001):.2f}x)"
                for m, t in per_module.items()
            ),
            flush=True,
        )
        return Replay(product.label, replayed, sandbox1 - sandbox0, int(served["total"]), differences)

    def wait(self, run_id: int, worker_pid: int) -> str:
        """Poll the run's status; meanwhile note the pool's peak RSS as each module ends (``rss_by_module``)."""
        deadline = time.monotonic() + self.args.timeout
        while time.monotonic() < deadline:
            with self.engine.connect() as conn:  # one transaction a poll, as before
                status = conn.execute(sa.select(sync_runs.c.status).where(sync_runs.c.id == run_id)).scalar_one()
                running = conn.execute(
                    sa.select(module_runs.c.module).where(
                        module_runs.c.sync_run_id == run_id, module_runs.c.status == "running"
                    )
                ).scalars()
                for module in running:
                    self.rss_by_module[f"{self.phase} {module}"] = peak_rss_mb(worker_pid, worker_pid)
            if status not in ("queued", "running"):
                return str(status)
            time.sleep(0.25)
        raise RuntimeError(f"run {run_id} did not finish within {self.args.timeout:g} s")


def line(m: Measured) -> str:
    fetched = max(1, m.counts["fetched"])
    requests = f"requests {m.requests}"
    if m.http_calls:  # --http-times
        requests += f" (timed {m.http_calls}), HTTP {m.http_seconds:.1f} s, wall/HTTP {m.wall / m.http_seconds:.2f}x"
    return (
        f"{m.label}: {m.status}, wall {m.wall:.1f} s, worker CPU {m.worker_cpu:.1f} s, "
        f"sandbox CPU {m.sandbox_cpu:.1f} s, {requests}, "
        f"transactions {m.commits} commits + {m.rollbacks} rollbacks = "
        f"{(m.commits + m.rollbacks) / fetched:.2f} per record, records {m.counts}"
    )


def merged_windows(windows: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    """Modules that ran at once (siblings: users and clients, tasks and bugs) as one window named "tasks+bugs": the
    journal says when a request came, not which module sent it."""
    merged: list[tuple[str, float, float]] = []
    for module, (start, end) in sorted(windows.items(), key=lambda item: item[1]):
        if merged and start < merged[-1][2]:
            name, first, last = merged[-1]
            merged[-1] = (f"{name}+{module}", first, max(last, end))
        else:
            merged.append((module, start, end))
    return {name: (start, end) for name, start, end in merged}


def replay_by_module(product: Measured, replayed: rp.Replayed) -> dict[str, float]:
    """The replay's time for the requests the product sent while each module ran (by the journal's arrival times)."""
    spent = dict.fromkeys(product.windows, 0.0)
    for entry, took in zip(product.journal, replayed.took, strict=True):
        for module, (start, end) in product.windows.items():
            if start <= entry["at"] <= end:
                spent[module] += took
                break
    return spent


def replay_line(r: Replay, product: Measured) -> str:
    ratio = product.wall / r.replayed.wall if r.replayed.wall else float("nan")
    same = "same requests" if not r.differences else f"{len(r.differences)} differences"
    return (
        f"{r.label} replay: wall {r.replayed.wall:.1f} s, client CPU {r.replayed.cpu:.1f} s, sandbox CPU "
        f"{r.sandbox_cpu:.1f} s, requests {r.requests}, statuses {dict(r.replayed.statuses)}, {same}; "
        f"product wall / replay wall {ratio:.2f}x, sandbox CPU product / replay "
        f"{product.sandbox_cpu / max(r.sandbox_cpu, 0.01):.2f}x"
    )


def profiler(spy: str | None, label: str, *pids: int) -> list[subprocess.Popen[bytes]]:
    """``py-spy record`` of each process (and its children) for one run, collapsed stacks in ``spy``'s folder: the
    first process's waits too (``--idle``: where its wall time goes), the others' CPU only."""
    if not spy:
        return []
    spies = []
    for pid in pids:
        command = ["py-spy", "record", "--subprocesses", "--format", "raw", "--rate", "50", "--pid", str(pid)]
        command += ["--idle"] if pid == pids[0] else []
        output = f"{spy}/{label}-{pid}.txt"
        spies.append(subprocess.Popen([*command, "--output", output], stdout=subprocess.DEVNULL))
    return spies


def _interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=["tiny", "small", "large"], default="small")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=2, help="worker pool processes (celery's default = nproc)")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/9", help="a Redis db of the benchmark's own")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--keep", action="store_true", help="keep the database and the logs folder")
    parser.add_argument("--modules", default=MODULES, help=f"what the runs sync (default {MODULES})")
    parser.add_argument(
        "--http-times", action="store_true", help="worker at DEBUG: time each Zoho call from its log (wall/HTTP)"
    )
    parser.add_argument("--no-replay", action="store_true", help="skip the replay (and its second sandbox)")
    parser.add_argument("--trace-memory", metavar="DIR", help="tracemalloc in the pool (benchmarks/traced_worker.py)")
    parser.add_argument("--py-spy", metavar="DIR", help="profile worker and sandbox with py-spy (on PATH) into DIR")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)

    started_at = dt.datetime.now(dt.UTC)
    load_before = os.getloadavg()
    directory = Path(tempfile.mkdtemp(prefix="bench-engine-"))
    procs = Processes(directory)
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"bench_eng_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    broker = redis.Redis.from_url(args.broker)
    broker.flushdb()
    bench: Bench | None = None
    try:
        dbengine.upgrade(url)
        port = free_port()
        sandbox_url = f"http://127.0.0.1:{port}"
        replay_port = free_port()
        replay_url = f"http://127.0.0.1:{replay_port}"
        command = [sys.executable, "-m", "scheduler.cli", "sandbox", "--size", args.size, "--seed", str(args.seed)]
        sandbox = procs.start("sandbox", [*command, "--port", str(port), "--rate-limits", "off"])
        replay_sandbox = procs.start("replay-sandbox", [*command, "--port", str(replay_port), "--rate-limits", "off"])
        wait_http(f"{sandbox_url}/_sandbox/credentials", 300)
        wait_http(f"{replay_url}/_sandbox/credentials", 300)
        bench = Bench(args, url, name, sandbox_url, replay_url, args.broker)
        bench.connect()
        app_module = "benchmarks.traced_worker" if args.trace_memory else "worker.app"
        worker = procs.start(
            "worker",
            [sys.executable, "-m", "celery", "-A", app_module, "worker", "-Q", "sync",
             "--concurrency", str(args.concurrency), "-n", f"engine-{uuid.uuid4().hex[:4]}@%h"],
            env_of(bench.settings) | ({"BENCH_TRACE_DIR": args.trace_memory} if args.trace_memory else {}),
        )  # fmt: skip
        time.sleep(5)
        procs.check()
        results, replays = [], []
        for label in ("full", "incremental"):  # each replay right after its run, so both see similar load
            spy = profiler(args.py_spy, label, worker.pid, sandbox.pid)
            results.append(bench.run(label, worker, sandbox, directory / "worker.log"))
            for process in spy:
                process.send_signal(signal.SIGINT)  # py-spy writes its profile on SIGINT
                process.wait(60)
            if not args.no_replay:
                replays.append(bench.replay(results[-1], replay_sandbox))
        rss = peak_rss_mb(worker.pid, worker.pid)
        print(
            f"{started_at:%Y-%m-%d %H:%M} UTC, {platform.node()} {platform.machine()} nproc {os.cpu_count()}, "
            f"CPython {platform.python_version()}, size {args.size} seed {args.seed}, concurrency {args.concurrency}, "
            f"modules {args.modules}"
        )
        for m in results:
            print(line(m))
        for r, m in zip(replays, results, strict=False):
            print(replay_line(r, m))
            for difference in r.differences:
                print(f"  {difference}")
        if replays:
            books = rp.books_differences(rp.books_state(sandbox_url), rp.books_state(replay_url), bench.ids)
            print("Books state after both runs: " + ("the same" if not books else "DIFFERENT"))
            for difference in books:
                print(f"  {difference}")
        print(f"peak RSS of a worker pool child: {rss:.0f} MB")
        seen = ", ".join(f"{m} {v:.0f}" for m, v in bench.rss_by_module.items())
        print(f"  (MB, the last seen while each module ran: {seen})")
        print(f"load average before {load_before}, after {os.getloadavg()}")
        with admin.connect() as conn:  # off: the tables are never analyzed, so query plans are the planner's guess
            autovacuum = conn.execute(sa.text("SHOW autovacuum")).scalar_one()
        print(f"PostgreSQL autovacuum: {autovacuum}")
    finally:
        procs.stop_all()
        if bench is not None:
            bench.engine.dispose()
            bench.admin.dispose()
        clean_up(admin, name, broker, directory, keep=args.keep)


if __name__ == "__main__":
    main()
