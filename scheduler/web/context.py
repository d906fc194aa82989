"""What every web route needs: settings, the database engine, the Celery app (to request syncs), templates.

The engine and the Celery app are made on first use, so the app can be created (and /healthz answer)
before the database is migrated or the broker is reachable.
"""

from __future__ import annotations

import functools
from pathlib import Path

import sqlalchemy as sa
from celery import Celery
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from scheduler.status.timefmt import display, iso
from shared.config import Settings

TEMPLATES_DIR = Path(__file__).parent / "templates"


class WebContext:
    def __init__(self, settings: Settings, celery: Celery | None = None) -> None:
        self.settings = settings
        self._celery = celery
        self.templates = Jinja2Templates(directory=TEMPLATES_DIR)
        self.templates.env.filters["when"] = display
        self.templates.env.filters["iso"] = iso

    @functools.cached_property
    def engine(self) -> sa.Engine:
        from shared.db.engine import require_schema

        return require_schema(self.settings.database_url)

    @property
    def celery(self) -> Celery:
        if self._celery is None:
            from shared.celery_app import create_celery

            self._celery = create_celery(self.settings)
        return self._celery


def web_context(request: Request) -> WebContext:
    return request.app.state.web
