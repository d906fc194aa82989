"""Fixtures of the chaos suite: the undisturbed reference run each fault-injected run must end up identical to."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import requests
import sqlalchemy as sa

from sandbox.config import SandboxConfig
from sandbox.generator import credentials
from sandbox.limits import preset
from sandbox.server import SandboxServer
from shared.db.integrations import update_integration
from tests.chaos.support import BooksPicture, books_picture, books_posts, counts_of, module_rows
from tests.conftest import FAST_COMMITS
from tests.sync_support import sync_harness


@dataclass(frozen=True)
class Reference:
    """A full sync of a fresh world of ``size`` (seed 1) with no fault: what Books holds and what the run counted."""

    size: str
    status: str
    module_statuses: dict[str, str]
    counts: dict[str, dict[str, int]]  # module -> fetched, created, updated, unchanged, skipped, failed, blocked
    picture: BooksPicture
    posts: Counter  # Books POSTs per route
    books_created: int  # records the run added to Books, from the ground truth (after minus before)
    requests: int  # every request the sandbox served
    calls: dict[str, int]  # module -> its Zoho calls, in run order
    seconds: float

    @property
    def created(self) -> int:
        return sum(c["created"] for c in self.counts.values())


def sandbox_requests(base_url: str) -> int:
    rows = requests.get(f"{base_url}/_sandbox/requests", timeout=10).json()["requests"]
    return sum(r["count"] for r in rows)


@pytest.fixture(scope="session")
def reference(pg_admin_engine: sa.Engine) -> Iterator[Callable[[str], Reference]]:
    """``reference(size)``: the reference run of that world, made once per session (in-process worker)."""
    made: dict[str, Reference] = {}
    databases: list[str] = []

    def get(size: str) -> Reference:
        if size in made:
            return made[size]
        name = f"bpsync_t_{uuid.uuid4().hex[:12]}"
        with pg_admin_engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            conn.execute(sa.text(FAST_COMMITS.format(name=name)))
        databases.append(name)
        url = pg_admin_engine.url.set(database=name).render_as_string(hide_password=False)
        sandbox = SandboxServer(config=SandboxConfig(rate_limits=preset("off")), size=size).start()
        try:
            with sync_harness(sandbox, url) as h:
                organization = credentials(sandbox.world)["organization_id"]
                before = books_picture(h.state(), organization).records()
                started = time.monotonic()
                run = h.sync(timeout=180)
                seconds = time.monotonic() - started
                picture = books_picture(h.state(), organization)
                made[size] = Reference(
                    size=size,
                    status=run.status,
                    module_statuses={m: r.status for m, r in run.modules.items()},
                    counts=counts_of(h.engine, run.id),
                    picture=picture,
                    posts=books_posts(sandbox.base_url),
                    books_created=picture.records() - before,
                    requests=sandbox_requests(sandbox.base_url),
                    calls={r.module: int(r.api_calls) for r in module_rows(h.engine, run.id)},
                    seconds=seconds,
                )
                update_integration(h.engine, h.integration.id, state="disabled")
                h.engine.dispose()
        finally:
            sandbox.stop()
        return made[size]

    yield get
    with pg_admin_engine.connect() as conn:
        for name in databases:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
