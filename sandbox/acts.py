"""The registry of acts: things a person does in Zoho's UI, replayed through ``POST /_sandbox/act``.

Projects-side acts live in ``sandbox/projects/acts.py``, Books-side in ``sandbox/books/acts.py``; each
registers with ``@act("name")``. An act takes ``(world, params)``, mutates the world under ``world.lock``,
returns a JSON-able dict (e.g. the ids it created) and raises ``ValueError`` for bad params.

    @act("log_time")
    def log_time(world: World, params: dict) -> dict:
        ...
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from sandbox.world import World

Act = Callable[[World, dict[str, Any]], dict[str, Any]]

ACTS: dict[str, Act] = {}
# Where an act's webhook events go while it runs (the app's hub); acts call ``emit``, which is a no-op outside.
_emitter: ContextVar[Callable[[str, dict[str, Any]], None] | None] = ContextVar("sandbox_act_emitter", default=None)


def act(name: str) -> Callable[[Act], Act]:
    """Register the decorated function as the act ``name`` (a second registration under one name is a bug)."""

    def register(fn: Act) -> Act:
        known = ACTS.get(name)
        # the same function registering again (a module re-imported) is fine; two different ones are not
        if known is not None and (known.__module__, known.__qualname__) != (fn.__module__, fn.__qualname__):
            raise RuntimeError(f"act {name!r} is registered twice ({known.__module__} and {fn.__module__})")
        ACTS[name] = fn
        return fn

    return register


def emit(event: str, payload: dict[str, Any]) -> None:
    """An act's webhook event (as the API route doing the same would emit); nothing when run outside an app."""
    target = _emitter.get()
    if target is not None:
        target(event, payload)


def run_act(name: str, world: World, params: dict[str, Any], emit_to: Callable[[str, dict[str, Any]], None]) -> dict:
    """Run the act ``name`` with its webhook events going to ``emit_to``."""
    token = _emitter.set(emit_to)
    try:
        return ACTS[name](world, params)
    finally:
        _emitter.reset(token)
