"""Helpers of the chaos suite: throw-away servers, real Celery processes, and the checks after a fault.

Everything here starts real processes on free ports of 127.0.0.1 and must be stopped in a ``finally``:
- ``PrivateRedis``: a redis-server without persistence (a restart loses every queued message);
- ``PrivatePostgres``: a cluster made with ``initdb`` in a temporary folder (as the ``postgres`` user when the
  tests run as root: PostgreSQL refuses to run as root);
- ``start_worker`` / ``start_beat``: ``python -m worker`` (forked from a server that imported its libraries once:
  tests/forked.py) and ``celery -A worker.app beat`` as production starts them, each in its own process
  group so ``kill_group`` SIGKILLs the worker and its pool children at once, like a host that dies.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import requests
import sqlalchemy as sa

from sandbox.generator import credentials
from shared.config import Settings
from shared.db.schema import module_runs, sync_runs
from tests import forked
from tests.forked import Forked
from tests.sync_support import SyncHarness

ROOT = Path(__file__).resolve().parents[2]
COUNTS = ("fetched", "created", "updated", "unchanged", "skipped", "failed", "blocked")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


# --------------------------------------------------------------------------------------------- servers
class PrivateRedis:
    """A throw-away redis-server without persistence: a restart loses everything, as a replaced broker does."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.starts += 1
        log = (self.directory / f"redis-{self.starts}.log").open("ab")
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen([*command, "--dir", str(self.directory)], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        client = redis.Redis(port=self.port, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"redis-server on port {self.port} did not start") from None
                time.sleep(0.05)
            finally:
                client.close()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)


def _pg_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if found:
        return str(found[-1])
    on_path = shutil.which(name)
    if on_path is None:
        raise RuntimeError(f"{name} not found (install PostgreSQL's server binaries)")
    return on_path


class PrivatePostgres:
    """A PostgreSQL cluster of its own (``initdb`` in a temporary folder, trust auth), on a free port.

    ``crash()`` is ``pg_ctl stop -m immediate``: every backend dies without a goodbye, as when the database host
    fails; ``start()`` then runs crash recovery. The folder is removed by ``destroy()``.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="bpsync-chaos-pg-"))
        self.data = self.directory / "data"
        self.log = self.directory / "postgres.log"
        self.as_user: str | None = "postgres" if os.geteuid() == 0 else None
        if self.as_user is not None:
            entry = pwd.getpwnam(self.as_user)
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)
        self.starts = 0

    def _run(self, *command: str, timeout: float = 60) -> None:
        prefix = ["runuser", "-u", self.as_user, "--"] if self.as_user else []
        subprocess.run(
            [*prefix, *command], check=True, timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")

    def start(self) -> None:
        self.starts += 1
        # fsync off is safe here: an immediate stop kills PostgreSQL, not the OS, whose page cache keeps every write.
        # synchronous_commit stays on: off, a crash loses commits the clients were told about (no product survives)
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        options += " -c max_connections=200"
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def crash(self) -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def create_database(self, name: str) -> str:
        engine = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()
        return self.url(name)

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)

    def log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""


# --------------------------------------------------------------------------------------------- celery processes
def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a worker or beat process running with ``settings`` (BPSYNC_* variables)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BPSYNC_")}
    for name, value in settings.model_dump().items():
        if value is not None:
            env[f"BPSYNC_{name.upper()}"] = str(value)
    return env | extra


def start_worker(
    env: dict[str, str],
    name: str,
    log: Path,
    *,
    concurrency: int = 1,
    loglevel: str = "INFO",
    options: tuple[str, ...] = (),
) -> Forked:
    """The production worker (compose.yaml and Procfile run ``bpsync worker``, which execs ``python -m worker``) with a
    known node name, its own process group and a log file (an unread pipe fills up and blocks the worker mid-task),
    forked from a server that has imported its libraries already (tests/forked.py)."""
    args = ["--concurrency", str(concurrency), "--loglevel", loglevel, "-n", f"{name}@%h", *options]
    return forked.start_worker(args, env, ROOT, log)


def start_beat(env: dict[str, str], directory: Path, name: str) -> subprocess.Popen:
    """``celery -A worker.app beat`` with its own schedule file (two beats must not share one)."""
    command = [sys.executable, "-m", "celery", "-A", "worker.app", "beat", "--loglevel", "INFO"]
    command += ["-s", str(directory / f"{name}-schedule"), "--pidfile", str(directory / f"{name}.pid")]
    with (directory / f"{name}.log").open("ab") as out:
        return subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def kill_group(process: subprocess.Popen | Forked) -> None:
    """SIGKILL the process and everything in its group (a prefork worker's pool children): a host that dies."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(10)


def stop(process: subprocess.Popen | Forked) -> None:
    """A warm shutdown (SIGTERM), then SIGKILL of the whole group if it does not end in time."""
    if process.poll() is None:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(20)
    kill_group(process)  # also any pool child left behind


def logs(directory: Path, tail: int = 4000) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-tail:]}" for p in sorted(directory.glob("*.log")))


# --------------------------------------------------------------------------------------------- database reads
def module_rows(engine: sa.Engine, run_id: int) -> list[sa.Row]:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(module_runs).where(module_runs.c.sync_run_id == run_id).order_by(module_runs.c.position)
        ).all()


def claims(engine: sa.Engine, run_id: int) -> int:
    """How many times the run's modules were claimed so far (the sum of their fencing tokens)."""
    with engine.connect() as conn:
        total = conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(module_runs.c.lease_token), 0)).where(
                module_runs.c.sync_run_id == run_id
            )
        ).scalar()
    return int(total)


def counts_of(engine: sa.Engine, run_id: int) -> dict[str, dict[str, int]]:
    """module -> the record counters of its module run."""
    return {r.module: {k: int(getattr(r, k)) for k in COUNTS} for r in module_rows(engine, run_id)}


def run_statuses(engine: sa.Engine, integration_id: int) -> list[sa.Row]:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(sync_runs).where(sync_runs.c.integration_id == integration_id).order_by(sync_runs.c.id)
        ).all()


# --------------------------------------------------------------------------------------------- Books vs ground truth
@dataclass(frozen=True)
class BooksPicture:
    """What Books holds for the integration's organization, without ids (two runs of one world compare equal)."""

    contacts: Counter
    users: Counter
    projects: Counter
    tasks: Counter  # (project name, task name)
    time_entries: Counter  # (project name, task name, user email, date, minutes, notes)
    staff: Counter  # (project name, user email): users assigned to a Books project

    def doubled(self, reference: BooksPicture) -> dict[str, Counter]:
        """Records this picture holds more often than ``reference`` does (the generator seeds a few same-name
        tasks, so a name held twice is a duplicate only when the undisturbed run holds it once)."""
        found = {}
        for name in ("contacts", "users", "projects", "tasks", "time_entries", "staff"):
            mine, theirs = getattr(self, name), getattr(reference, name)
            extra = Counter({k: n - theirs[k] for k, n in mine.items() if theirs[k] and n > theirs[k]})
            if extra:
                found[name] = extra
        return found

    def records(self) -> int:
        """How many Books records (contacts, users, projects, tasks, time entries) the organization holds."""
        return sum(sum(getattr(self, n).values()) for n in ("contacts", "users", "projects", "tasks", "time_entries"))

    def diff(self, other: BooksPicture) -> dict[str, dict[str, Counter]]:
        out = {}
        for name in ("contacts", "users", "projects", "tasks", "time_entries", "staff"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine != theirs:
                out[name] = {"extra": mine - theirs, "missing": theirs - mine}
        return out


def books_picture(state: dict[str, Any], organization_id: str) -> BooksPicture:
    def of_org(key: str) -> list[dict[str, Any]]:
        return [r for r in state.get(key, []) if r.get("organization_id") == organization_id]

    projects = {p["project_id"]: p["project_name"] for p in of_org("books_projects")}
    tasks = {t["task_id"]: (projects.get(t["project_id"]), t["task_name"]) for t in of_org("books_tasks")}
    users = {u["user_id"]: (u.get("email") or "").lower() for u in of_org("books_users")}
    entries = Counter(
        (
            projects.get(e["project_id"]),
            tasks.get(e["task_id"], (None, None))[1],
            users.get(e["user_id"]),
            e["log_date"],
            e["minutes"],
            e.get("notes"),
        )
        for e in of_org("time_entries")
    )
    staff: Counter = Counter()
    for p in of_org("books_projects"):
        for user in p.get("users", []) or []:
            user_id = user.get("user_id") if isinstance(user, dict) else user
            staff[(p["project_name"], users.get(user_id, user_id))] += 1
    return BooksPicture(
        contacts=Counter((c["contact_name"], (c.get("email") or "").lower()) for c in of_org("contacts")),
        users=Counter((u.get("email") or "").lower() for u in of_org("books_users")),
        projects=Counter(projects.values()),
        tasks=Counter(tasks.values()),
        time_entries=entries,
        staff=staff,
    )


def books_posts(base_url: str) -> Counter:
    """Books POSTs per route template, from the sandbox's request log (every create is one POST)."""
    rows = requests.get(f"{base_url}/_sandbox/requests", timeout=10).json()["requests"]
    return Counter({r["path"]: r["count"] for r in rows if r["api"] == "books" and r["method"] == "POST"})


@contextlib.contextmanager
def processes() -> Iterator[list[subprocess.Popen | Forked]]:
    """A list to put started processes in; each is stopped (SIGKILL of its group at the latest) on the way out."""
    started: list[subprocess.Popen | Forked] = []
    try:
        yield started
    finally:
        for process in started:
            with contextlib.suppress(Exception):
                kill_group(process) if process.poll() is None else None
            with contextlib.suppress(Exception):
                stop(process)


def harness_summary(h: SyncHarness, run_id: int) -> str:
    rows = module_rows(h.engine, run_id)
    return "; ".join(
        f"{r.module}={r.status} token={r.lease_token} attempts={r.attempts} "
        + " ".join(f"{k}={getattr(r, k)}" for k in COUNTS)
        for r in rows
    )


# --------------------------------------------------------------------------------------------- lease audit
AUDIT_SQL = """
CREATE TABLE chaos_lease_audit (
    id bigserial PRIMARY KEY,
    module_run_id integer NOT NULL,
    sync_run_id integer NOT NULL,
    integration_id integer NOT NULL,
    old_status text, new_status text,
    old_token integer, new_token integer,
    old_lease_until timestamptz, new_lease_until timestamptz,
    claimed_at timestamptz,
    db_time timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE FUNCTION chaos_lease_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.lease_token IS DISTINCT FROM OLD.lease_token OR NEW.status IS DISTINCT FROM OLD.status THEN
        INSERT INTO chaos_lease_audit (module_run_id, sync_run_id, integration_id, old_status, new_status,
                                       old_token, new_token, old_lease_until, new_lease_until, claimed_at)
        VALUES (NEW.id, NEW.sync_run_id, NEW.integration_id, OLD.status, NEW.status,
                OLD.lease_token, NEW.lease_token, OLD.lease_until, NEW.lease_until, NEW.heartbeat_at);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER chaos_lease_audit BEFORE UPDATE ON module_runs FOR EACH ROW EXECUTE FUNCTION chaos_lease_audit();
"""
FINISHED = ("succeeded", "partial", "failed", "skipped")


def install_lease_audit(engine: sa.Engine) -> None:
    """A trigger that writes every claim (fencing token change) and status change of a module run to a table.

    Test-only: the product never reads it. With it the tests assert on the tables that no module was ever held by
    two workers at once: a claim only takes a lease that had lapsed or been given back.
    """
    with engine.begin() as conn:
        conn.exec_driver_sql(AUDIT_SQL)


def lease_audit(engine: sa.Engine) -> list[sa.Row]:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT * FROM chaos_lease_audit ORDER BY id")).all()


def lease_violations(engine: sa.Engine) -> list[str]:
    """Claims that took a live lease, tokens that skipped or went back, finished modules that changed again."""
    problems = []
    for row in lease_audit(engine):
        if row.new_token != row.old_token:
            if row.new_token != row.old_token + 1:
                problems.append(f"token jumped {row.old_token} -> {row.new_token}: {row._mapping}")
            if row.old_lease_until is not None and row.old_lease_until > row.claimed_at:
                problems.append(f"claimed while another lease was live: {row._mapping}")
            if row.new_lease_until is None:
                problems.append(f"a claim without a lease: {row._mapping}")
        if row.old_status in FINISHED and row.new_status != row.old_status:
            problems.append(f"a finished module changed again: {row._mapping}")
    return problems


SCHEDULE_AUDIT_SQL = """
CREATE TABLE chaos_schedule_audit (
    id bigserial PRIMARY KEY,
    integration_id integer NOT NULL,
    old_next_run_at timestamptz, new_next_run_at timestamptz,
    db_time timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE FUNCTION chaos_schedule_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.next_run_at IS DISTINCT FROM OLD.next_run_at THEN
        INSERT INTO chaos_schedule_audit (integration_id, old_next_run_at, new_next_run_at)
        VALUES (NEW.id, OLD.next_run_at, NEW.next_run_at);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER chaos_schedule_audit BEFORE UPDATE ON integrations FOR EACH ROW EXECUTE FUNCTION chaos_schedule_audit();
"""


def install_schedule_audit(engine: sa.Engine) -> None:
    """A trigger that writes every move of an integration's next_run_at: each is one beat dispatch of a slot.

    Test-only. How many runs carry the trigger "beat" depends on how long runs take (a beat slot that meets a
    running sync coalesces into it or into its queued follow-up); how many slots the beats dispatched does not.
    """
    with engine.begin() as conn:
        conn.exec_driver_sql(SCHEDULE_AUDIT_SQL)


def schedule_audit(engine: sa.Engine) -> list[sa.Row]:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT * FROM chaos_schedule_audit ORDER BY id")).all()


def claim_count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(sa.text("SELECT count(*) FROM chaos_lease_audit WHERE new_token <> old_token")).scalar()
        )


# --------------------------------------------------------------------------------------------- a stalled link commit
STALL_SQL = """
CREATE SEQUENCE chaos_stall_seq;
CREATE TABLE chaos_stall (armed_upto bigint NOT NULL, seconds double precision NOT NULL, entity_type text);
INSERT INTO chaos_stall VALUES (0, 0, NULL);
CREATE FUNCTION chaos_stall() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    armed record;
BEGIN
    SELECT * INTO armed FROM chaos_stall;
    IF armed.entity_type IS NULL OR armed.entity_type = NEW.entity_type THEN
        IF nextval('chaos_stall_seq') <= armed.armed_upto THEN
            PERFORM pg_sleep(armed.seconds);
        END IF;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER chaos_stall BEFORE UPDATE ON entity_links FOR EACH ROW
    WHEN (OLD.state = 'pending' AND NEW.state = 'linked') EXECUTE FUNCTION chaos_stall();
"""


class LinkStall:
    """Stalls the next commit of a link after its Books create (test-only trigger), so a kill can land between
    Zoho's write and the link that records it: the Books record exists, the link stays pending."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.armed_upto = 0
        with engine.begin() as conn:
            conn.exec_driver_sql(STALL_SQL)

    def arm(self, seconds: float, entity_type: str | None = None) -> None:
        """Stall the next link completion (of ``entity_type``, or any) for ``seconds``."""
        # sequences ignore rollbacks: a stall whose transaction dies with its worker is still used up
        with self.engine.begin() as conn:
            self.armed_upto = int(conn.execute(sa.text("SELECT nextval('chaos_stall_seq')")).scalar()) + 1
            conn.execute(
                sa.text("UPDATE chaos_stall SET armed_upto = :n, seconds = :s, entity_type = :t"),
                {"n": self.armed_upto, "s": seconds, "t": entity_type},
            )

    def fired(self) -> bool:
        with self.engine.connect() as conn:
            row = conn.execute(sa.text("SELECT last_value, is_called FROM chaos_stall_seq")).one()
        return row.is_called and row.last_value >= self.armed_upto

    def disarm(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text("UPDATE chaos_stall SET armed_upto = 0"))


# --------------------------------------------------------------------------------------------- Books vs the sandbox
def books_mismatches(h: SyncHarness) -> list[str]:
    """Where Books differs from the sandbox's ground truth after a full sync: each synced project once, each of its
    tasks and bugs once as a Books task, each qualifying time log once as a time entry (empty when it matches)."""
    from tests.worker.timesheet_expectation import Expectation

    state = h.state()
    organization = credentials(h.sandbox.world)["organization_id"]
    problems = []
    projects = Counter(p["project_name"] for p in state["books_projects"] if p["organization_id"] == organization)
    doubled = {name: n for name, n in projects.items() if n > 1}
    if doubled:
        problems.append(f"projects in Books more than once: {doubled}")
    source_of = {p["name"]: p["id"] for p in state["projects"]}
    books_tasks = Counter(
        (t["project_id"], t["task_name"]) for t in state["books_tasks"] if t["organization_id"] == organization
    )
    expected: Counter = Counter()
    for project in state["books_projects"]:
        if project["organization_id"] != organization:
            continue
        source = source_of[project["project_name"]]
        expected.update((project["project_id"], t["name"]) for t in state["tasks"] if t["project_id"] == source)
        expected.update(
            (project["project_id"], f"{b['key']}: {b['title']}") for b in state["bugs"] if b["project_id"] == source
        )
    if books_tasks != expected:
        problems.append(f"Books tasks: extra {books_tasks - expected}, missing {expected - books_tasks}")
    integration = h.integration
    expect = Expectation(h, general=integration.general_timesheets, cutoff=integration.timesheet_cutoff_date)
    entries = Counter(expect.entry_key(e) for e in expect.entries)
    wanted = Counter(expect.key(x) for x in expect.written())
    if entries != wanted:
        problems.append(f"time entries: extra {entries - wanted}, missing {wanted - entries}")
    return problems
