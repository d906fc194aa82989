"""The ways a sync module reads its source, declared on the module (``SyncModule.paging``).

The engine asks the declared paging for one page at a time and keeps the cursor it returns in the module run's
checkpoint, so a resumed slice continues exactly where the last one stopped. The kinds:

- ``FlatList``: one listing, page by page (users, clients).
- ``PerParent``: children listed under each linked parent (tasks and bugs under projects).

Timesheets (dated windows per project, timelog_paging.py) and projects (project_pages.py: the listing, then the
projects with an open error, each project fetched with its clients and users) implement ``Paging`` themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.db import links, sync_errors
from shared.zoho.errors import NotFound
from shared.zoho.paging import Page
from worker.modules.base import SourcePage, SyncContext

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FlatList:
    """One listing, page by page: ``fetch(ctx, zoho_cursor)`` returns the page at that Zoho cursor (None: the first)."""

    fetch: Callable[[SyncContext, str | None], Page[Any]]

    def page(self, ctx: SyncContext, cursor: dict[str, Any] | None) -> SourcePage:
        page = self.fetch(ctx, (cursor or {}).get("page"))
        return SourcePage(page.items, {"page": page.next_cursor} if page.next_cursor else None)


@dataclass(frozen=True)
class PerParent:
    """Children listed per parent record, page by page; items are (parent id, child) pairs.

    ``fetch(ctx, parent_id, zoho_cursor)`` returns one page of one parent's children. The parents are fixed when
    the module starts — those linked, plus those with an open error (their children are recorded as blocked by
    it) — and kept in the cursor, so a resumed slice continues exactly there. A parent deleted in Projects since it
    synced answers 404: it is skipped, not a reason to fail the module.
    """

    parent_type: str
    fetch: Callable[[SyncContext, str, str | None], Page[Any]]

    def page(self, ctx: SyncContext, cursor: dict[str, Any] | None) -> SourcePage:
        state = cursor or {"parents": parent_ids(ctx, self.parent_type), "index": 0, "page": None}
        # a checkpoint written before the kinds were declared names the parents "projects" (tasks, bugs)
        parents: list[str] = state["parents"] if "parents" in state else state["projects"]
        index = state["index"]
        if index >= len(parents):
            return SourcePage([], None)
        parent_id = parents[index]
        try:
            page = self.fetch(ctx, parent_id, state["page"])
        except NotFound:
            # Deleted in Projects since it synced: nothing under it to list, and no reason to stop the sync of every
            # other parent. What Books holds for it stays as it is.
            log.info("%s %s is gone from Zoho Projects; its children are not listed", self.parent_type, parent_id)
            page = Page([], None)
        items = [(parent_id, child) for child in page.items]
        after = {"parents": parents, "index": index, "page": page.next_cursor}
        if page.next_cursor is not None:
            return SourcePage(items, after)
        if index + 1 >= len(parents):
            return SourcePage(items, None)
        return SourcePage(items, {**after, "index": index + 1, "page": None})


def parent_ids(ctx: SyncContext, parent_type: str) -> list[str]:
    """The parents whose children a module lists: those linked, and those with an open error."""
    with ctx.engine.connect() as conn:
        linked = set(links.books_ids_of(conn, ctx.integration.id, parent_type))  # ids, not whole links
        failed = set(sync_errors.open_error_ids(conn, ctx.integration.id, parent_type))
    return sorted(linked | failed)
