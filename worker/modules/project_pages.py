"""How the projects module reads: the listing, then the projects with an open error, each project with what its
record needs from Zoho besides the listing (its clients, its users), so that mapping a project is pure.

After the first full sync the listing holds only projects modified since the last successful run; the projects
with an open error the listing did not bring are then fetched one by one (the retry phase).

A project costs two calls of its own (clients, users), a listing page of 100 two hundred: more than a Projects
quota window (100 calls in 2 minutes), and a throttled slice stops at once. So a listing page is handed to the
engine ``CHUNK`` projects at a time, the cursor keeping the ids not handed yet; the next page reads the listing
page again (one call) and takes those ids from it, fetching alone an id the listing no longer holds there (moved by
an edit, or gone: then skipped). A call that fails halfway through a chunk (a 429) hands over the projects already
fetched (``SourcePage.stopped_by``) and the cursor keeps the rest: none is fetched twice, none skipped. A slice
interrupted while it writes a page (a Books 429) resumes after the last project written (``SourcePage.
cursor_within``), the cursor keeping what was fetched for the page's other projects (``MADE``: their clients and
user ids, a few KB) — also when not one was written yet, so a Books 429 storm costs a listing read a slice, not a
chunk's calls.

A checkpoint written before the chunks names only the listing page: it is read again from its start. A slice an
older worker left inside that page (``{_mid_page, _skip}``) therefore syncs again its records past the first chunk
that were done; they are found by their links (nothing written to Books twice), only counted again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.db import links, runs, sync_errors
from shared.zoho.errors import NotFound
from shared.zoho.projects_models import ClientCompany, PortalUser, Project
from worker.modules.base import SourcePage, SyncContext
from worker.modules.clients import client_directory

log = logging.getLogger(__name__)

# Zoho's modified-since filter compares server clocks; re-reading a small overlap costs little and misses nothing.
INCREMENTAL_OVERLAP = dt.timedelta(minutes=5)
# Projects handed over per page: 40 calls of their own and a listing read, within one quota window.
CHUNK = 20
# The cursor's key for what was fetched of projects handed over but not written yet (a slice interrupted inside a
# page): project id -> {"clients": [the fields mapping reads], "users": [ids]}.
MADE = "made"
CLIENT_FIELDS = {"id", "name", "email", "currency_code", "is_primary"}


@dataclass(frozen=True)
class ProjectSource:
    """A listed project and what its record is made of, fetched by the paging."""

    project: Project
    linked: bool  # a link exists (an archived project never linked is skipped, and nothing is fetched for it)
    clients: tuple[ClientCompany, ...] = ()
    users: tuple[PortalUser, ...] = ()
    user_books_ids: Mapping[str, str] = field(default_factory=dict)  # portal user id -> Books user id (the slice's)
    fetched: bool = False  # clients and users were fetched (a project to sync)

    @property
    def id(self) -> str:  # the page's links are read by it (base.source_key)
        return self.project.id


class ProjectPages:
    """The projects module's ``Paging``; cursor shapes:

    - ``{"phase": "list", "page": zoho cursor, "since": ms | None, "seen": [ids]}``: read the listing page at ``page``
      (``seen``: the ids listed so far by a modified-since listing, which the retry phase leaves out);
    - the same with ``"rest": [ids], "next": zoho cursor | None``: that page was read, these ids of it are left;
    - ``{"phase": "retry", "retry": [ids]}``: projects with an open error, fetched one by one;
    - either with ``MADE``: what was fetched of the first of those ids, handed over once and not written yet.
    """

    def page(self, ctx: SyncContext, cursor: dict[str, Any] | None) -> SourcePage:
        state = cursor or {"phase": "list", "page": None, "since": _since_ms(ctx), "seen": []}
        made: dict[str, Any] = state.get(MADE, {})
        state = {key: value for key, value in state.items() if key != MADE}
        if state["phase"] == "retry":
            return _hand_over(ctx, state["retry"], lambda pid: _retried(ctx, pid), _retry_state, made)
        listing = ctx.projects.projects_page(state["page"], modified_since_ms=state["since"])
        listed = {p.id: p for p in listing.items}
        if "rest" in state:
            ids, next_page, seen = state["rest"], state["next"], state["seen"]
        else:
            ids, next_page = list(listed), listing.next_cursor
            seen = state["seen"] + ids if state["since"] else []

        def after(rest: list[str]) -> dict[str, Any] | None:
            if rest:
                return {**state, "seen": seen, "rest": rest, "next": next_page}
            return _after_listing(ctx, state["since"], seen, next_page)

        return _hand_over(ctx, ids, lambda pid: listed.get(pid) or _moved(ctx, pid), after, made)


def _since_ms(ctx: SyncContext) -> int | None:
    started = runs.last_success_started(ctx.engine, ctx.integration.id, "projects")
    return int((started - INCREMENTAL_OVERLAP).timestamp() * 1000) if started else None


def _after_listing(
    ctx: SyncContext, since: int | None, seen: list[str], next_page: str | None
) -> dict[str, Any] | None:
    if next_page is not None:
        return {"phase": "list", "page": next_page, "since": since, "seen": seen}
    if since is None:
        return None  # a full listing already covered the failed ones
    with ctx.engine.connect() as conn:
        failed = sync_errors.open_error_ids(conn, ctx.integration.id, "project")
    return _retry_state(sorted(set(failed) - set(seen)))


def _retry_state(rest: list[str]) -> dict[str, Any] | None:
    return {"phase": "retry", "retry": rest} if rest else None


def _retried(ctx: SyncContext, project_id: str) -> Project | None:
    try:
        return ctx.projects.get_project(project_id)
    except NotFound:
        with ctx.engine.begin() as conn:  # deleted in Projects: its error is moot
            sync_errors.resolve(conn, ctx.integration.id, "project", project_id)
        return None


def _moved(ctx: SyncContext, project_id: str) -> Project | None:
    """A project left to hand over that the listing page, read again, no longer holds."""
    try:
        return ctx.projects.get_project(project_id)
    except NotFound:
        log.info("project %s is gone from Zoho Projects since it was listed", project_id)
        return None


def _hand_over(
    ctx: SyncContext,
    ids: list[str],
    project_of: Callable[[str], Project | None],
    after: Callable[[list[str]], dict[str, Any] | None],
    made: dict[str, Any],
) -> SourcePage:
    """The first ``CHUNK`` of ``ids`` as a page of ProjectSource; ``after(ids left)`` is the cursor after them;
    ``made``: what was fetched already of some of them."""
    chunk, rest = ids[:CHUNK], ids[CHUNK:]
    if chunk:
        # The product rules may name the other clients of a project's customer (a currency mismatch): their names
        # are read here, once per slice, before the chunk spends the quota. A page's records then need no Projects
        # call, so a page handed over when the quota ran out (stopped_by) is always written.
        client_directory(ctx)
    with ctx.engine.connect() as conn:  # the chunk's links, one query: the engine takes them with the page
        found = links.links_for(conn, ctx.integration.id, "project", chunk)
    items: list[ProjectSource] = []
    positions: list[int] = []  # each item's place in the chunk
    cut, stopped_by = len(chunk), None
    for position, project_id in enumerate(chunk):
        try:
            project = project_of(project_id)
            item = _source(ctx, project, project_id in found, made.get(project_id)) if project is not None else None
        except Exception as exc:
            if not items:
                raise  # nothing fetched to keep: the page is read again
            cut, stopped_by = position, exc
            break
        if item is not None:
            items.append(item)
            positions.append(position)
    left = chunk[cut:] + rest
    next_cursor = after(left)

    def cursor_within(done: int) -> dict[str, Any] | None:
        remaining = chunk[positions[done - 1] + 1 if done else 0 : cut] + left
        kept = {item.id: _kept(item) for item in items[done:] if item.fetched}
        if not kept:
            return next_cursor if remaining == left else after(remaining)
        resumed = after(remaining)
        assert resumed is not None  # ids remain, so a cursor names them
        return {**resumed, MADE: kept}

    page_links = {project_id: found.get(project_id) for project_id in chunk}
    return SourcePage(items, next_cursor, page_links, cursor_within, stopped_by)


def _source(ctx: SyncContext, project: Project, linked: bool, kept: dict[str, Any] | None) -> ProjectSource | None:
    if project.status != "active" and not linked:
        return ProjectSource(project, linked)  # not synced: nothing to fetch for it
    if kept is not None:
        clients = tuple(ClientCompany.model_validate(c) for c in kept["clients"])
        users = tuple(PortalUser(id=user_id) for user_id in kept["users"])
        return ProjectSource(project, linked, clients, users, _user_books_ids(ctx), fetched=True)
    try:
        clients = tuple(ctx.projects.project_clients(project.id))
        users = tuple(ctx.projects.iter_project_users(project.id))
    except NotFound:
        log.info("project %s is gone from Zoho Projects since it was listed", project.id)
        return None
    return ProjectSource(project, linked, clients, users, _user_books_ids(ctx), fetched=True)


def _kept(item: ProjectSource) -> dict[str, Any]:
    """What mapping reads of a project's clients and users, for the cursor."""
    return {
        "clients": [client.model_dump(include=CLIENT_FIELDS) for client in item.clients],
        "users": [user.id for user in item.users],
    }


def _user_books_ids(ctx: SyncContext) -> dict[str, str]:
    """Linked users, read once per slice: the users module ran before this one."""

    def load() -> dict[str, str]:
        with ctx.engine.connect() as conn:
            return links.books_ids_of(conn, ctx.integration.id, "user")

    return ctx.remember("user_books_ids", load)
