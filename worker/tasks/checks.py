"""``bpsync check``: a chain of three tasks, each writing a row, proving broker + worker + database work."""

from __future__ import annotations

import datetime as dt
import socket

from celery import Task, shared_task

from shared.db.engine import require_schema
from shared.db.schema import worker_checks


@shared_task(name="bpsync.check.step", bind=True)
def check_step(self: Task[..., int], previous: int | None, check_id: str, step: int, database_url: str) -> int:
    engine = require_schema(database_url)
    with engine.begin() as conn:
        conn.execute(
            worker_checks.insert().values(
                check_id=check_id,
                step=step,
                hostname=self.request.hostname or socket.gethostname(),
                at=dt.datetime.now(dt.UTC),
            )
        )
    return step
