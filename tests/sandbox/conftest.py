"""Helpers for the sandbox platform tests: a movable clock and a sandbox over a minimal world whose API
routes are trivial, so auth, rate limits, faults and counting are tested apart from the emulated APIs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox.app import create_app
from sandbox.config import SandboxConfig
from sandbox.limits import preset
from sandbox.server import SandboxServer
from tests.sandbox_fixtures import MINIMAL_ADMIN_REFRESH, MINIMAL_ORG_ID, access_token, minimal_world


class FakeClock:
    """Seconds since the epoch that only move when a test says so."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def _whoami(request: Request) -> JSONResponse:
    return JSONResponse({"zuid": request.state.zuid, "path_params": request.path_params})


PROJECTS_PING_ROUTES = [
    Route("/portals/", _whoami, methods=["GET"]),
    Route("/portal/{portal_id}/projects/", _whoami, methods=["GET", "POST"]),
]
BOOKS_PING_ROUTES = [
    Route("/organizations", _whoami, methods=["GET"]),
    Route("/invoices/{invoice_id}", _whoami, methods=["GET", "PUT"]),
]


class PlatformClient:
    """A started sandbox plus a session holding an access token, with the world's clock at hand."""

    def __init__(self, server: SandboxServer, clock: FakeClock, refresh_token: str = MINIMAL_ADMIN_REFRESH) -> None:
        self.server = server
        self.clock = clock
        self.base = server.base_url
        self.http = requests.Session()
        self.token = access_token(self.base, refresh_token)
        self.http.headers["Authorization"] = f"Zoho-oauthtoken {self.token}"

    def projects(self, path: str = "/restapi/portals/", **kwargs: Any) -> requests.Response:
        return self.http.get(self.base + path, timeout=5, **kwargs)

    def books(self, path: str = "/books/v3/invoices/1", **kwargs: Any) -> requests.Response:
        params = {"organization_id": MINIMAL_ORG_ID} | kwargs.pop("params", {})
        return self.http.get(self.base + path, params=params, timeout=5, **kwargs)


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def platform(sandbox_factory: Callable[..., SandboxServer], fake_clock: FakeClock) -> Callable[..., PlatformClient]:
    """``platform(rate_limits="zoho", token_ttl_seconds=60)`` → a PlatformClient on a fresh minimal world."""

    def start(rate_limits: str = "off", **config: Any) -> PlatformClient:
        app = create_app(
            minimal_world(fake_clock),
            SandboxConfig(rate_limits=preset(rate_limits), **config),
            projects_routes=PROJECTS_PING_ROUTES,
            books_routes=BOOKS_PING_ROUTES,
        )
        return PlatformClient(sandbox_factory(app=app), fake_clock)

    return start


def _slow(request: Request) -> JSONResponse:
    # a sync route runs in the thread pool, so several can be in flight at once
    time.sleep(float(request.query_params.get("sleep", "0.5")))
    return JSONResponse({"zuid": request.state.zuid})


BOOKS_PING_ROUTES.append(Route("/slow", _slow, methods=["GET"]))
