"""The Celery app the worker and beat processes run: ``celery -A worker.app worker``."""

from __future__ import annotations

from shared.celery_app import create_celery
from shared.config import get_settings

app = create_celery(get_settings())
