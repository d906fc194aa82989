"""Zoho clients for the Finance view and request validation (reads only; the worker does the writes)."""

from __future__ import annotations

import functools
from typing import Any

from shared.config import Settings
from shared.db.integrations import Integration, credentials_of
from shared.zoho.books import BooksClient
from shared.zoho.factory import build_books_client, build_projects_client
from shared.zoho.projects import ProjectsClient


@functools.cache
def _redis(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url)


def _shared_redis(settings: Settings) -> Any:
    return _redis(settings.shared_redis_url) if settings.shared_redis_url else None


def books_client(settings: Settings, integration: Integration) -> BooksClient:
    creds = credentials_of(settings, integration)
    return build_books_client(settings, creds, integration.books_organization_id, redis=_shared_redis(settings))


def projects_client(settings: Settings, integration: Integration) -> ProjectsClient:
    creds = credentials_of(settings, integration)
    return build_projects_client(settings, creds, integration.projects_portal_id, redis=_shared_redis(settings))
