"""Paging for modules whose records live under a project (tasks, bugs): project by project, page by page.

The project list is fixed when the module starts (linked projects plus projects with an open error, whose
children are recorded as blocked) and kept in the checkpoint, so a resumed slice continues exactly there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.db import links, sync_errors
from shared.zoho.paging import Page
from worker.modules.base import SourcePage, SyncContext


def project_ids(ctx: SyncContext) -> list[str]:
    with ctx.engine.connect() as conn:
        linked = {pid for pid, link in links.links_of(conn, ctx.integration.id, "project").items() if link.books_id}
        failed = set(sync_errors.open_error_ids(conn, ctx.integration.id, "project"))
    return sorted(linked | failed)


def per_project_pages(
    ctx: SyncContext, cursor: dict[str, Any] | None, fetch: Callable[[str, str | None], Page[Any]]
) -> SourcePage:
    """One page of children of the current project; items are (project id, child) pairs."""
    state = cursor or {"projects": project_ids(ctx), "index": 0, "page": None}
    projects, index = state["projects"], state["index"]
    if index >= len(projects):
        return SourcePage([], None)
    project_id = projects[index]
    page = fetch(project_id, state["page"])
    items = [(project_id, child) for child in page.items]
    if page.next_cursor is not None:
        return SourcePage(items, {**state, "page": page.next_cursor})
    if index + 1 >= len(projects):
        return SourcePage(items, None)
    return SourcePage(items, {**state, "index": index + 1, "page": None})
