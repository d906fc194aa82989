"""A connected integration against a running sandbox, with a real Celery worker, for end-to-end sync tests.

with sync_harness(sandbox, pg_url, broker_url=redis_url) as h:
    run = h.sync()                      # request a sync and wait for it to finish
    h.act("rename_task", task_id=..., name="New")
    assert h.books_writes() == 0
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from celery import Celery

from sandbox.config import SandboxConfig
from sandbox.generator import credentials
from sandbox.limits import preset
from sandbox.server import SandboxServer, Size
from sandbox.world import World as SandboxWorld
from scheduler.embedded import running_worker
from shared.celery_app import create_celery
from shared.config import Settings, load_settings
from shared.crypto import new_key
from shared.db import engine as dbengine
from shared.db.integrations import Integration, create_integration, get_integration
from shared.db.schema import module_runs, sync_errors, sync_runs
from shared.dispatch import request_sync
from shared.zoho.factory import reset_embedded_state

WRITE_METHODS = {"POST", "PUT", "DELETE"}


def small_snapshot_test(test: Any) -> Any:
    """For a test using ``small_snapshot``: the tests sharing it run on one pytest-xdist worker, which makes the
    `small` sync once (loadgroup); marked slow, so the group starts early instead of ending the run."""
    return pytest.mark.slow(pytest.mark.xdist_group("small_snapshot")(test))


@dataclass
class RunResult:
    id: int
    status: str
    modules: dict[str, sa.Row]  # module name -> module_runs row


@dataclass
class SyncHarness:
    sandbox: SandboxServer
    settings: Settings
    engine: sa.Engine
    integration: Integration
    app: Celery

    def sync(self, module: str | None = None, *, timeout: float = 90.0) -> RunResult:
        request = request_sync(self.engine, self.app, self.integration.id, module=module)
        return self.wait(request.run_id, timeout=timeout)

    def wait(self, run_id: int, *, timeout: float = 90.0) -> RunResult:
        # the run's status alone while it goes on (its module rows carry cursors of a few kB): 20 polls a second
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.status(run_id) not in ("queued", "running"):
                return self.run(run_id)
            time.sleep(0.05)
        raise AssertionError(f"run {run_id} did not finish in {timeout}s: {self.run(run_id)}")

    def status(self, run_id: int) -> str:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sync_runs.c.status).where(sync_runs.c.id == run_id)).scalar_one()

    def run(self, run_id: int) -> RunResult:
        with self.engine.connect() as conn:
            status = conn.execute(sa.select(sync_runs.c.status).where(sync_runs.c.id == run_id)).scalar_one()
            rows = conn.execute(sa.select(module_runs).where(module_runs.c.sync_run_id == run_id)).all()
        return RunResult(run_id, status, {r.module: r for r in rows})

    def errors(self, *, open_only: bool = True) -> list[sa.Row]:
        query = sa.select(sync_errors).where(sync_errors.c.integration_id == self.integration.id)
        if open_only:
            query = query.where(sync_errors.c.resolved_at.is_(None))
        with self.engine.connect() as conn:
            return conn.execute(query).all()

    def act(self, action: str, **params: Any) -> dict[str, Any]:
        response = requests.post(f"{self.sandbox.base_url}/_sandbox/act", json={"action": action, **params}, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def state(self) -> dict[str, Any]:
        return requests.get(f"{self.sandbox.base_url}/_sandbox/state", timeout=30).json()

    def reset_requests(self) -> None:
        requests.delete(f"{self.sandbox.base_url}/_sandbox/requests", timeout=10)

    def books_writes(self) -> list[tuple[str, str, int]]:
        rows = requests.get(f"{self.sandbox.base_url}/_sandbox/requests", timeout=10).json()["requests"]
        return [
            (r["method"], r["path"], r["count"]) for r in rows if r["api"] == "books" and r["method"] in WRITE_METHODS
        ]

    def claimed_slice(self, module: str) -> tuple[Any, Any]:
        """A sync of ``module`` requested and its module run claimed (60 s lease), with the context a worker's slice
        of it gets: (SyncContext, ModuleRun), for tests that run ``worker.engine.run_slice`` themselves."""
        from shared.db import runs
        from worker.connections import clients_for
        from worker.modules.base import SyncContext

        request = request_sync(self.engine, self.app, self.integration.id, module=module)
        module_run = runs.claim_module(self.engine, request.start_module_run_id, lease_seconds=60)
        assert module_run is not None
        projects, books = clients_for(self.settings, self.integration)
        return SyncContext(self.engine, self.settings, self.integration, module_run, projects, books), module_run


def harness_settings(sandbox: SandboxServer, database_url: str, **overrides: Any) -> Settings:
    base = sandbox.base_url
    values: dict[str, Any] = {
        "database_url": database_url,
        "broker_url": "memory://",
        "projects_api_url": base,
        "books_api_url": f"{base}/books/v3",
        "accounts_url": base,
        "secret_key": new_key(),
        # the sandbox fixture serves with limits off; the product's own limiter is covered by tests/zoho
        "rate_limits_enabled": False,
        "redis_key_prefix": f"t{uuid.uuid4().hex[:8]}",
        "http_retry_base_seconds": 0.01,
    }
    return load_settings(**(values | overrides))


def connect_sandbox(engine: sa.Engine, settings: Settings, sandbox: SandboxServer, **prefs: Any) -> Integration:
    creds = credentials(sandbox.world)
    return create_integration(
        engine,
        settings,
        name=f"it-{uuid.uuid4().hex[:6]}",
        organization_id=creds["organization_id"],
        portal_id=creds["portal_id"],
        credentials={
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
            "refresh_token": creds["admin"]["refresh_token"],
        },
        **prefs,
    )


@contextmanager
def sync_harness(
    sandbox: SandboxServer,
    database_url: str,
    *,
    worker: bool = True,
    prefs: dict[str, Any] | None = None,
    **overrides: Any,
) -> Iterator[SyncHarness]:
    reset_embedded_state()
    dbengine.upgrade(database_url)
    settings = harness_settings(sandbox, database_url, **overrides)
    engine = dbengine.make_engine(database_url)
    integration = connect_sandbox(engine, settings, sandbox, **(prefs or {}))
    app = create_celery(settings, main=f"harness-{uuid.uuid4().hex[:6]}")
    harness = SyncHarness(sandbox, settings, engine, integration, app)
    if not worker:
        yield harness
        return
    with running_worker(app, concurrency=2):
        yield harness


@dataclass(frozen=True)
class HarnessSnapshot:
    """What a first full sync left, kept to hand each test a copy instead of syncing again: the database (a
    PostgreSQL template nobody is connected to), the sandbox's world (deep-copied, the sandbox stopped), the
    settings whose secret key encrypted the integration's credentials, and the sandbox's request log of the sync
    (``/_sandbox/requests`` rows: the chaos suite's undisturbed reference reads its calls and POSTs)."""

    database: str
    world: SandboxWorld
    settings: Settings
    integration_id: int
    first: RunResult
    request_log: list[dict[str, Any]]

    @classmethod
    def built(
        cls, admin: sa.Engine, template: str, *, size: Size, prefs: dict[str, Any] | None = None, **overrides: Any
    ) -> HarnessSnapshot:
        """The first sync of a fresh ``size`` world (seed 1) into a new database, which the caller drops."""
        from tests.conftest import create_pg_database
        from tests.synced_world_support import copy_world

        sandbox = SandboxServer(config=SandboxConfig(rate_limits=preset("off")), size=size).start()
        url = create_pg_database(admin, template=template)
        name = str(sa.engine.make_url(url).database)
        try:
            with sync_harness(sandbox, url, prefs=prefs, **overrides) as h:
                first = h.sync(timeout=240)  # a hang guard: a small sync under load can take minutes
                log = requests.get(f"{sandbox.base_url}/_sandbox/requests", timeout=30).json()["requests"]
        except BaseException:
            with admin.connect() as conn:  # nobody will copy it
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            raise
        finally:
            sandbox.stop()
        with admin.connect() as conn:  # the worker's pools (the harness's, the tasks' shared engine) let go of it
            conn.execute(
                sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                {"name": name},
            )
        h.engine.dispose()
        return cls(name, copy_world(sandbox.world), h.settings, h.integration.id, first, log)

    @contextmanager
    def harness(
        self, admin: sa.Engine, start_sandbox: Callable[..., SandboxServer], *, worker: bool = True, **overrides: Any
    ) -> Iterator[SyncHarness]:
        """A harness over this test's own copy of the database and of the world (its in-process worker running
        unless ``worker=False``); ``overrides`` change settings that do not shape the synced data (the broker)."""
        from tests.conftest import pg_database
        from tests.synced_world_support import copy_world

        with pg_database(admin, template=self.database) as url:
            sandbox = start_sandbox(world=copy_world(self.world))
            reset_embedded_state()
            base = sandbox.base_url
            urls = {"projects_api_url": base, "books_api_url": f"{base}/books/v3", "accounts_url": base}
            settings = self.settings.model_copy(update={"database_url": url, **urls, **overrides})
            engine = dbengine.make_engine(url)
            app = create_celery(settings, main=f"harness-{uuid.uuid4().hex[:6]}")
            harness = SyncHarness(sandbox, settings, engine, get_integration(engine, self.integration_id), app)
            if worker:
                with running_worker(app, concurrency=2):
                    yield harness
            else:
                yield harness
            engine.dispose()
