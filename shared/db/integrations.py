"""Integrations: one Books organization connected to one Projects portal, with preferences and credentials."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from shared.clock import as_utc, utcnow
from shared.db.engine import inserted_id
from shared.db.schema import integrations

if TYPE_CHECKING:  # cryptography and the Zoho clients load where credentials are used: status reads need neither
    from shared.config import Settings
    from shared.zoho.factory import ZohoCredentials


class IntegrationNotFound(LookupError):
    def __init__(self, ref: object) -> None:
        super().__init__(f"no integration {ref!r}; list them with: bpsync status")


@dataclass(frozen=True)
class Integration:
    id: int
    name: str
    books_organization_id: str
    projects_portal_id: str
    data_center: str
    contact_duplication: str
    timesheet_cutoff_date: dt.date | None
    general_timesheets: bool
    sync_interval_seconds: int
    state: str
    paused_until: dt.datetime | None
    paused_reason: str | None
    connected_at: dt.datetime
    next_run_at: dt.datetime | None
    sealed_credentials: str
    finance_cursor: dict[str, Any] | None = None  # the transactions poll's position (worker/finance/pull.py)
    webhook_token_sha256: str | None = None  # the webhook token's digest (scheduler/webhooks.py); never shown

    @classmethod
    def from_row(cls, row: sa.Row[Any]) -> Integration:
        data: dict[str, Any] = dict(row._mapping)
        data["sealed_credentials"] = data.pop("credentials")
        for key in ("paused_until", "connected_at", "next_run_at"):
            data[key] = as_utc(data[key])
        for key in ("created_at", "updated_at"):
            data.pop(key)
        return cls(**data)

    def credentials(self, settings: Settings) -> dict[str, Any]:
        from shared import crypto

        return crypto.unseal(settings, self.sealed_credentials)


def credentials_of(settings: Settings, integration: Integration) -> ZohoCredentials:
    from shared.zoho.factory import ZohoCredentials

    data = integration.credentials(settings)
    return ZohoCredentials(
        client_id=data["client_id"],
        client_secret=data["client_secret"],
        refresh_token=data["refresh_token"],
        data_center=integration.data_center,
        user_id=data.get("user_id"),  # absent for credentials stored before it was recorded
    )


def create_integration(
    engine: sa.Engine,
    settings: Settings,
    *,
    name: str,
    organization_id: str,
    portal_id: str,
    credentials: dict[str, Any],
    data_center: str = "US",
    contact_duplication: str = "merge",
    timesheet_cutoff_date: dt.date | None = None,
    general_timesheets: bool = False,
    sync_interval_seconds: int | None = None,
    now: dt.datetime | None = None,
) -> Integration:
    from shared import crypto

    now = now or utcnow()
    interval = sync_interval_seconds or int(settings.default_sync_interval_hours * 3600)
    with engine.begin() as conn:
        new_id = inserted_id(
            conn.execute(
                integrations.insert().values(
                    name=name,
                    books_organization_id=organization_id,
                    projects_portal_id=portal_id,
                    data_center=data_center,
                    credentials=crypto.seal(settings, credentials),
                    contact_duplication=contact_duplication,
                    timesheet_cutoff_date=timesheet_cutoff_date,
                    general_timesheets=general_timesheets,
                    sync_interval_seconds=interval,
                    state="active",
                    connected_at=now,
                    # the first sync runs at once; later ones every interval from connect time
                    next_run_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
        )
    return get_integration(engine, new_id)


# Ids are 32-bit integers in the database: a larger one names nothing (and must not reach the driver, which
# would raise "out of range" — an answer of 500 for a mistyped or hostile id).
MAX_ID = 2**31 - 1


def get_integration(engine: sa.Engine, ref: int | str) -> Integration:
    column = integrations.c.id if isinstance(ref, int) or str(ref).isdigit() else integrations.c.name
    value = int(ref) if column is integrations.c.id else ref
    if column is integrations.c.id and not 0 < int(value) <= MAX_ID:
        raise IntegrationNotFound(ref)
    with engine.connect() as conn:
        row = conn.execute(sa.select(integrations).where(column == value)).first()
    if row is None:
        raise IntegrationNotFound(ref)
    return Integration.from_row(row)


def list_integrations(engine: sa.Engine) -> list[Integration]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(integrations).order_by(integrations.c.id)).all()
    return [Integration.from_row(r) for r in rows]


def update_integration(engine: sa.Engine, integration_id: int, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(
            integrations.update().where(integrations.c.id == integration_id).values(**values, updated_at=utcnow())
        )


def next_run_after(connected_at: dt.datetime, interval_seconds: int, now: dt.datetime) -> dt.datetime:
    """The first slot after ``now`` on the grid connected_at + k * interval (schedule anchored to setup time)."""
    elapsed = (now - connected_at).total_seconds()
    slots = int(elapsed // interval_seconds) + 1
    return connected_at + dt.timedelta(seconds=slots * interval_seconds)
