"""The end-to-end pipeline check behind ``bpsync check``: database -> broker -> worker -> database."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from celery import Celery, chain

from shared.db.engine import require_schema
from shared.db.schema import worker_checks

STEPS = 3


@dataclass
class CheckResult:
    check_id: str
    steps_done: int
    seconds: float
    hostnames: list[str]

    @property
    def ok(self) -> bool:
        return self.steps_done == STEPS


def run_check(app: Celery, database_url: str, *, timeout: float = 30.0) -> CheckResult:
    """Send a chain of STEPS tasks by name and wait until each has written its row."""
    engine = require_schema(database_url)
    check_id = uuid.uuid4().hex
    started = time.monotonic()
    first = app.signature("bpsync.check.step", args=(None, check_id, 1, database_url))
    rest = [app.signature("bpsync.check.step", args=(check_id, n, database_url)) for n in range(2, STEPS + 1)]
    chain(first, *rest).apply_async()
    rows: list[sa.Row] = []
    while time.monotonic() - started < timeout:
        with engine.connect() as conn:
            query = sa.select(worker_checks.c.step, worker_checks.c.hostname).where(
                worker_checks.c.check_id == check_id
            )
            rows = list(conn.execute(query))
        if len(rows) == STEPS:
            break
        time.sleep(0.02)
    return CheckResult(check_id, len(rows), time.monotonic() - started, sorted({r.hostname or "" for r in rows}))
