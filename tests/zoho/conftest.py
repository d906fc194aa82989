"""Clients wired to a running sandbox, exactly as production wires them to Zoho (only the URLs differ)."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from sandbox.generator import credentials
from sandbox.server import SandboxServer
from shared.config import load_settings
from shared.zoho import BooksClient, ProjectsClient, ZohoCredentials, build_books_client, build_projects_client
from shared.zoho.factory import reset_embedded_state


@pytest.fixture(autouse=True)
def _fresh_embedded_state() -> None:
    # every test starts its own sandbox: tokens cached for a previous one would only cost a 401 + refresh
    reset_embedded_state()


def settings_for(sb: SandboxServer, **overrides: Any) -> SimpleNamespace:
    """Product settings pointing at the sandbox; a namespace so tests can add limiter knobs."""
    base = load_settings(
        projects_api_url=sb.base_url,
        books_api_url=sb.base_url + "/books/v3",
        accounts_url=sb.base_url,
        http_timeout_seconds=10,
    ).model_dump()
    # a key prefix of its own: other test runs share this Redis, and generated worlds share refresh tokens
    prefix = f"bpsync-test-{uuid.uuid4().hex[:8]}"
    return SimpleNamespace(**{**base, "http_retry_base_seconds": 0.01, "redis_key_prefix": prefix, **overrides})


def creds_for(sb: SandboxServer, who: str = "admin") -> ZohoCredentials:
    c = credentials(sb.world)
    return ZohoCredentials(c["client_id"], c["client_secret"], c[who]["refresh_token"])


def projects_client(sb: SandboxServer, *, redis: Any = None, **settings: Any) -> ProjectsClient:
    c = credentials(sb.world)
    return build_projects_client(settings_for(sb, **settings), creds_for(sb), c["portal_id"], redis=redis)


def books_client(sb: SandboxServer, org_id: str | None = None, *, redis: Any = None, **settings: Any) -> BooksClient:
    c = credentials(sb.world)
    return build_books_client(settings_for(sb, **settings), creds_for(sb), org_id or c["organization_id"], redis=redis)


@pytest.fixture
def projects(sandbox: SandboxServer) -> ProjectsClient:
    return projects_client(sandbox, rate_limits_enabled=False)


@pytest.fixture
def books(sandbox: SandboxServer) -> BooksClient:
    return books_client(sandbox, rate_limits_enabled=False)
