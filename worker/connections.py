"""Zoho clients for an integration, built from its stored (encrypted) credentials."""

from __future__ import annotations

import functools
from typing import Any

import requests

from shared.config import Settings
from shared.db.integrations import Integration, credentials_of
from shared.zoho.books import BooksClient
from shared.zoho.factory import build_books_client, build_projects_client, new_session
from shared.zoho.http import Metrics
from shared.zoho.projects import ProjectsClient


@functools.cache
def shared_redis(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url)


@functools.cache
def _session(integration_id: int, api: str, base_urls: tuple[str | None, ...]) -> requests.Session:
    # One pooled session per integration, API and process: a module slice is a short task, and a new session per
    # slice would pay Zoho's TLS handshakes again each time. Slices of one integration never run at once (one sync
    # per integration, modules in order); within a slice the next page's Projects listing may be read in a thread
    # while Books is written (worker/read_ahead.py), so each API has a session of its own, never shared by threads.
    return new_session()


def clients_for(
    settings: Settings, integration: Integration, metrics: Metrics | None = None, *, yield_when_throttled: bool = False
) -> tuple[ProjectsClient, BooksClient]:
    """``yield_when_throttled``: every 429 is raised at once (a sync slice hands its worker back, see factory)."""
    creds = credentials_of(settings, integration)
    redis = shared_redis(settings.shared_redis_url) if settings.shared_redis_url else None
    urls = (settings.projects_api_url, settings.books_api_url, settings.accounts_url)
    projects = build_projects_client(
        settings,
        creds,
        integration.projects_portal_id,
        redis=redis,
        metrics=metrics,
        session=_session(integration.id, "projects", urls),
        yield_when_throttled=yield_when_throttled,
    )
    books = build_books_client(
        settings,
        creds,
        integration.books_organization_id,
        redis=redis,
        metrics=metrics,
        session=_session(integration.id, "books", urls),
        yield_when_throttled=yield_when_throttled,
    )
    return projects, books
