"""Web fixtures: a database filled by a real embedded sync, and the web app on it (Starlette TestClient)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from scheduler.embedded import running_worker
from scheduler.web.app import create_web_app
from tests.ops_sync import WEB_TOKEN, World, connect, sync

AUTH = {"Authorization": f"Bearer {WEB_TOKEN}"}


@pytest.fixture
def synced(sandbox_factory, sqlite_migrated_url) -> World:
    world = connect(sandbox_factory(size="tiny"), sqlite_migrated_url)
    with running_worker(world.app):
        sync(world)
    return world


@pytest.fixture
def client(synced: World) -> Iterator[TestClient]:
    """The web app over the synced database; its refreshes go to the world's Celery app (no worker unless a
    test starts one with ``running_worker(synced.app)``)."""
    with TestClient(create_web_app(synced.settings, celery=synced.app), headers=AUTH) as test_client:
        yield test_client
