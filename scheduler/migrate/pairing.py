"""Which legacy Books project belongs to which Zoho Projects project (pure: no Zoho, no database).

By stored id first: the legacy integration kept the Projects project id in a Books project custom field
(``STORED_ID_FIELD``; inferred, see the README). A Books project without one pairs by exact name, and only when the
name is unique on both sides. Several candidates are never resolved by a guess: the project is left to the sync,
which creates its own Books project.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from scheduler.migrate.report import CREATED, SKIPPED, Entry
from shared.db.links import Link
from shared.zoho.books_models import BooksProject
from shared.zoho.projects_models import Project

STORED_ID_FIELD = "cf_zp_project_id"
ALREADY_LINKED = "already_linked"


@dataclass(frozen=True)
class Pair:
    project: Project
    books_project: BooksProject
    how: str  # "stored id" | "same name"


def stored_id(books_project: BooksProject) -> str | None:
    for custom in books_project.custom_fields:
        if custom.get("api_name") == STORED_ID_FIELD and str(custom.get("value") or "").strip():
            return str(custom["value"]).strip()
    return None


def already_linked(kind: str, source_id: str, name: str, link: Link) -> Entry:
    return Entry(
        kind,
        source_id,
        name,
        SKIPPED,
        f"already linked to Zoho Books {link.books_id or '(being created)'} by an earlier sync; kept as it is",
        link.books_id,
        ALREADY_LINKED,
    )


def pair_projects(
    projects: list[Project], books_projects: list[BooksProject], linked: dict[str, Link], taken: set[str]
) -> tuple[list[Pair], list[Entry]]:
    """Pairs to look at further, and the entries of projects that pair with nothing (or are already linked).

    ``taken``: Books project ids already linked to a Projects project (never adopted a second time).
    """
    free = [b for b in books_projects if b.project_id not in taken]
    by_stored: dict[str, list[BooksProject]] = defaultdict(list)
    by_name: dict[str, list[BooksProject]] = defaultdict(list)
    for books_project in free:
        sid = stored_id(books_project)
        if sid:
            by_stored[sid].append(books_project)
        else:
            by_name[books_project.project_name.strip()].append(books_project)
    names = defaultdict(list)
    for project in projects:
        names[project.name.strip()[:100]].append(project)
    pairs: list[Pair] = []
    entries: list[Entry] = []
    for project in sorted(projects, key=lambda p: p.id):
        if project.id in linked:
            entries.append(already_linked("project", project.id, project.name, linked[project.id]))
            continue
        stored = by_stored.get(project.id, [])
        if len(stored) == 1:
            pairs.append(Pair(project, stored[0], "stored id"))
            continue
        if len(stored) > 1:
            ids = ", ".join(b.project_id for b in stored)
            reason = f"several legacy Books projects carry its id ({ids}); none adopted, the next sync creates its own"
            entries.append(Entry("project", project.id, project.name, CREATED, reason, None, "ambiguous_legacy"))
            continue
        key = project.name.strip()[:100]
        named = by_name.get(key, [])
        if len(named) == 1 and len(names[key]) == 1:
            pairs.append(Pair(project, named[0], "same name"))
        elif named:
            reason = (
                f"its name matches {len(named)} legacy Books project(s) and {len(names[key])} Projects project(s); "
                "none adopted on a guess, the next sync creates its own"
            )
            entries.append(Entry("project", project.id, project.name, CREATED, reason, None, "ambiguous_legacy"))
        elif project.status == "active":
            reason = "no legacy Books project: the next sync creates it (if it has a primary client)"
            entries.append(Entry("project", project.id, project.name, CREATED, reason, None, "no_legacy_record"))
    return pairs, entries
