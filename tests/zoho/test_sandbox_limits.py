"""Global rate limiting across worker PROCESSES sharing Redis, against the sandbox's own enforcement.

The sandbox runs the ``fast`` preset (Books: 100 calls per rolling 1 s per organization, 429 beyond), and
the product's limiter is configured to exactly that budget: zero 429s proves the limiter never lets Zoho
see more than the limit in any window, whatever the processes' timing.
"""

from __future__ import annotations

import multiprocessing
import time
import uuid

import pytest
import requests

from sandbox.config import SandboxConfig
from sandbox.generator import credentials
from sandbox.limits import preset
from tests.zoho.hammer import hammer_books

pytestmark = [pytest.mark.redis, pytest.mark.slow]

LIMIT, WINDOW, SECONDS = 100, 1.0, 2.5


def jobs(sb, redis_url: str, org_ids: list[str], per_org: int) -> list[dict]:
    c = credentials(sb.world)
    prefix = f"bpsync-test-{uuid.uuid4().hex[:8]}"  # shared by this test's processes only
    start = time.time() + 3.0  # let every spawned process import and get ready before the clock starts
    return [
        {
            "base_url": sb.base_url,
            "client_id": c["client_id"],
            "client_secret": c["client_secret"],
            "refresh_token": c["admin"]["refresh_token"],
            "redis_url": redis_url,
            "org_id": org,
            "limit": LIMIT,
            "window": WINDOW,
            "prefix": prefix,
            "start": start,
            "until": start + SECONDS,
        }
        for org in org_ids
        for _ in range(per_org)
    ]


def run(job_list: list[dict]) -> list[dict[str, int]]:
    with multiprocessing.get_context("spawn").Pool(len(job_list)) as pool:
        return pool.map(hammer_books, job_list)


def sandbox_statuses(sb) -> dict:
    return requests.get(sb.base_url + "/_sandbox/requests", timeout=5).json()


def test_processes_sharing_redis_never_get_a_429(sandbox_factory, redis_url: str) -> None:
    sb = sandbox_factory(config=SandboxConfig(rate_limits=preset("fast")))
    org = credentials(sb.world)["organization_id"]
    results = run(jobs(sb, redis_url, [org], per_org=4))
    ok = sum(r["ok"] for r in results)
    counts = sandbox_statuses(sb)
    assert counts["throttled"] == 0, counts["statuses"]
    assert sum(r["throttled_by_zoho"] for r in results) == 0
    # the processes pushed past one window's budget (so the limiter had to hold them back), and never beyond
    # what the windows allow; how far past depends on the machine's load, so no throughput is asserted
    assert LIMIT < ok <= LIMIT * (SECONDS / WINDOW + 1)


def test_two_organizations_do_not_share_a_budget(sandbox_factory, redis_url: str) -> None:
    """Books counts per organization: clients of two organizations each get the whole window.

    Checked on the shared Redis limiter itself rather than by throughput (a timed count fails on a loaded
    machine): within one window, each organization's client takes LIMIT permits, and the next one is refused."""
    import redis as redis_lib

    from shared.zoho import ZohoCredentials, build_books_client
    from shared.zoho.errors import RateLimited
    from tests.zoho.conftest import settings_for

    sb = sandbox_factory(config=SandboxConfig(rate_limits=preset("fast")))
    c = credentials(sb.world)
    orgs = c["organization_ids"][:2]
    assert len(orgs) == 2
    settings = settings_for(sb, books_requests_per_minute=LIMIT, books_window_seconds=60.0, max_inline_wait_seconds=0)
    creds = ZohoCredentials(c["client_id"], c["client_secret"], c["admin"]["refresh_token"])
    shared_redis = redis_lib.Redis.from_url(redis_url)
    clients = [build_books_client(settings, creds, org, redis=shared_redis) for org in orgs]
    for client in clients:
        limiter, key = client.http.limiter, client.http.limit_key
        assert limiter is not None
        for _ in range(LIMIT):
            limiter.settle(limiter.acquire(key))  # a whole minute's budget, at once
        with pytest.raises(RateLimited):
            limiter.acquire(key)  # ...and not one call more for this organization
    assert len({client.http.limit_key for client in clients}) == 2
