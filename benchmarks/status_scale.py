"""Status, history, errors and /metrics at many tenants (issue 19 benchmark), run by hand, never in tests:

    .venv/bin/python -m benchmarks.status_scale                  # small: 100 integrations, 8k runs
    .venv/bin/python -m benchmarks.status_scale --size medium    # 300 integrations, 50k runs, 218k module runs
    .venv/bin/python -m benchmarks.status_scale --size full      # the issue's shape: 1,000 integrations, 167k runs
    .venv/bin/python -m benchmarks.status_scale --size medium --results   # also add the run to RESULTS.md

Shape per integration, as the issue measured it (scaled by --size): ~167 sync runs of 6 module runs each (a
third of them instant polls of timesheets that wrote nothing), 200 sync errors (half open), 2,000 links. Badges
are mixed: some integrations run now (a module running, the rest queued), some failed last, some are disabled
or waiting for quota, one never ran. The rows are written with SQL at schema revision 0005, then
``bpsync db upgrade`` runs the migrations from 0006 (the backfill of module_states is timed too).

Measured (p50/p95 over --repeat calls): the JSON API and pages in-process (Starlette's TestClient, no network),
the CLI as subprocesses (``bpsync`` start-up included), /metrics with its size, and one retention pass (the
deleting happens last, on a copy of nothing: it runs on the same database after everything else).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from shared.db import engine as dbengine

ROOT = Path(__file__).resolve().parent.parent
BENCH_POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
TOKEN = "status-scale-bench-token-0123456789"
MODULES = ("users", "clients", "projects", "tasks", "bugs", "timesheets")
# integrations, sync runs per integration, sync errors and links per integration
SIZES = {
    "tiny": (20, 30, 40, 200),
    "small": (100, 80, 200, 2000),
    "medium": (300, 167, 200, 2000),
    "full": (1000, 167, 200, 2000),
}


# --------------------------------------------------------------------------------------------- seeding
def seed(conn: sa.Connection, integrations: int, runs: int, errors: int, links: int) -> None:
    """Rows like a deployment's after months: integration i's runs are a day apart, the newest today."""
    p = {"n": integrations, "r": runs, "e": errors, "l": links}
    statements = [
        # every 50th disabled, every 7th paused for quota; the last one never ran (no runs below)
        """INSERT INTO integrations (id, name, books_organization_id, projects_portal_id, data_center, credentials,
             contact_duplication, general_timesheets, sync_interval_seconds, state, paused_until, paused_reason,
             connected_at, next_run_at, created_at, updated_at)
           SELECT i, 'tenant-' || lpad(i::text, 5, '0'), 'org-' || i, 'portal-' || i, 'US', 'sealed', 'merge', false,
             86400, CASE WHEN i % 50 = 0 THEN 'disabled' ELSE 'active' END,
             CASE WHEN i % 7 = 0 THEN now() + interval '20 minutes' END,
             CASE WHEN i % 7 = 0 THEN 'Books daily quota' END,
             now() - interval '400 days', now() + interval '3 hours', now(), now()
           FROM generate_series(1, :n + 1) i""",
        # sync run id = (i - 1) * r + k; the newest (k = r) of every 10th integration is still running;
        # every 3rd run is an instant poll of timesheets
        """INSERT INTO sync_runs (id, integration_id, trigger, modules, status, requested_at, started_at,
             finished_at, error)
           SELECT (i - 1) * :r + k, i, CASE WHEN k % 3 = 0 THEN 'instant' ELSE 'beat' END,
             CASE WHEN k % 3 = 0 THEN '["timesheets"]' ELSE
               '["users","clients","projects","tasks","bugs","timesheets"]' END::json,
             CASE WHEN k = :r AND i % 10 = 0 THEN 'running'
                  WHEN k = :r AND i % 10 = 3 THEN 'failed'
                  WHEN k % 3 = 0 THEN 'succeeded' ELSE 'partial' END,
             now() - (:r - k) * interval '1 day' - interval '2 hours',
             now() - (:r - k) * interval '1 day' - interval '2 hours',
             CASE WHEN k = :r AND i % 10 = 0 THEN NULL
                  ELSE now() - (:r - k) * interval '1 day' - interval '1 hour' END,
             NULL
           FROM generate_series(1, :n) i, generate_series(1, :r) k""",
        # 6 module runs per full run, 1 per poll (positions as a run orders them)
        """INSERT INTO module_runs (sync_run_id, integration_id, module, position, status, fetched, created,
             updated, unchanged, skipped, failed, blocked, api_calls, projects_calls, books_calls, throttled_calls,
             attempts, error, started_at, finished_at, heartbeat_at, lease_until)
           SELECT r.id, r.integration_id, m.module, m.position,
             CASE WHEN r.status = 'running' THEN
                    CASE WHEN m.position < 2 THEN 'succeeded' WHEN m.position = 2 THEN 'running' ELSE 'queued' END
                  WHEN r.status = 'failed' AND m.module = 'projects' THEN 'failed'
                  WHEN r.status = 'partial' AND m.module = 'projects' THEN 'partial'
                  ELSE 'succeeded' END,
             40, CASE WHEN r.trigger = 'instant' THEN 0 ELSE 2 END, 3, 35, 0,
             CASE WHEN r.status = 'partial' AND m.module = 'projects' THEN 2 ELSE 0 END, 0, 12, 7, 5, 0, 0,
             CASE WHEN r.status = 'failed' AND m.module = 'projects' THEN 'Books said no' END,
             r.started_at, CASE WHEN r.status = 'running' AND m.position >= 2 THEN NULL ELSE r.finished_at END,
             now(), CASE WHEN r.status = 'running' AND m.position = 2 THEN now() + interval '1 minute' END
           FROM sync_runs r
           JOIN (VALUES ('users', 0), ('clients', 1), ('projects', 2), ('tasks', 3), ('bugs', 4), ('timesheets', 5))
             AS m(module, position) ON r.trigger = 'beat' OR m.module = 'timesheets'
           ORDER BY r.id, m.position""",
        """INSERT INTO sync_errors (integration_id, module, entity_type, source_id, source_name, reason_code,
             message, hint, attempts, first_seen_at, last_seen_at, resolved_at)
           SELECT i, CASE WHEN e % 2 = 0 THEN 'projects' ELSE 'tasks' END,
             CASE WHEN e % 2 = 0 THEN 'project' ELSE 'task' END, 'src-' || e, 'Record ' || e,
             CASE WHEN e % 2 = 0 THEN 'no_primary_client' ELSE 'parent_failed' END,
             'the project has no primary client', 'give the project a client in Zoho Projects', 1,
             now() - interval '30 days', now(), CASE WHEN e % 4 >= 2 THEN now() END
           FROM generate_series(1, :n) i, generate_series(1, :e) e""",
        """INSERT INTO entity_links (integration_id, entity_type, projects_id, books_id, state, fingerprint,
             created_at, last_synced_at)
           SELECT i, CASE WHEN l % 10 = 0 THEN 'project' ELSE 'task' END, 'p-' || l, 'b-' || l, 'linked',
             md5(l::text), now(), now()
           FROM generate_series(1, :n) i, generate_series(1, :l) l""",
    ]
    for statement in statements:
        conn.execute(sa.text(statement), p)
    for table in ("integrations", "sync_runs", "module_runs", "sync_errors", "entity_links"):
        conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    conn.execute(sa.text("ANALYZE"))


# --------------------------------------------------------------------------------------------- timing
def timed(call: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    call()  # warm: connection pool, template cache
    samples, last = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        last = call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples, last


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cli(env: dict[str, str], cpu: list[float], *args: str) -> Callable[[], subprocess.CompletedProcess[bytes]]:
    """A run of ``bpsync ARGS``; ``cpu`` gets each run's CPU time (user + system, ms): what the command costs
    whatever else shares the cores, which wall time on a busy machine does not show."""
    bpsync = str(Path(sys.executable).parent / "bpsync")

    def run() -> subprocess.CompletedProcess[bytes]:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run([bpsync, *args], env=env, capture_output=True, timeout=120)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
        if done.returncode != 0:
            raise RuntimeError(f"bpsync {' '.join(args)}: {done.stderr.decode()[-500:]}")
        return done

    return run


def measure(
    url: str, integrations: int, repeat: int, cli_repeat: int, only: str | None = None, compiled: bool = True
) -> list[tuple[str, float, float, str]]:
    from starlette.testclient import TestClient

    from scheduler.web.app import create_web_app
    from shared.config import load_settings
    from shared.crypto import new_key

    settings = load_settings(database_url=url, secret_key=new_key(), web_token=TOKEN)
    one, idle = "tenant-00001", f"tenant-{integrations + 1:05d}"
    rows: list[tuple[str, float, float, str]] = []

    def add(name: str, samples: list[float], note: str = "") -> None:
        rows.append((name, pct(samples, 0.5), pct(samples, 0.95), note))
        print(f"{name:55s} p50 {rows[-1][1]:8.1f} ms  p95 {rows[-1][2]:8.1f} ms  {note}", flush=True)

    with TestClient(create_web_app(settings), headers={"Authorization": f"Bearer {TOKEN}"}) as client:

        def get(path: str) -> Callable[[], Any]:
            def call() -> Any:
                answer = client.get(path)
                assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
                return answer

            return call

        for name, path in (
            ("GET /api/integrations (first page, 100)", "/api/integrations"),
            ("GET /api/integrations?badge=failed", "/api/integrations?badge=failed"),
            ("GET /api/integrations?name=tenant-0099", "/api/integrations?name=tenant-0099"),
            ("GET /api/integrations?limit=1000 (all, up to 1,000)", "/api/integrations?limit=1000"),
            ("/integrations page (50)", "/integrations"),
            ("/integrations?badge=in_progress page", "/integrations?badge=in_progress"),
            (f"GET /api/integrations/{one}", f"/api/integrations/{one}"),
            (f"/integrations/{one} page", f"/integrations/{one}"),
            ("GET /api/integrations/{one}/history", f"/api/integrations/{one}/history"),
            ("GET /api/integrations/{one}/history?module=tasks", f"/api/integrations/{one}/history?module=tasks"),
            ("GET /api/integrations/{idle}/history (no runs)", f"/api/integrations/{idle}/history"),
            (f"/integrations/{one}/history page", f"/integrations/{one}/history"),
            ("GET /api/integrations/{one}/errors", f"/api/integrations/{one}/errors"),
            (f"/integrations/{one}/errors page", f"/integrations/{one}/errors"),
            ("GET /metrics", "/metrics"),
        ):
            if only and only not in name:
                continue
            samples, answer = timed(get(path), repeat)
            note = f"{len(answer.content) / 1024:.0f} KiB"
            if path == "/metrics":
                lines = [line for line in answer.text.splitlines() if line and not line.startswith("#")]
                note += f", {len(lines)} samples"
            add(name, samples, note)

    env = {**os.environ, "BPSYNC_DATABASE_URL": url, "BPSYNC_SECRET_KEY": settings.secret_key or ""}
    if compiled:
        # as an installed bpsync starts (pip compiles its modules when it installs them): the byte-code written by
        # each command's warm-up run, in a folder of its own, so a PYTHONDONTWRITEBYTECODE in the caller's
        # environment does not make every run compile the project's modules again (~20 ms of a status)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="status-scale-pycache-")
    for name, args in (
        ("bpsync --version", ("--version",)),
        ("bpsync status --json (all)", ("status", "--json")),
        ("bpsync status --badge failed --json", ("status", "--badge", "failed", "--json")),
        ("bpsync status --limit 50 (text)", ("status", "--limit", "50")),
        (f"bpsync status {one} --json", ("status", one, "--json")),
        (f"bpsync history {one} --json", ("history", one, "--json")),
        (f"bpsync errors {one} --json", ("errors", one, "--json")),
    ):
        if only and only not in name:
            continue
        cpu: list[float] = []
        samples, _ = timed(cli(env, cpu, *args), cli_repeat)
        add(name, samples, f"CPU p50 {pct(cpu[1:], 0.5):.0f} ms")  # the first run warms the caches
    if compiled:
        shutil.rmtree(env["PYTHONPYCACHEPREFIX"], ignore_errors=True)
    return rows


def retention_pass(url: str) -> str:
    from shared.db.retention import Retention, prune_batch

    engine = dbengine.make_engine(url)
    policy = Retention(days=90, idle_hours=24, keep_runs=20)
    batches, deleted, worst = 0, 0, 0.0
    start = time.perf_counter()
    while batches < 400:
        t0 = time.perf_counter()
        done = prune_batch(engine, policy)
        worst = max(worst, time.perf_counter() - t0)
        batches, deleted = batches + 1, deleted + done
        if not done:
            break
    total = time.perf_counter() - start
    engine.dispose()
    return (
        f"retention (90 days, idle polls 24 h, keep 20): {deleted} sync runs deleted in {batches} batches of up to "
        f"500, {total:.1f} s in all, longest batch {worst * 1000:.0f} ms"
    )


# --------------------------------------------------------------------------------------------- main
def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    mem = next(
        (
            int(line.split()[1]) // 1024 // 1024
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        0,
    )
    load = os.getloadavg()[0]
    return f"`nproc` {os.cpu_count()}, {cpu}, {mem} GiB, CPython {platform.python_version()}, load average {load:.1f}"


def commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def write_results(size: str, shape: str, rows: list[tuple[str, float, float, str]], notes: list[str]) -> None:
    path = ROOT / "benchmarks" / "RESULTS.md"
    text = path.read_text()
    marker = "## Status at many tenants (`benchmarks/status_scale.py`, issue 19)"
    table = ["| what | p50 ms | p95 ms | note |", "|---|---|---|---|"]
    table += [f"| {name} | {p50:.1f} | {p95:.1f} | {note} |" for name, p50, p95, note in rows]
    run = [
        f"### `--size {size}`: {shape}",
        "",
        f"{dt.date.today().isoformat()}, commit {commit()}; {machine()}; PostgreSQL on the same machine.",
        "",
        *table,
        "",
        *(f"- {n}" for n in notes),
        "",
    ]
    if marker in text:  # newest first: before the section's first run, after its introduction
        head, rest = text.split(marker, 1)
        cut = rest.find("\n### ")
        cut = cut + 1 if cut != -1 else len(rest)
        text = head + marker + rest[:cut] + "\n".join(run) + "\n" + rest[cut:]
    else:
        first = text.index("\n## ")
        intro = [
            marker,
            "",
            "`.venv/bin/python -m benchmarks.status_scale --size SIZE --results`: rows seeded with SQL at revision "
            "0005, migration 0006 timed, then the API and pages in-process (TestClient), the CLI as subprocesses "
            "(start-up included) and /metrics; goals from the issue: paginated API ≤ 50 ms, page ≤ 100 ms, "
            "`status --json` (all) ≤ 300 ms, `--version` ≤ 150 ms, /metrics ≤ 100 ms, an idle tenant's history "
            "≤ 10 ms, one integration's status kept (~5 ms). Newest first.",
            "",
        ]
        text = text[:first] + "\n" + "\n".join(intro + run) + text[first:]
    path.write_text(text)


def table_counts(url: str) -> dict[str, int]:
    engine = dbengine.make_engine(url)
    with engine.connect() as conn:
        counts = {
            t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("integrations", "sync_runs", "module_runs", "sync_errors", "entity_links")
        }
    engine.dispose()
    return counts


def measured(args: argparse.Namespace, url: str) -> list[tuple[str, float, float, str]]:
    """``measure`` --runs times; per row the median of the runs' p50s and p95s (a shared machine's noise)."""
    runs = [
        measure(url, SIZES[args.size][0], args.repeat, args.cli_repeat, args.only, not args.compile_each_run)
        for _ in range(args.runs)
    ]
    if len(runs) == 1:
        return runs[0]
    rows = []
    for same in zip(*runs, strict=True):
        p95s = ", ".join(f"{r[2]:.0f}" for r in same)
        note = f"{same[-1][3]}; p95 of each run: {p95s}".lstrip("; ")
        rows.append((same[0][0], statistics.median(r[1] for r in same), statistics.median(r[2] for r in same), note))
        print(f"{rows[-1][0]:55s} median p50 {rows[-1][1]:8.1f} ms  p95 {rows[-1][2]:8.1f} ms  {note}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=SIZES, default="small")
    parser.add_argument("--repeat", type=int, default=30, help="calls per endpoint")
    parser.add_argument("--cli-repeat", type=int, default=10, help="runs per command")
    parser.add_argument("--results", action="store_true", help="prepend the results to benchmarks/RESULTS.md")
    parser.add_argument("--keep", action="store_true", help="keep the database (its URL is printed; no retention pass)")
    parser.add_argument("--database", default=None, help="measure a database a --keep run left (no seeding)")
    parser.add_argument("--only", default=None, help="measure only the rows whose name contains this")
    parser.add_argument("--runs", type=int, default=1, help="measure N times; each row's median p50 and p95")
    parser.add_argument(
        "--compile-each-run",
        action="store_true",
        help="run the CLI with the caller's byte-code setting (PYTHONDONTWRITEBYTECODE=1: every run compiles)",
    )
    args = parser.parse_args()
    if args.database:
        rows = measured(args, args.database)
        if args.results:
            shape = ", ".join(f"{n:,} {t.replace('_', ' ')}" for t, n in table_counts(args.database).items())
            write_results(args.size, shape, rows, [f"measured {args.runs} times on a database a --keep run seeded"])
        return
    integrations, runs, errors, links = SIZES[args.size]
    name = f"bpsync_status_scale_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(BENCH_POSTGRES_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = BENCH_POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        dbengine.upgrade(url, "0005")
        engine = dbengine.make_engine(url)
        start = time.perf_counter()
        with engine.begin() as conn:
            seed(conn, integrations, runs, errors, links)
        seeded = time.perf_counter() - start
        engine.dispose()
        counts = table_counts(url)
        start = time.perf_counter()
        dbengine.upgrade(url)
        migrated = time.perf_counter() - start
        # as autovacuum leaves it: the backfill's updates left four dead rows per module_states row
        vacuum = sa.create_engine(dbengine.normalize_url(url), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with vacuum.connect() as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
        vacuum.dispose()
        shape = ", ".join(f"{n:,} {t.replace('_', ' ')}" for t, n in counts.items())
        print(f"{shape}; seeded in {seeded:.1f} s, migrations from 0006 in {migrated:.1f} s", flush=True)
        rows = measured(args, url)
        notes = [f"seeded in {seeded:.0f} s; migrations from 0006 (indexes, module_states backfill): {migrated:.1f} s"]
        if not args.keep:  # it deletes a third of the runs: a kept database keeps the shape
            notes.append(retention_pass(url))
            print(notes[-1])
        if args.results:
            write_results(args.size, shape, rows, notes)
    finally:
        if args.keep:
            print(f"kept: {url}")
        else:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
