"""What the timesheets module remembers about each project's time-log windows (see timelog_windows)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from shared.clock import as_utc
from shared.db.schema import timelog_scans


@dataclass(frozen=True)
class Learned:
    """One component of one project: the first month that held a log at the last deep read, and when that was."""

    first_month: dt.date | None
    deep_read_at: dt.datetime


def learned_for(conn: sa.Connection, integration_id: int, project_id: str) -> dict[str, Learned]:
    rows = conn.execute(
        sa.select(timelog_scans).where(
            timelog_scans.c.integration_id == integration_id, timelog_scans.c.project_id == project_id
        )
    ).all()
    return {row.component: Learned(row.first_month, as_utc(row.deep_read_at)) for row in rows}


def remember(
    conn: sa.Connection,
    integration_id: int,
    project_id: str,
    component: str,
    *,
    first_month: dt.date | None,
    deep_read_at: dt.datetime,
) -> None:
    """Store a component's state; one worker holds a module run at a time, so no two writers race here."""
    key = (
        timelog_scans.c.integration_id == integration_id,
        timelog_scans.c.project_id == project_id,
        timelog_scans.c.component == component,
    )
    values = {"first_month": first_month, "deep_read_at": deep_read_at}
    if conn.execute(timelog_scans.update().where(*key).values(**values)).rowcount == 0:
        conn.execute(
            timelog_scans.insert().values(
                integration_id=integration_id, project_id=project_id, component=component, **values
            )
        )
