"""The sync modules and their order: parents before children (design §5).

    users ─┐
    clients┴→ projects → tasks, bugs → timesheets → expenses/transactions

A run starts a module once every module it waits for (``ancestors``) in that run has finished, so siblings run at
once (users and clients; tasks and bugs); MODULE_ORDER is the order they are listed and shown in. A refresh of one
module runs it and everything below it. Modules not built yet are listed in PLANNED so the order already leaves
room for them.
"""

from __future__ import annotations

from functools import cache

MODULE_ORDER: tuple[str, ...] = ("users", "clients", "projects", "tasks", "bugs", "timesheets")
PLANNED: tuple[str, ...] = ("expenses", "transactions")

PARENTS: dict[str, tuple[str, ...]] = {
    "users": (),
    "clients": (),
    "projects": ("users", "clients"),
    "tasks": ("projects",),
    "bugs": ("projects",),
    "timesheets": ("tasks", "bugs", "users"),
    "expenses": ("projects",),
    "transactions": ("projects",),
}


class UnknownModule(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown module {name!r}; choose one of: {', '.join(MODULE_ORDER)}")


@cache
def ancestors(module: str) -> frozenset[str]:
    """The modules ``module`` waits for in a run: its parents, theirs, and so on (asked for every module of every
    running run by each sweep and each module's end: the graph is fixed, so each answer is kept)."""
    found: set[str] = set()
    frontier = list(PARENTS.get(module, ()))
    while frontier:
        current = frontier.pop()
        if current not in found:
            found.add(current)
            frontier.extend(PARENTS.get(current, ()))
    return frozenset(found)


def descendants(module: str) -> set[str]:
    """The modules that wait for ``module``."""
    return {child for child in PARENTS if module in ancestors(child)}


def modules_for_refresh(module: str | None) -> list[str]:
    """All modules, or ``module`` and everything below it, in run order."""
    if module is None:
        return list(MODULE_ORDER)
    if module not in MODULE_ORDER:
        raise UnknownModule(module)
    wanted = {module} | descendants(module)
    return [m for m in MODULE_ORDER if m in wanted]
