"""The Celery app the worker and beat processes run: ``celery -A worker.app worker``."""

from __future__ import annotations

from shared.celery_app import create_celery
from shared.config import get_settings
from shared.logging import install_worker_logging

app = create_celery(get_settings())
install_worker_logging()  # our handler (JSON option, sync ids, redaction) instead of Celery's own set-up
