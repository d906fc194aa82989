"""The inbox of webhook calls from Zoho Projects: written by the receiver, taken by the next timesheets run."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from shared.db.engine import inserted_id
from shared.db.schema import webhook_events

KEEP_HANDLED = dt.timedelta(days=7)


def record(
    conn: sa.Connection,
    integration_id: int,
    *,
    event: str,
    project_id: str,
    log_id: str | None,
    payload: dict[str, Any],
    now: dt.datetime,
) -> int:
    return inserted_id(
        conn.execute(
            webhook_events.insert().values(
                integration_id=integration_id,
                event=event,
                project_id=project_id,
                log_id=log_id,
                payload=payload,
                received_at=now,
            )
        )
    )


def take_pending(
    conn: sa.Connection, integration_id: int, module_run_id: int, now: dt.datetime
) -> Sequence[sa.Row[Any]]:
    """The events this module run covers: every unhandled one, plus those it took before a crash and resume."""
    # handled calls are kept a while for troubleshooting ("did Zoho call us?"), then dropped
    conn.execute(
        webhook_events.delete().where(
            webhook_events.c.integration_id == integration_id, webhook_events.c.handled_at < now - KEEP_HANDLED
        )
    )
    mine = sa.or_(webhook_events.c.handled_at.is_(None), webhook_events.c.module_run_id == module_run_id)
    where = (webhook_events.c.integration_id == integration_id, mine)
    conn.execute(
        webhook_events.update()
        .where(*where, webhook_events.c.handled_at.is_(None))
        .values(handled_at=now, module_run_id=module_run_id)
    )
    return conn.execute(sa.select(webhook_events).where(*where).order_by(webhook_events.c.id)).all()


def pending_count(conn: sa.Connection, integration_id: int) -> int:
    return int(
        conn.execute(
            sa.select(sa.func.count())
            .select_from(webhook_events)
            .where(webhook_events.c.integration_id == integration_id, webhook_events.c.handled_at.is_(None))
        ).scalar_one()
    )
