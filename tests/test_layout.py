"""The package layout (design §3): `worker` and `scheduler` import `shared`, never each other; `shared` imports
neither; a module in `shared/` is there because both sides use it; product code leaves `sandbox` to the
`demo`/`sandbox` commands.

The import graph is read from the source with `ast` (nothing is imported), counting imports inside functions too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIDES = ("worker", "scheduler")

# shared modules only one side uses, kept in shared on purpose
ONE_SIDED = {
    "shared.db.timelog_scans": "a query module of shared/db, beside the schema and migration of its table",
    "shared.db.retention": "deletes shared/db's run tables beside their upkeep (module_states); the beat runs it",
}

# the only product modules that may import the emulators: they start them for `bpsync demo` and `bpsync sandbox`
SANDBOX_IMPORTERS = {"scheduler.cli", "scheduler.commands.demo"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def product_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for top in ("shared", *SIDES)
        for path in (ROOT / top).rglob("*.py")
        if "migrations" not in path.parts
    }


def imported_names(name: str, path: Path) -> Iterator[str]:
    """Every module name an import statement in the file may refer to (``from a import b`` gives ``a`` and
    ``a.b``: b may be a submodule)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def import_graph() -> dict[str, set[str]]:
    modules = product_modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for imported in imported_names(name, path):
            # importing a.b.c runs a/__init__ and a/b/__init__ too
            parts = imported.split(".")
            targets.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
        graph[name] = targets
    return graph


def top(name: str) -> str:
    return name.partition(".")[0]


def shared_reached_by(side: str, graph: dict[str, set[str]]) -> set[str]:
    """The shared modules a side's code imports, directly or through other shared modules."""
    reached: set[str] = set()
    todo = [target for name, targets in graph.items() if top(name) == side for target in targets]
    while todo:
        name = todo.pop()
        if top(name) != "shared" or name in reached or name not in graph:
            continue
        reached.add(name)
        todo.extend(graph[name])
    return reached


def test_worker_and_scheduler_never_import_each_other_and_shared_imports_neither():
    graph = import_graph()
    wrong = sorted(
        f"{name} imports {target}"
        for name, targets in graph.items()
        for target in targets
        if top(target) in SIDES and top(target) != top(name)
    )
    assert not wrong, "imports must point down to shared only:\n" + "\n".join(wrong)


def test_a_module_in_shared_is_used_by_both_sides():
    graph = import_graph()
    reached = {side: shared_reached_by(side, graph) for side in SIDES}
    one_sided = sorted(
        f"{name} is used only by {side}"
        for side, other in (SIDES, SIDES[::-1])
        for name in reached[side] - reached[other]
        if name not in ONE_SIDED
    )
    assert not one_sided, (
        "a module in shared/ that only one side imports belongs to that side (or to ONE_SIDED, with the reason):\n"
        + "\n".join(one_sided)
    )


def test_each_one_sided_exception_is_still_one_sided():
    graph = import_graph()
    reached = {side: shared_reached_by(side, graph) for side in SIDES}
    stale = sorted(name for name in ONE_SIDED if (name in reached["worker"]) == (name in reached["scheduler"]))
    assert not stale, f"no longer one-sided (or gone); drop them from ONE_SIDED: {stale}"


def test_only_the_demo_and_sandbox_commands_import_the_sandbox():
    graph = import_graph()
    wrong = sorted(
        name
        for name, targets in graph.items()
        if name not in SANDBOX_IMPORTERS and any(top(t) == "sandbox" for t in targets)
    )
    assert not wrong, f"product code imports sandbox/: {wrong}"
