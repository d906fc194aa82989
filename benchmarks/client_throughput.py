"""Requests/second through the Zoho clients against the sandbox, and what the global limiter costs per call.

    .venv/bin/python -m benchmarks.client_throughput [--calls 2000] [--redis redis://127.0.0.1:6379/15]

Runs a ``small`` sandbox with rate limits off and makes the same cheap Books call (``GET /settings/currencies``,
per_page=1) through a ``BooksClient``: without a limiter, with the in-process limiter, and with the Redis
limiter (the production setup). Then times the limiter alone (acquire + settle = 2 Redis round trips, one Lua
script each). Prints the rows and appends one dated row to benchmarks/RESULTS.md (``--no-record`` to skip).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import time
from pathlib import Path
from types import SimpleNamespace

import redis as redis_lib

from sandbox.config import SandboxConfig
from sandbox.generator import credentials
from sandbox.limits import preset
from sandbox.server import SandboxServer
from shared.zoho import Limit, RateLimiter, ZohoCredentials, build_books_client
from shared.zoho.factory import reset_embedded_state
from shared.zoho.ratelimit import MemoryLimiterBackend, RedisLimiterBackend

RESULTS = Path(__file__).with_name("RESULTS.md")
SECTION = "## Zoho client throughput (`benchmarks/client_throughput.py`)"
HEADER = (
    "| date | machine | calls | no limiter req/s | in-process limiter req/s | Redis limiter req/s "
    "| p50 ms (Redis) | limiter alone µs (memory / Redis) |\n|---|---|---|---|---|---|---|---|"
)
HUGE = 10**9  # limits that never bind: we measure bookkeeping, not waiting
PREFIX = f"bpsync-bench-{os.getpid()}"  # keys of its own: tests may share this Redis


def settings(base_url: str, *, limits: bool) -> SimpleNamespace:
    return SimpleNamespace(
        data_center="US",
        projects_api_url=base_url,
        books_api_url=base_url + "/books/v3",
        accounts_url=base_url,
        http_timeout_seconds=10,
        books_requests_per_minute=HUGE,
        books_daily_limit=HUGE,
        rate_limits_enabled=limits,
        redis_key_prefix=PREFIX,
    )


def run_calls(sb: SandboxServer, calls: int, *, limits: bool, redis: redis_lib.Redis | None) -> tuple[float, float]:
    c = credentials(sb.world)
    creds = ZohoCredentials(c["client_id"], c["client_secret"], c["admin"]["refresh_token"])
    client = build_books_client(settings(sb.base_url, limits=limits), creds, c["organization_id"], redis=redis)
    client.call("GET", "/settings/currencies", params={"per_page": 1})  # token + connection warm-up
    latencies = []
    started = time.perf_counter()
    for _ in range(calls):
        t0 = time.perf_counter()
        client.call("GET", "/settings/currencies", params={"per_page": 1})
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    return calls / elapsed, statistics.median(latencies) * 1000


def limiter_alone(limiter: RateLimiter, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        limiter.settle(limiter.acquire("bench:limiter"))
    return (time.perf_counter() - started) / n * 1e6


def record(row: str) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if SECTION not in text:
        RESULTS.write_text(text.rstrip("\n") + f"\n\n{SECTION}\n\n{HEADER}\n{row}\n")
        return
    # append the row at the end of this section's table; other sections stay untouched
    lines = text.split("\n")
    start = lines.index(SECTION)
    end = start + 1
    while end < len(lines) and not (lines[end].startswith("## ") and end > start):
        end += 1
    last_row = max(i for i in range(start, end) if lines[i].startswith("|"))
    lines.insert(last_row + 1, row)
    RESULTS.write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--redis", default=os.environ.get("BPSYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    redis = redis_lib.Redis.from_url(args.redis)
    redis.ping()
    with SandboxServer(size="small", config=SandboxConfig(rate_limits=preset("off"))) as sb:
        for org in sb.world.organizations.values():
            org.daily_limit = HUGE  # the runs together exceed a plan's daily quota; we measure speed here
        plain, _ = run_calls(sb, args.calls, limits=False, redis=None)
        reset_embedded_state()
        memory, _ = run_calls(sb, args.calls, limits=True, redis=None)
        with_redis, p50 = run_calls(sb, args.calls, limits=True, redis=redis)
    limits = [Limit(HUGE, 60.0), Limit(HUGE, 86400.0, daily=True)]
    memory_us = limiter_alone(RateLimiter(MemoryLimiterBackend(), limits), args.calls)
    redis_us = limiter_alone(RateLimiter(RedisLimiterBackend(redis), limits), args.calls)
    redis.delete(
        "bpsync:zoho:limit:bench:limiter:1000000000/60000", "bpsync:zoho:limit:bench:limiter:1000000000/86400000"
    )
    machine = f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}"
    row = (
        f"| {dt.date.today().isoformat()} | {machine} | {args.calls} | {plain:.0f} | {memory:.0f} | {with_redis:.0f} "
        f"| {p50:.2f} | {memory_us:.0f} / {redis_us:.0f} |"
    )
    print(HEADER)
    print(row)
    if not args.no_record:
        record(row)


if __name__ == "__main__":
    main()
