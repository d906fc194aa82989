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
from typing import Any

from sandbox.world import World

Act = Callable[[World, dict[str, Any]], dict[str, Any]]

ACTS: dict[str, Act] = {}


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
