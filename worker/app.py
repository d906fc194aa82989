"""The Celery app the worker and beat processes run: ``celery -A worker.app worker``."""

from __future__ import annotations

import logging
import sys
from typing import Any

from celery import signals

from shared.celery_app import create_celery
from shared.config import ConfigError, Settings, get_settings
from shared.logging import install_worker_logging


def _settings() -> Settings:
    try:
        return get_settings()
    except ConfigError as exc:
        # Celery imports this module for -A: an exception would become an import traceback (or "module 'worker'
        # has no attribute 'app'"); SystemExit passes through its loader, so the admin sees the one line.
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _say_where_limits_are_shared(sender: Any = None, **_: Any) -> None:
    settings = get_settings()
    if settings.redis_url is None and settings.shared_redis_url is not None:
        logging.getLogger("bpsync.worker").info(
            "BPSYNC_REDIS_URL is not set: the Zoho rate limiter and token cache share the broker's Redis"
        )


app = create_celery(_settings())
install_worker_logging()  # our handler (JSON option, sync ids, redaction) instead of Celery's own set-up
# once per worker (the main process, after logging is set up), not once per pool process
signals.worker_ready.connect(_say_where_limits_are_shared, weak=False, dispatch_uid="bpsync-shared-redis-note")
