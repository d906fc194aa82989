"""Real syncs for the ops read-side tests (status, CLI, web): sandbox over HTTP + a migrated database +
the memory broker + an in-process Celery worker, the embedded mode's code paths.

``connect(sandbox, url)`` migrates the database and connects an integration to the sandbox's world;
``sync(world)`` requests a sync through ``shared.dispatch`` and waits for the run to finish.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import requests
import sqlalchemy as sa
from celery import Celery

from sandbox.generator import credentials
from sandbox.server import SandboxServer
from scheduler.status import run_status
from shared.celery_app import create_celery
from shared.config import Settings, load_settings
from shared.crypto import new_key
from shared.db import engine as dbe
from shared.db.integrations import Integration, create_integration
from shared.dispatch import request_sync
from shared.zoho.factory import reset_embedded_state

WEB_TOKEN = "test-web-token"


@dataclass
class World:
    sandbox: SandboxServer
    settings: Settings
    engine: sa.Engine
    app: Celery
    integration: Integration

    def env(self) -> dict[str, str]:
        """The same settings as BPSYNC_* variables, for commands run with them."""
        s = self.settings
        return {
            "BPSYNC_DATABASE_URL": s.database_url,
            "BPSYNC_BROKER_URL": s.broker_url,
            "BPSYNC_PROJECTS_API_URL": s.projects_api_url or "",
            "BPSYNC_BOOKS_API_URL": s.books_api_url or "",
            "BPSYNC_ACCOUNTS_URL": s.accounts_url or "",
            "BPSYNC_SECRET_KEY": s.secret_key or "",
            "BPSYNC_WEB_TOKEN": s.web_token or "",
            "BPSYNC_RATE_LIMITS_ENABLED": str(s.rate_limits_enabled).lower(),
            "BPSYNC_HTTP_RETRY_BASE_SECONDS": str(s.http_retry_base_seconds),
        }

    def act(self, name: str, **params: Any) -> dict[str, Any]:
        response = requests.post(f"{self.sandbox.base_url}/_sandbox/act", json={"action": name, **params}, timeout=10)
        assert response.status_code < 300, response.text
        return response.json()

    def state(self) -> dict[str, Any]:
        return requests.get(f"{self.sandbox.base_url}/_sandbox/state", timeout=10).json()


def connect(sandbox: SandboxServer, url: str, **overrides: Any) -> World:
    reset_embedded_state()  # in-process tokens of an earlier test's sandbox (same refresh tokens) are stale
    dbe.upgrade(url)
    base = sandbox.base_url
    settings = load_settings(
        database_url=url,
        broker_url="memory://",
        projects_api_url=base,
        books_api_url=base + "/books/v3",
        accounts_url=base,
        secret_key=new_key(),
        web_token=WEB_TOKEN,
        # the sandbox fixture serves with limits off; the product's limiter would pause the small world for a
        # minute (tests/zoho covers it)
        rate_limits_enabled=False,
        http_retry_base_seconds=0.01,
        **overrides,
    )
    engine = dbe.make_engine(url)
    creds = credentials(sandbox.world)
    integration = create_integration(
        engine,
        settings,
        name="acme",
        organization_id=creds["organization_id"],
        portal_id=creds["portal_id"],
        credentials={
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
            "refresh_token": creds["admin"]["refresh_token"],
        },
    )
    return World(sandbox, settings, engine, create_celery(settings), integration)


def wait_for_run(engine: sa.Engine, run_id: int, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = run_status(engine, run_id)
        if state not in ("queued", "running"):
            return str(state)
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish within {timeout}s")


def sync(world: World, module: str | None = None) -> tuple[int, str]:
    """Request a sync (a running worker must consume world.app) and wait for it; returns (run id, status)."""
    request = request_sync(world.engine, world.app, world.integration.id, module=module)
    return request.run_id, wait_for_run(world.engine, request.run_id)
