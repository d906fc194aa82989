"""Paging for modules whose records live under a project (tasks, bugs): project by project, page by page.

The project list is fixed when the module starts (linked projects plus projects with an open error, whose
children are recorded as blocked) and kept in the checkpoint, so a resumed slice continues exactly there. A project
deleted in Projects since it synced answers 404: it is skipped, not a reason to fail the module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from shared.db import links, sync_errors
from shared.zoho.errors import NotFound
from shared.zoho.paging import Page
from worker.modules.base import SourcePage, SyncContext

log = logging.getLogger(__name__)


def project_ids(ctx: SyncContext) -> list[str]:
    with ctx.engine.connect() as conn:
        linked = set(links.books_ids_of(conn, ctx.integration.id, "project"))  # ids only, not whole links
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
    try:
        page = fetch(project_id, state["page"])
    except NotFound:
        # Deleted in Projects since it synced: nothing under it to list, and no reason to stop the sync of every
        # other project. What Books holds for it stays as it is.
        log.info("project %s is gone from Zoho Projects; its children are not listed", project_id)
        page = Page([], None)
    items = [(project_id, child) for child in page.items]
    if page.next_cursor is not None:
        return SourcePage(items, {**state, "page": page.next_cursor})
    if index + 1 >= len(projects):
        return SourcePage(items, None)
    return SourcePage(items, {**state, "index": index + 1, "page": None})
