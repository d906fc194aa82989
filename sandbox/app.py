"""The sandbox as one ASGI app: Accounts, Projects (``/restapi``), Books (``/books/v3``) and ``/_sandbox``.

app = create_app(world, SandboxConfig())
app.state.world / .config / .emit(event, payload) / .counter / .journal / .faults / .limiter / .webhooks
"""

from __future__ import annotations

import importlib
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount

import sandbox.books
import sandbox.projects
from sandbox import accounts, admin, consent
from sandbox.config import SandboxConfig
from sandbox.counting import RequestCounter
from sandbox.faults import FaultBook
from sandbox.journal import RequestJournal
from sandbox.middleware import SandboxMiddleware
from sandbox.ratelimit import RateLimiter
from sandbox.webhooks import WebhookHub
from sandbox.world import World

ACT_MODULES = ("sandbox.projects.acts", "sandbox.books.acts")


def create_app(
    world: World,
    config: SandboxConfig | None = None,
    *,
    projects_routes: list[BaseRoute] | None = None,
    books_routes: list[BaseRoute] | None = None,
) -> Starlette:
    """The sandbox app over ``world``. Tests may pass their own API routes to exercise the platform alone."""
    config = config or SandboxConfig()
    _register_acts()
    routes = [
        *accounts.routes,
        *consent.routes,
        Mount("/restapi", routes=projects_routes if projects_routes is not None else sandbox.projects.routes),
        Mount("/books/v3", routes=books_routes if books_routes is not None else sandbox.books.routes),
        Mount("/_sandbox", routes=admin.routes),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(SandboxMiddleware)])
    app.state.world = world
    app.state.config = config
    app.state.counter = RequestCounter()
    app.state.journal = RequestJournal()
    app.state.faults = FaultBook()
    app.state.limiter = RateLimiter()
    # the hub reads world and config through the app, so a reset or a config change applies at once
    app.state.webhooks = WebhookHub(
        clock=lambda: app.state.world.clock(),
        timeout_s=lambda: app.state.config.webhook_timeout_s,
        attempts=lambda: app.state.config.webhook_attempts,
    )
    app.state.emit = app.state.webhooks.emit
    return app


def _register_acts() -> None:
    # Acts register on import. A side whose acts module is not written yet simply has no acts.
    for name in ACT_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


def close_app(app: Any) -> None:
    """Stop the app's background work (webhook delivery)."""
    app.state.webhooks.close()
