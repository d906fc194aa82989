"""Finance propagation latency while a `large` sync runs (issue 14 benchmark), run by hand, never in tests:

    .venv/bin/python -m benchmarks.finance_latency --size small --count 30     # a quick check
    .venv/bin/python -m benchmarks.finance_latency                             # large, 200 transactions

Production shape: PostgreSQL (a throw-away database on BENCH_POSTGRES_URL's server), Redis as the broker
(redis://127.0.0.1:6379/9, flushed before and after: that db is the benchmark's; a unique key prefix),
``celery -A worker.app worker -Q sync,instant`` and ``celery -A worker.app beat`` as subprocesses with BPSYNC_*
env, ``bpsync sandbox --rate-limits off`` in its own process (the product's limiter off too, the Books daily limit
raised so the poll's quota spacing does not stretch the interval), and ``bpsync web`` receiving the sandbox's Books
webhooks.

Flow: connect an integration, first sync of users, clients and projects, then a full sync of every module; while it
runs, three paths are timed one after another:
- poll: Books records created through sandbox acts with no webhook subscribed -> the row in ``transactions``
  (the beat's tick dispatches a poll every BPSYNC_TRANSACTIONS_POLL_SECONDS); measured first, because once Books
  webhooks arrive the product polls at most every 15 minutes;
- webhook: the sandbox's webhook hub subscribed to the web app's Books receiver; records created -> the row;
- project side -> Books: request_invoice/request_quote/request_expense -> the request ``confirmed``.
Books calls per transaction: ``/_sandbox/requests`` before/after each path, finance routes only (invoices,
estimates, expenses, recurring invoices, the project/contact reads of the create checks; the running sync's own
calls are other routes, listed separately).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import requests
import sqlalchemy as sa

from scheduler.books_webhooks import books_webhook_path
from scheduler.finance.create import Refused, request_expense, request_quote
from scheduler.finance.invoice import request_invoice
from scheduler.finance.zoho import books_client
from scheduler.webhooks import webhook_token
from shared.celery_app import create_celery
from shared.config import Settings, load_settings
from shared.crypto import new_key
from shared.db import engine as dbengine
from shared.db import runs
from shared.db.integrations import Integration, create_integration
from shared.db.schema import entity_links, finance_requests, integrations, module_runs, sync_runs, transactions
from shared.dispatch import enqueue_modules, request_sync

ROOT = Path(__file__).resolve().parents[1]
ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
BROKER_URL = "redis://127.0.0.1:6379/9"
FIRST_MODULES = ["users", "clients", "projects"]
FINANCE_ROUTES = ("invoices", "estimates", "expenses", "recurringinvoices", "recurring_invoices")


# ------------------------------------------------------------------------------------------------ processes
def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env_of(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BPSYNC_")}
    for name, value in settings.model_dump().items():
        if value is not None:
            env[f"BPSYNC_{name.upper()}"] = str(value)
    return env


class Processes:
    """Every subprocess in its own process group, its output in a log file; ``stop_all`` in a finally."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, command: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        with (self.directory / f"{name}.log").open("ab") as out:
            process = subprocess.Popen(
                command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.started.append((name, process))
        return process

    def check(self) -> None:
        for name, process in self.started:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited ({process.returncode}): {self.tail(name)}")

    def tail(self, name: str, size: int = 3000) -> str:
        try:
            return (self.directory / f"{name}.log").read_text(errors="replace")[-size:]
        except OSError:
            return ""

    def stop_all(self) -> None:
        for _, process in reversed(self.started):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for _, process in self.started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # pool children left behind too
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)


def wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=2).status_code < 500:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:g} s")


def books_calls(base_url: str) -> Counter[str]:
    """Books calls served so far by route ("METHOD path"); "429s" the throttled ones."""
    served = requests.get(f"{base_url}/_sandbox/requests", timeout=30).json()
    counts: Counter[str] = Counter()
    for row in served["requests"]:
        if row["api"] == "books":
            counts[f"{row['method']} {row['path']}"] += row["count"]
    counts["429s"] = served["throttled"]
    return counts


def is_finance_route(route: str) -> bool:
    method, _, path = route.partition(" ")
    if any(f"/{name}" in path for name in FINANCE_ROUTES):
        return True
    # the create checks read the Books project and the customer (the sync does not GET these one by one)
    return method == "GET" and (path.rstrip("/").endswith("/projects/{project_id}") or "/contacts/{" in path)


# ------------------------------------------------------------------------------------------------ measuring
@dataclass
class Pending:
    key: tuple[str, str]  # ("txn", kind:books_id) or ("request", id)
    label: str
    started: float
    done: float | None = None
    outcome: str = ""


@dataclass
class Measured:
    name: str
    items: list[Pending] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    sync_states: list[str] = field(default_factory=list)
    wall: float = 0.0

    def latencies(self) -> list[float]:
        return sorted(p.done - p.started for p in self.items if p.done is not None and p.outcome == "ok")


class Watcher(threading.Thread):
    """Polls the database every 0.1 s for the outstanding items of the current path."""

    def __init__(self, engine: sa.Engine, integration_id: int) -> None:
        super().__init__(name="bench-watcher", daemon=True)
        self.engine = engine
        self.iid = integration_id
        self.lock = threading.Lock()
        self.items: list[Pending] = []
        self.stopping = threading.Event()

    def add(self, item: Pending) -> None:
        with self.lock:
            self.items.append(item)

    def outstanding(self) -> int:
        with self.lock:
            return sum(1 for p in self.items if p.done is None)

    def run(self) -> None:
        while not self.stopping.is_set():
            with self.lock:
                open_items = [p for p in self.items if p.done is None]
            if open_items:
                with contextlib.suppress(Exception):
                    self._check(open_items)
            time.sleep(0.1)

    def _check(self, items: list[Pending]) -> None:
        txn = [p for p in items if p.key[0] == "txn"]
        reqs = [p for p in items if p.key[0] == "request"]
        now = time.monotonic()
        with self.engine.connect() as conn:
            if txn:
                ids = [p.key[1].split(":", 1)[1] for p in txn]
                rows = conn.execute(
                    sa.select(transactions.c.kind, transactions.c.books_id).where(
                        transactions.c.integration_id == self.iid, transactions.c.books_id.in_(ids)
                    )
                ).all()
                seen = {f"{r.kind}:{r.books_id}" for r in rows}
                for p in txn:
                    if p.key[1] in seen:
                        p.done, p.outcome = now, "ok"
            if reqs:
                rows = conn.execute(
                    sa.select(finance_requests.c.id, finance_requests.c.state).where(
                        finance_requests.c.id.in_([int(p.key[1]) for p in reqs])
                    )
                ).all()
                states = {str(r.id): r.state for r in rows}
                for p in reqs:
                    state = states.get(p.key[1])
                    if state == "confirmed":
                        p.done, p.outcome = now, "ok"
                    elif state in ("refused", "failed"):
                        p.done, p.outcome = now, state


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


# ------------------------------------------------------------------------------------------------ the bench
@dataclass
class Target:
    projects_id: str
    books_id: str
    customer_id: str


class Bench:
    def __init__(self, args: argparse.Namespace, settings: Settings, sandbox_url: str, web_url: str) -> None:
        self.args = args
        self.settings = settings
        self.sandbox_url = sandbox_url
        self.web_url = web_url
        self.engine = dbengine.make_engine(settings.database_url)
        self.app = create_celery(settings, main=f"bench-{uuid.uuid4().hex[:6]}")
        self.integration: Integration | None = None
        self.targets: list[Target] = []
        self.serial = 0
        self.deadline = time.monotonic() + args.seconds

    @property
    def iid(self) -> int:
        assert self.integration is not None
        return self.integration.id

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def connect(self) -> None:
        creds = requests.get(f"{self.sandbox_url}/_sandbox/credentials", timeout=30).json()
        self.integration = create_integration(
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
        # the benchmark starts the syncs itself: the beat's first scheduled run would otherwise start right after
        # the first sync, and the full sync requested here would queue behind it
        with self.engine.begin() as conn:
            later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
            conn.execute(integrations.update().where(integrations.c.id == self.iid).values(next_run_at=later))

    def run_status(self, run_id: int | None = None) -> str:
        """The integration's queued and running syncs: "run 2 running (tasks)", or "no sync" (``run_id``: that run's
        status when it is not active)."""
        with self.engine.connect() as conn:
            active = conn.execute(
                sa.select(sync_runs.c.id, sync_runs.c.status)
                .where(sync_runs.c.integration_id == self.iid, sync_runs.c.status.in_(("queued", "running")))
                .order_by(sync_runs.c.id)
            ).all()
            parts = []
            for run in active:
                modules = conn.execute(
                    sa.select(module_runs.c.module).where(
                        module_runs.c.sync_run_id == run.id, module_runs.c.status == "running"
                    )
                ).scalars()
                parts.append(f"run {run.id} {run.status} ({','.join(modules)})")
            if run_id is not None and run_id not in {r.id for r in active}:
                status = conn.execute(sa.select(sync_runs.c.status).where(sync_runs.c.id == run_id)).scalar_one()
                parts.append(f"run {run_id} {status}")
        return "; ".join(parts) or "no sync"

    def run_active(self, run_id: int) -> bool:
        with self.engine.connect() as conn:
            status = conn.execute(sa.select(sync_runs.c.status).where(sync_runs.c.id == run_id)).scalar_one()
        return status in ("queued", "running")

    def wait_run(self, run_id: int, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.run_active(run_id):
                return self.run_status(run_id)
            time.sleep(1)
        raise RuntimeError(f"run {run_id} not finished within {timeout:g} s: {self.run_status(run_id)}")

    def first_sync(self) -> tuple[float, str]:
        started = time.monotonic()
        with self.engine.begin() as conn:
            request = runs.request_run(conn, self.iid, FIRST_MODULES, "manual")
        assert request.start_module_run_ids
        enqueue_modules(self.app, request.start_module_run_ids)  # siblings (users and clients) start at once
        status = self.wait_run(request.run_id, min(self.left(), self.args.first_sync_seconds))
        return time.monotonic() - started, status

    def pick_targets(self, count: int) -> None:
        """Synced projects with their Books customer (read before any path is measured)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(entity_links.c.projects_id, entity_links.c.books_id)
                .where(
                    entity_links.c.integration_id == self.iid,
                    entity_links.c.entity_type == "project",
                    entity_links.c.books_id.is_not(None),
                    entity_links.c.state == "linked",
                )
                .order_by(entity_links.c.id)
                .limit(count * 3)
            ).all()
        assert self.integration is not None
        books = books_client(self.settings, self.integration)
        for row in rows:
            project = books.get_project(row.books_id)
            if project.customer_id:
                self.targets.append(Target(row.projects_id, row.books_id, project.customer_id))
            if len(self.targets) >= count:
                break
        if not self.targets:
            raise RuntimeError("no synced project with a Books customer")

    # ---------------------------------------------------------------------------- Books side (acts)
    def act(self, body: dict[str, Any]) -> dict[str, Any]:
        response = requests.post(f"{self.sandbox_url}/_sandbox/act", json=body, timeout=30)
        if response.status_code != 200:
            raise RuntimeError(f"act {body['action']}: {response.status_code} {response.text[:300]}")
        return dict(response.json())

    def books_record(self, n: int) -> tuple[str, str]:
        """A Books record for a synced project, as a person makes it in Books: expense, quote, invoice in turn."""
        assert self.integration is not None
        t = self.targets[n % len(self.targets)]
        org = self.integration.books_organization_id
        today = dt.date.today().isoformat()
        kind = ("expense", "quote", "invoice")[n % 3]
        if kind == "expense":
            body = {
                "action": "create_expense",
                "organization_id": org,
                "account_id": "1",
                "paid_through_account_id": "2",
                "date": today,
                "amount": 10 + n,
                "is_billable": True,
                "customer_id": t.customer_id,
                "project_id": t.books_id,
                "description": f"bench expense {n}",
            }
            return "expense", str(self.act(body)["expense_id"])
        line = {"name": f"bench line {n}", "rate": 100 + n, "quantity": 1, "project_id": t.books_id}
        if kind == "quote":
            body = {
                "action": "create_quote",
                "organization_id": org,
                "customer_id": t.customer_id,
                "line_items": [line],
            }
            return "quote", str(self.act(body)["estimate_id"])
        body = {"action": "create_invoice", "organization_id": org, "customer_id": t.customer_id, "line_items": [line]}
        return "invoice", str(self.act(body)["invoice_id"])

    def request_record(self, n: int) -> tuple[str, int]:
        """A request from the project side: invoice (of the project's unbilled expenses), quote, expense in turn."""
        t = self.targets[n % len(self.targets)]
        kind = ("invoice", "quote", "expense")[n % 3]
        if kind == "invoice":
            try:
                made = request_invoice(
                    self.engine, self.settings, self.app, self.iid, t.projects_id, customer_id=t.customer_id
                )
                return "invoice", made.id
            except Refused:
                kind = "quote"  # nothing unbilled left on that project: a quote instead (counted as one)
        if kind == "quote":
            made = request_quote(
                self.engine,
                self.settings,
                self.app,
                self.iid,
                t.projects_id,
                line_items=[f"bench quote {n}:{100 + n}"],
            )
            return "quote", made.id
        made = request_expense(
            self.engine,
            self.settings,
            self.app,
            self.iid,
            t.projects_id,
            amount=20 + n,
            account_id="1",
            paid_through_account_id="2",
            description=f"bench request {n}",
        )
        return "expense", made.id

    # ---------------------------------------------------------------------------- one path
    def measure(self, name: str, count: int, make: Any, wait: float, watcher: Watcher, run_id: int) -> Measured:
        path = Measured(name)
        before = books_calls(self.sandbox_url)
        started = time.monotonic()
        path.sync_states.append(self.run_status(run_id))
        interval = 1.0 / self.args.rate
        for n in range(count):
            if self.left() < wait:
                path.errors.append(f"stopped after {n} of {count}: --seconds budget")
                break
            at = started + n * interval
            time.sleep(max(0.0, at - time.monotonic()))
            self.serial += 1
            t0 = time.monotonic()
            try:
                kind, ident = make(self.serial)
            except Exception as exc:  # a refusal or a sandbox error is reported, not fatal
                path.errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
                continue
            key = ("request", str(ident)) if name == "project side -> Books" else ("txn", f"{kind}:{ident}")
            item = Pending(key, kind, t0)
            path.items.append(item)
            watcher.add(item)
        end = time.monotonic() + min(wait, max(0.0, self.left()))
        while time.monotonic() < end and any(p.done is None for p in path.items):
            time.sleep(0.2)
        for p in path.items:
            if p.done is None:
                p.outcome = "timeout"
        path.wall = time.monotonic() - started
        path.sync_states.append(self.run_status(run_id))
        after = books_calls(self.sandbox_url)
        path.calls = after - before
        return path

    def subscribe_webhooks(self) -> None:
        token = webhook_token(self.engine, self.iid, rotate=True)
        assert token is not None
        hook = {
            "url": self.web_url + books_webhook_path(self.iid, token),
            "events": ["invoice.*", "estimate.*", "expense.*", "recurring_invoice.*"],
        }
        requests.post(f"{self.sandbox_url}/_sandbox/webhooks", json=hook, timeout=10).raise_for_status()

    def webhook_deliveries(self) -> Counter[str]:
        hub = requests.get(f"{self.sandbox_url}/_sandbox/webhooks", timeout=30).json()
        counts: Counter[str] = Counter()
        for d in hub.get("deliveries", []):
            counts[str(d.get("status") or d.get("status_code") or d.get("error") or "?")] += 1
        return counts

    def settle_polls(self, timeout: float) -> str:
        """Wait for the first poll after the first sync (the backfill: one invoice list per synced project) and the
        poll after it, so the poll path measures the steady state rather than the backfill's quota spacing."""
        deadline = time.monotonic() + min(timeout, max(0.0, self.left() - 300))
        starts: list[str] = []
        while time.monotonic() < deadline:
            with self.engine.connect() as conn:
                state = conn.execute(
                    sa.select(integrations.c.finance_cursor).where(integrations.c.id == self.iid)
                ).scalar_one()
            last = state.get("last_pull") if isinstance(state, dict) else None
            if isinstance(last, dict) and last.get("full") and last.get("finished_at"):
                if not starts or starts[-1] != f"{last['started_at']} ({last.get('books_calls')} calls)":
                    starts.append(f"{last['started_at']} ({last.get('books_calls')} calls)")
                if len(starts) >= 2:
                    break
            time.sleep(0.5)
        return f"polls before the poll path: {starts or 'none'}"

    def poll_starts(self) -> str | None:
        with self.engine.connect() as conn:
            state = conn.execute(
                sa.select(integrations.c.finance_cursor).where(integrations.c.id == self.iid)
            ).scalar_one()
        last = state.get("last_pull") if isinstance(state, dict) else None
        return f"{last}" if last else None


# ------------------------------------------------------------------------------------------------ main
def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=["tiny", "small", "large"], default="large")
    parser.add_argument("--count", type=int, default=200, help="transactions in all, split over the three paths")
    parser.add_argument("--seconds", type=float, default=1800, help="bound on the whole benchmark")
    parser.add_argument("--first-sync-seconds", type=float, default=900)
    parser.add_argument("--poll-seconds", type=float, default=30.0, help="BPSYNC_TRANSACTIONS_POLL_SECONDS")
    parser.add_argument("--tick-seconds", type=float, default=30.0, help="BPSYNC_BEAT_TICK_SECONDS (production 30)")
    parser.add_argument(
        "--books-per-minute",
        type=int,
        default=100,
        help="BPSYNC_BOOKS_REQUESTS_PER_MINUTE, what the poll's quota spacing assumes (Zoho: 100; the sandbox's limits "
        "are off either way)",
    )
    parser.add_argument(
        "--settle-seconds",
        type=float,
        default=180,
        help="wait up to this long for the backfill poll and the one after it before the poll path (0: do not)",
    )
    parser.add_argument("--rate", type=float, default=1.0, help="transactions started per second within a path")
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes (celery's default = nproc)")
    parser.add_argument("--workers", type=int, default=1, help="celery worker processes (-Q sync,instant each)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--targets", type=int, default=30, help="synced projects the transactions go to")
    parser.add_argument("--keep", action="store_true", help="keep the database and the logs folder")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)  # `timeout` and kill end it through the finally below

    started_at = dt.datetime.now(dt.UTC)
    load_before = os.getloadavg()
    directory = Path(tempfile.mkdtemp(prefix="bench-finance-"))
    procs = Processes(directory)
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"bench_fin_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    bench: Bench | None = None
    watcher: Watcher | None = None
    broker = redis.Redis.from_url(BROKER_URL)
    broker.flushdb()  # db 9 is this benchmark's: no message of an earlier run may reach this run's worker
    try:
        dbengine.upgrade(url)
        bpsync = str(Path(sys.executable).with_name("bpsync"))
        sandbox_port, web_port = free_port(), free_port()
        sandbox_url, web_url = f"http://127.0.0.1:{sandbox_port}", f"http://127.0.0.1:{web_port}"
        procs.start(
            "sandbox",
            [
                bpsync,
                "sandbox",
                "--port",
                str(sandbox_port),
                "--size",
                args.size,
                "--seed",
                str(args.seed),
                "--rate-limits",
                "off",
            ],
        )
        wait_http(f"{sandbox_url}/_sandbox/credentials", 120)
        settings = load_settings(
            database_url=url,
            broker_url=BROKER_URL,
            projects_api_url=sandbox_url,
            books_api_url=f"{sandbox_url}/books/v3",
            accounts_url=sandbox_url,
            secret_key=new_key(),
            web_token=secrets.token_hex(24),
            rate_limits_enabled=False,
            books_daily_limit=10**7,
            books_requests_per_minute=args.books_per_minute,
            redis_key_prefix=f"benchfin{uuid.uuid4().hex[:8]}",
            transactions_poll_seconds=args.poll_seconds,
            beat_tick_seconds=args.tick_seconds,
        )
        env = env_of(settings)
        celery = [sys.executable, "-m", "celery", "-A", "worker.app"]
        for w in range(args.workers):
            procs.start(
                f"worker{w + 1}",
                [*celery, "worker", "-Q", "sync,instant", "--concurrency", str(args.concurrency),
                 "--loglevel", "INFO", "-n", f"bench{w + 1}-{uuid.uuid4().hex[:4]}@%h"],
                env,
            )  # fmt: skip
        procs.start("beat", [*celery, "beat", "--loglevel", "INFO", "-s", str(directory / "beat-schedule")], env)
        procs.start("web", [bpsync, "web", "--host", "127.0.0.1", "--port", str(web_port)], env)
        wait_http(f"{web_url}/healthz", 60)

        bench = Bench(args, settings, sandbox_url, web_url)
        bench.connect()
        first_wall, first_status = bench.first_sync()
        print(f"first sync ({','.join(FIRST_MODULES)}): {first_status} in {first_wall:.1f}s", flush=True)
        procs.check()
        bench.pick_targets(args.targets)

        full = request_sync(bench.engine, bench.app, bench.iid)
        full_started = time.monotonic()
        time.sleep(3)
        print(f"full sync run {full.run_id}: {bench.run_status(full.run_id)}", flush=True)

        watcher = Watcher(bench.engine, bench.iid)
        watcher.start()
        poll_n = args.count * 3 // 10
        hook_n = (args.count - poll_n) // 2
        req_n = args.count - poll_n - hook_n
        paths = []
        settled = bench.settle_polls(args.settle_seconds) if args.settle_seconds > 0 else "no settling"
        print(settled, flush=True)
        poll = bench.measure(
            "poll", poll_n, bench.books_record, args.poll_seconds + args.tick_seconds + 60, watcher, full.run_id
        )
        poll.errors.append(settled)
        poll.errors.append(f"last pull: {bench.poll_starts()}")
        paths.append(poll)
        print(summary_line(poll), flush=True)
        procs.check()
        bench.subscribe_webhooks()
        hook = bench.measure("webhook", hook_n, bench.books_record, 60, watcher, full.run_id)
        hook.errors.append(f"deliveries: {dict(bench.webhook_deliveries())}")
        paths.append(hook)
        print(summary_line(hook), flush=True)
        procs.check()
        side = bench.measure("project side -> Books", req_n, bench.request_record, 60, watcher, full.run_id)
        paths.append(side)
        print(summary_line(side), flush=True)
        full_status = bench.run_status(full.run_id)
        report(args, paths, first_wall, first_status, full.run_id, full_status, time.monotonic() - full_started)
        print(f"started {started_at:%Y-%m-%d %H:%M} UTC; load average before {load_before}, after {os.getloadavg()}")
    finally:
        if watcher is not None:
            watcher.stopping.set()
        procs.stop_all()
        if bench is not None:
            bench.engine.dispose()
        clean_up(admin, name, broker, directory, keep=args.keep)


def clean_up(admin: sa.Engine, name: str, broker: redis.Redis, directory: Path, *, keep: bool) -> None:
    """A benchmark's end: its database and logs go (or are kept and named), its broker db is emptied."""
    with admin.connect() as conn:
        if not keep:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
    broker.flushdb()
    if keep:
        print(f"kept database {name} and logs in {directory}")
    else:
        shutil.rmtree(directory, ignore_errors=True)


def summary_line(path: Measured) -> str:
    values = path.latencies()
    outcomes = Counter(p.outcome for p in path.items)
    kinds = Counter(p.label for p in path.items)
    finance = sum(v for k, v in path.calls.items() if k != "429s" and is_finance_route(k))
    done = max(1, outcomes["ok"])
    return (
        f"{path.name}: n={len(path.items)} {dict(kinds)} {dict(outcomes)} p50 {percentile(values, 50):.2f}s "
        f"p95 {percentile(values, 95):.2f}s max {max(values, default=float('nan')):.2f}s; "
        f"finance Books calls {finance} ({finance / done:.2f}/transaction); sync {path.sync_states}; "
        f"wall {path.wall:.0f}s; {path.errors[:5]}"
    )


def report(args, paths, first_wall, first_status, run_id, full_status, full_wall) -> None:
    print()
    print(
        f"{dt.date.today()} {platform.machine()} nproc={os.cpu_count()} {platform.python_version()} size={args.size} "
        f"count={args.count} poll={args.poll_seconds:g}s tick={args.tick_seconds:g}s rate={args.rate:g}/s "
        f"books/min={args.books_per_minute} "
        f"workers={args.workers}x{args.concurrency}"
    )
    print(f"first sync {first_status} {first_wall:.0f}s; full sync run {run_id} after {full_wall:.0f}s: {full_status}")
    print("| path | n | ok | p50 s | p95 s | max s | finance Books calls / transaction | sync during |")
    print("|---|---|---|---|---|---|---|---|")
    for path in paths:
        values = path.latencies()
        ok = len(values)
        finance = sum(v for k, v in path.calls.items() if k != "429s" and is_finance_route(k))
        print(
            f"| {path.name} | {len(path.items)} | {ok} | {percentile(values, 50):.2f} | {percentile(values, 95):.2f} "
            f"| {max(values, default=float('nan')):.2f} | {finance / max(1, ok):.2f} | "
            f"{' -> '.join(path.sync_states)} |"
        )
    for path in paths:
        finance = {k: v for k, v in path.calls.items() if v and k != "429s" and is_finance_route(k)}
        other = sum(v for k, v in path.calls.items() if k != "429s" and not is_finance_route(k))
        print(f"{path.name}: finance routes {finance}; other Books calls (the sync) {other}; 429s {path.calls['429s']}")
        for error in path.errors:
            print(f"  {error}")


if __name__ == "__main__":
    main()
