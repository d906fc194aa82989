"""Fixtures of the chaos suite: the undisturbed reference run each fault-injected run must end up identical to."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import requests

from sandbox.config import SandboxConfig
from sandbox.generator import credentials, generate
from sandbox.limits import preset
from sandbox.server import SandboxServer
from sandbox.world import World as SandboxWorld
from shared.clock import as_utc
from tests.chaos.support import COUNTS, BooksPicture, books_picture
from tests.sync_support import HarnessSnapshot
from tests.synced_world_support import copy_world


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


def sandbox_requests(sandbox: SandboxServer) -> int:
    """Every Zoho request the sandbox served so far (``/_sandbox/requests``' total), read in-process: the kill loop
    polls it 20 times a second for minutes, and over HTTP each poll cost the test process a request and a reply."""
    return int(sandbox.app.state.counter.snapshot()["total"])


def _state(world: SandboxWorld) -> dict:
    """/_sandbox/state of a sandbox serving ``world`` (a copy: the server is stopped after one read)."""
    sandbox = SandboxServer(config=SandboxConfig(rate_limits=preset("off")), world=copy_world(world)).start()
    try:
        return requests.get(f"{sandbox.base_url}/_sandbox/state", timeout=30).json()
    finally:
        sandbox.stop()


def reference_of(snapshot: HarnessSnapshot, size: str) -> Reference:
    """The reference run is the first sync of the run's shared ``size`` snapshot (tests/conftest.py): the same
    world (seed 1), the same settings, an in-process worker, no fault; read from what it left instead of syncing
    that world once more."""
    organization = credentials(snapshot.world)["organization_id"]
    before = books_picture(_state(generate(1, size)), organization).records()  # type: ignore[arg-type]
    picture = books_picture(_state(snapshot.world), organization)
    rows = sorted(snapshot.first.modules.values(), key=lambda r: r.position)
    log = snapshot.request_log
    return Reference(
        size=size,
        status=snapshot.first.status,
        module_statuses={r.module: r.status for r in rows},
        counts={r.module: {k: int(getattr(r, k)) for k in COUNTS} for r in rows},
        picture=picture,
        posts=Counter({r["path"]: r["count"] for r in log if r["api"] == "books" and r["method"] == "POST"}),
        books_created=picture.records() - before,
        requests=sum(r["count"] for r in log),
        calls={r.module: int(r.api_calls) for r in rows},
        seconds=(max(as_utc(r.finished_at) for r in rows) - min(as_utc(r.started_at) for r in rows)).total_seconds(),
    )


@pytest.fixture(scope="session")
def reference(request: pytest.FixtureRequest) -> Callable[[str], Reference]:
    """``reference(size)``: the undisturbed run of that world (``tiny`` or ``small``), made once per run."""
    made: dict[str, Reference] = {}

    def get(size: str) -> Reference:
        if size not in made:
            made[size] = reference_of(request.getfixturevalue(f"{size}_snapshot"), size)
        return made[size]

    return get
