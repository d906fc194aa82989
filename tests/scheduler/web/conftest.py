"""Web fixtures: a database filled by a real embedded sync, and the web app on it (Starlette TestClient)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from scheduler.web.app import create_web_app
from tests.ops_sync import WEB_TOKEN, World

AUTH = {"Authorization": f"Bearer {WEB_TOKEN}"}


@pytest.fixture
def synced(synced_tiny_snapshot, sandbox_factory, tmp_path) -> World:
    """A ``tiny`` world after a real embedded sync on SQLite: this test's own copy of one made once per process."""
    return synced_tiny_snapshot.copy(tmp_path, sandbox_factory)


@pytest.fixture
def client(synced: World) -> Iterator[TestClient]:
    """The web app over the synced database; its refreshes go to the world's Celery app (no worker unless a
    test starts one with ``running_worker(synced.app)``)."""
    with TestClient(create_web_app(synced.settings, celery=synced.app), headers=AUTH) as test_client:
        yield test_client
