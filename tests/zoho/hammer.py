"""Worker-process body for the rate-limit tests (importable, so ``spawn`` processes can run it)."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import redis as redis_lib

from shared.zoho import RateLimited, ZohoCredentials, build_books_client


def hammer_books(job: dict[str, Any]) -> dict[str, int]:
    """Call one Books organization as fast as the shared limiter allows until ``job['until']``."""
    settings = SimpleNamespace(
        data_center="US",
        projects_api_url=job["base_url"],
        books_api_url=job["base_url"] + "/books/v3",
        accounts_url=job["base_url"],
        http_timeout_seconds=10,
        books_requests_per_minute=job["limit"],
        books_window_seconds=job["window"],
        books_daily_limit=100_000,
        max_inline_wait_seconds=job["window"] * 2,
        redis_key_prefix=job["prefix"],
    )
    creds = ZohoCredentials(job["client_id"], job["client_secret"], job["refresh_token"])
    redis = redis_lib.Redis.from_url(job["redis_url"])
    client = build_books_client(settings, creds, job["org_id"], redis=redis)
    done = {"ok": 0, "throttled_by_zoho": 0, "refused_locally": 0}
    while time.time() < job["start"]:
        time.sleep(0.001)
    while time.time() < job["until"]:
        try:
            client.call("GET", "/settings/currencies", params={"per_page": 1})
            done["ok"] += 1
        except RateLimited as exc:
            done["throttled_by_zoho" if exc.status == 429 else "refused_locally"] += 1
    redis.close()
    return done
