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
from typing import Any, ClassVar

from shared.db import links, sync_errors
from shared.db.links import Link
from shared.zoho.errors import NotFound
from shared.zoho.paging import Page
from worker.modules.base import SourcePage, SyncContext, parent_maps, source_key

log = logging.getLogger(__name__)
# Parents whose children's links are read in one query (PerParent.child_type): a window of tasks' links is ~20 links
# a parent, so a few hundred KB at most held by a slice.
LINKS_AHEAD = 50


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

    With ``child_type`` (the children's entity type) the links of the children of the next ``LINKS_AHEAD`` parents
    are read in one query and handed with each page (``SourcePage.links``): most parents have one page of a few
    children, and a query per page was most of an incremental run's database time (issue 18).
    """

    parent_type: str
    fetch: Callable[[SyncContext, str, str | None], Page[Any]]
    child_type: str | None = None
    # the engine may read the next page in a thread while it syncs this one (worker/read_ahead.py): a page is a
    # listing call and the links read ahead, which only this paging touches
    reads_ahead: ClassVar[bool] = True

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
        known = self._links_ahead(ctx, parents, index, items) if self.child_type is not None else None
        after = {"parents": parents, "index": index, "page": page.next_cursor}
        if page.next_cursor is not None:
            return SourcePage(items, after, known)
        if index + 1 >= len(parents):
            return SourcePage(items, None, known)
        return SourcePage(items, {**after, "index": index + 1, "page": None}, known)

    def _links_ahead(
        self, ctx: SyncContext, parents: list[str], index: int, items: list[tuple[str, Any]]
    ) -> dict[str, Link | None]:
        """The links of this page's children: those read ahead for their parent (read, with those of the next
        parents, when the parent is not among them), then, for a linked parent, the rest in one query (no link yet,
        or one under another parent: a task moved between projects).

        Each link is handed once, and the engine reads afresh a child listed again in the slice (moved during the
        listing: PageBatch.read), so a link this slice wrote since this read is never seen as it was before.
        """
        assert self.child_type is not None
        ahead: dict[str, dict[str, Link]] = ctx.memo.setdefault(f"links_ahead:{self.child_type}", {})
        parent_id = parents[index]
        if parent_id not in ahead:
            # A slice's first page is read by the slice itself, not ahead in the thread: only its own parent's links
            # then (the next page's read, in the thread, takes the window of LINKS_AHEAD).
            window = parents[index : index + (LINKS_AHEAD if ahead else 1)]
            with ctx.engine.connect() as conn:
                read = links.links_under(conn, ctx.integration.id, self.child_type, set(window))
            ahead.clear()
            ahead.update({parent: {} for parent in window})
            for link in read:
                if link.parent_projects_id in ahead:
                    ahead[link.parent_projects_id][link.projects_id] = link
        under = ahead[parent_id]
        known: dict[str, Link | None] = {}
        elsewhere: list[str] = []  # not under this parent: no link yet, or one under another parent
        for _parent, child in items:
            key = source_key(child)
            if key is not None and key in under:
                known[key] = under.pop(key)
            elif key is not None:
                elsewhere.append(key)
        if elsewhere and parent_id in parent_maps(ctx, self.parent_type)[0]:
            # Read here, in the read-ahead thread, rather than by the engine's thread when the page is synced (a
            # first sync's every page: 6% of its time). Children of a parent not linked are blocked: no read.
            with ctx.engine.connect() as conn:
                found = links.links_for(conn, ctx.integration.id, self.child_type, elsewhere)
            known |= {key: found.get(key) for key in elsewhere}
        return known


def parent_ids(ctx: SyncContext, parent_type: str) -> list[str]:
    """The parents whose children a module lists: those linked, and those with an open error."""
    with ctx.engine.connect() as conn:
        linked = set(links.books_ids_of(conn, ctx.integration.id, parent_type))  # ids, not whole links
        failed = set(sync_errors.open_error_ids(conn, ctx.integration.id, parent_type))
    return sorted(linked | failed)
