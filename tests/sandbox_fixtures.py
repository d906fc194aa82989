"""Sandbox fixtures: a running sandbox over real HTTP (uvicorn in a thread).

- ``sandbox``: a started SandboxServer on a freshly generated ``small`` world (seed 1), rate limits off
  (generating ``small`` takes ~20 ms, so every test gets its own world and server).
- ``tiny_sandbox``: the same on the ``tiny`` world (seed 1), for a test whose scenario needs a synced world, not its
  size (a ``small`` sync costs ~10 CPU-seconds of the suite's few hundred; ``tiny`` ~1);
- ``sandbox_factory(**kwargs)``: start more, e.g. ``sandbox_factory(config=SandboxConfig(rate_limits=
  preset("zoho")))`` or ``sandbox_factory(world=minimal_world())``; all are stopped after the test.
- ``minimal_world()``: a hand-built world with one OAuth client, an admin and a non-admin person (each with
  a refresh token), one portal and one org; ids are the ``MINIMAL_*`` constants below.
- ``access_token(base_url, refresh_token)``: one refresh grant against a running sandbox.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from sandbox.config import SandboxConfig
from sandbox.limits import preset
from sandbox.server import SandboxServer
from sandbox.world import (
    BooksUser,
    OAuthClient,
    Organization,
    Person,
    Portal,
    PortalUser,
    World,
)

MINIMAL_CLIENT_ID = "1000.SANDBOXTESTCLIENT0000000000000"
MINIMAL_CLIENT_SECRET = "0123456789abcdef0123456789abcdef0123456789"
MINIMAL_ADMIN_ZUID = "70000001"
MINIMAL_MEMBER_ZUID = "70000002"
MINIMAL_ADMIN_REFRESH = "1000.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
MINIMAL_MEMBER_REFRESH = "1000.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
MINIMAL_PORTAL_ID = "170876000000000001"
MINIMAL_ORG_ID = "60000000001"


def minimal_world(clock: Callable[[], float] | None = None) -> World:
    world = World(clock=clock) if clock else World()
    world.oauth_clients[MINIMAL_CLIENT_ID] = OAuthClient(MINIMAL_CLIENT_ID, MINIMAL_CLIENT_SECRET)
    for zuid, name, refresh, role in (
        (MINIMAL_ADMIN_ZUID, "Ada Admin", MINIMAL_ADMIN_REFRESH, "admin"),
        (MINIMAL_MEMBER_ZUID, "Emil Employee", MINIMAL_MEMBER_REFRESH, "employee"),
    ):
        email = f"{name.split()[0].lower()}@example.com"
        world.people[zuid] = Person(zuid=zuid, name=name, email=email, refresh_tokens=[refresh])
        world.portal_users[(MINIMAL_PORTAL_ID, zuid)] = PortalUser(
            id=zuid, zpuid=world.projects_id(), portal_id=MINIMAL_PORTAL_ID, name=name, email=email, role=role
        )
        user_id = world.books_id()
        world.books_users[user_id] = BooksUser(
            user_id=user_id,
            organization_id=MINIMAL_ORG_ID,
            name=name,
            email=email,
            user_role="admin" if role == "admin" else "staff",
            zuid=zuid,
        )
    world.portals[MINIMAL_PORTAL_ID] = Portal(
        id=MINIMAL_PORTAL_ID,
        name="zylker",
        company_name="Zylker",
        roles={MINIMAL_ADMIN_ZUID: "admin", MINIMAL_MEMBER_ZUID: "employee"},
        owner_zuid=MINIMAL_ADMIN_ZUID,
    )
    world.organizations[MINIMAL_ORG_ID] = Organization(
        organization_id=MINIMAL_ORG_ID,
        name="Zylker Books",
        email="books@example.com",
        daily_limit=1000,
        admin_zuids=[MINIMAL_ADMIN_ZUID],
        member_zuids=[MINIMAL_ADMIN_ZUID, MINIMAL_MEMBER_ZUID],
    )
    return world


def access_token(base_url: str, refresh_token: str = MINIMAL_ADMIN_REFRESH, **overrides: str) -> str:
    """A fresh access token from the sandbox's token endpoint (fails the test on an error body)."""
    params = {
        "grant_type": "refresh_token",
        "client_id": MINIMAL_CLIENT_ID,
        "client_secret": MINIMAL_CLIENT_SECRET,
        "refresh_token": refresh_token,
    } | overrides
    body = requests.post(f"{base_url}/oauth/v2/token", params=params, timeout=5).json()
    assert "access_token" in body, body
    return body["access_token"]


# --------------------------------------------------------------------------------------------- fixtures
@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., SandboxServer]]:
    started: list[SandboxServer] = []

    def start(**kwargs: Any) -> SandboxServer:
        if "app" not in kwargs:
            kwargs.setdefault("config", SandboxConfig(rate_limits=preset("off")))
            kwargs.setdefault("size", "small")  # generated from seed 1 unless the test says otherwise
        server = SandboxServer(**kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def sandbox(sandbox_factory: Callable[..., SandboxServer]) -> SandboxServer:
    return sandbox_factory()


@pytest.fixture
def tiny_sandbox(sandbox_factory: Callable[..., SandboxServer]) -> SandboxServer:
    return sandbox_factory(size="tiny")
