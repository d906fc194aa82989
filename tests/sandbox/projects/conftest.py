"""A running sandbox over a generated ``small`` world, and a Projects client session per person.

``projects_api`` is module-scoped and read-only (tests must not change its world); tests that write take
``fresh_projects`` (a new sandbox per test) so they never see each other's changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from sandbox.config import SandboxConfig
from sandbox.generator import credentials, generate
from sandbox.limits import preset
from sandbox.server import SandboxServer
from sandbox.world import World

FIXED_NOW = 1_750_000_000.0  # 2025-06-15 15:06:40 UTC: log windows in tests do not move with the wall clock
TODAY = dt.datetime.fromtimestamp(FIXED_NOW, tz=dt.UTC).date()


class ProjectsApi:
    """One person's session against the sandbox's ``/restapi``."""

    def __init__(self, server: SandboxServer, who: str = "admin") -> None:
        self.server = server
        self.world: World = server.world
        self.creds = credentials(self.world)
        self.zuid = self.creds[who]["zuid"]
        self.portal = self.creds["portal_id"]
        self.http = requests.Session()
        token = requests.post(
            f"{server.base_url}/oauth/v2/token",
            params={
                "grant_type": "refresh_token",
                "client_id": self.creds["client_id"],
                "client_secret": self.creds["client_secret"],
                "refresh_token": self.creds[who]["refresh_token"],
            },
            timeout=5,
        ).json()["access_token"]
        self.http.headers["Authorization"] = f"Zoho-oauthtoken {token}"
        self.events: list[tuple[str, dict[str, Any]]] = []
        server.app.state.emit = lambda event, payload: self.events.append((event, payload))

    def url(self, path: str) -> str:
        return f"{self.server.base_url}/restapi/{path.lstrip('/')}"

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.http.get(self.url(path), params=params, timeout=10)

    def post(self, path: str, **data: Any) -> requests.Response:
        return self.http.post(self.url(path), data=data, timeout=10)

    def delete(self, path: str) -> requests.Response:
        return self.http.delete(self.url(path), timeout=10)

    def in_portal(self, path: str) -> str:
        return f"portal/{self.portal}/{path.lstrip('/')}"


def fixed_world() -> World:
    """The seed-1 ``small`` world generated at FIXED_NOW (generation takes milliseconds: no caching)."""
    return generate(1, "small", clock=lambda: FIXED_NOW)


def _server() -> SandboxServer:
    return SandboxServer(fixed_world(), config=SandboxConfig(rate_limits=preset("off"))).start()


@pytest.fixture(scope="module")
def projects_server() -> Iterator[SandboxServer]:
    server = _server()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def projects_api(projects_server: SandboxServer) -> ProjectsApi:
    return ProjectsApi(projects_server)


@pytest.fixture(scope="module")
def employee_api(projects_server: SandboxServer) -> ProjectsApi:
    return ProjectsApi(projects_server, "non_admin")


@pytest.fixture
def fresh_projects() -> Iterator[Callable[[str], ProjectsApi]]:
    """``fresh_projects("admin")`` → a session on a sandbox of its own (same seed), for tests that write."""
    server = _server()
    yield lambda who="admin": ProjectsApi(server, who)
    server.stop()
