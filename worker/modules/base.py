"""What a sync module declares, and the context the engine hands it.

A module says how it reads its source (``paging``), how a source record maps (``to_record``: the fields we copy, which
parent link it needs), the product rules it enforces (``check``), how to find a Books record to adopt
(``find_existing``: merge rules, or a retry after a crash between the POST and the link), and the Books
writes (``create`` / ``update``). The engine (worker/engine.py) does the rest the same way for every module.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa

from shared.config import Settings
from shared.db.integrations import Integration
from shared.db.links import Link, books_ids_of, links_of, put_pending
from shared.db.runs import ModuleRun
from shared.db.schema import entity_links
from shared.db.sync_errors import Problem, open_error_ids
from shared.zoho.books import BooksClient
from shared.zoho.projects import ProjectsClient

T = TypeVar("T")


@dataclass
class SyncContext:
    engine: sa.Engine
    settings: Settings
    integration: Integration
    module_run: ModuleRun
    projects: ProjectsClient
    books: BooksClient
    # per-slice lookups a module builds once (Books currencies, contacts by name...)
    memo: dict[str, Any] = field(default_factory=dict)
    # the link of the record being written (set by the engine before find_existing/create)
    link: Link | None = None
    # Books ids this slice linked whose links wait for the page's checkpoint (PageBatch.completed): a lookup after
    # a crash (find_existing) must not adopt one of them for a second record, as if nothing held it
    page_books_ids: set[str] = field(default_factory=set)

    def remember(self, key: str, build: Callable[[], T]) -> T:
        if key not in self.memo:
            self.memo[key] = build()
        value: T = self.memo[key]
        return value


def parent_maps(ctx: SyncContext, entity_type: str) -> tuple[dict[str, str], dict[str, int]]:
    """Books ids and open errors of a parent type, read once per slice (parents run before their children)."""

    def load() -> tuple[dict[str, str], dict[str, int]]:
        # two columns, not whole links (their attributes): this map is the biggest thing a child's slice holds
        with ctx.engine.connect() as conn:
            linked = books_ids_of(conn, ctx.integration.id, entity_type)
            return linked, open_error_ids(conn, ctx.integration.id, entity_type)

    return ctx.remember(f"parents:{entity_type}", load)


def note_intent(ctx: SyncContext, **attributes: Any) -> None:
    """Store what we are about to create (e.g. the Books name) on the pending link BEFORE the POST.

    Zoho has no idempotency key: if the worker dies after the POST, the retry finds this and looks the record up
    by it instead of creating a second one. A link the engine left unsaved (``SyncModule.intent_first``) is
    written here, pending, with the intent: one transaction instead of two.
    """
    assert ctx.link is not None
    merged = {**ctx.link.attributes, **attributes}
    if ctx.link.id and merged == ctx.link.attributes:
        return  # noted already: the engine notes a page's intents before its first create (SyncModule.intent)
    with ctx.engine.begin() as conn:
        if not ctx.link.id:
            ctx.link = put_pending(
                conn,
                ctx.integration.id,
                ctx.link.entity_type,
                ctx.link.projects_id,
                parent_projects_id=ctx.link.parent_projects_id,
                attributes=merged,
            )
            return
        conn.execute(entity_links.update().where(entity_links.c.id == ctx.link.id).values(attributes=merged))
    ctx.link = dataclasses.replace(ctx.link, attributes=merged)


def slice_links(ctx: SyncContext, entity_type: str) -> dict[str, Link]:
    """Links of a parent entity type (projects id -> Link), read once per slice: parents run before children."""

    def load() -> dict[str, Link]:
        with ctx.engine.connect() as conn:
            return links_of(conn, ctx.integration.id, entity_type)

    return ctx.remember(f"links:{entity_type}", load)


class ProblemError(Exception):
    """Raised by a module when a product rule fails on what Books holds (e.g. an ambiguous customer)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


@dataclass(frozen=True)
class Record:
    """One source record as the engine sees it."""

    projects_id: str
    name: str
    fields: dict[str, Any]  # what we copy to Books; its fingerprint decides whether to write
    parent: tuple[str, str] | None = None  # (entity type, projects id) whose Books link this record needs
    source: Any = None
    skip: bool = False  # deliberately not synced (e.g. an archived project never linked): counted, no error


@dataclass(frozen=True)
class SourcePage:
    items: list[Any]
    next_cursor: dict[str, Any] | None  # None: the module has seen everything
    # Links the paging read already (Projects id -> Link, None: no link), so the page's links cost one query either
    # way: the engine reads those of the other items.
    links: dict[str, Link | None] | None = None
    # The cursor after the page's first n items (n >= 0), for a paging whose items cost Zoho calls to make: a slice
    # interrupted inside the page resumes there instead of reading the page, and making its items, again.
    cursor_within: Callable[[int], dict[str, Any] | None] | None = None
    # The paging stopped early on this error (e.g. a 429 halfway through making the items): the engine syncs and
    # commits what was made, then raises it, so the slice waits and the next one goes on from ``next_cursor``.
    stopped_by: Exception | None = None


def source_key(item: Any) -> str | None:
    """The Projects id of a source item, guessed before the module maps it: a page's links are read by these.

    Items are records with an ``id`` or (parent id, record) pairs. A wrong or missing guess only costs a lookup of
    that one record (PageBatch.link), never a wrong answer.
    """
    target = item[-1] if isinstance(item, tuple) and item else item
    value = getattr(target, "id", None)
    return str(value) if isinstance(value, str | int) else None


class Paging(Protocol):
    """How a module reads its source, declared (worker/modules/paging.py has the kinds): the engine asks for the
    page after ``cursor`` (None: the first) and stores the returned cursor in the module run's checkpoint."""

    def page(self, ctx: SyncContext, cursor: dict[str, Any] | None) -> SourcePage: ...


@dataclass(frozen=True)
class SyncModule:
    name: str
    entity_type: str
    paging: Paging
    to_record: Callable[[SyncContext, Any], Record]
    create: Callable[[SyncContext, Record, str | None], str]
    update: Callable[[SyncContext, Record, str, str | None], None]
    check: Callable[[SyncContext, Record], Problem | None] = lambda _ctx, _record: None
    find_existing: Callable[[SyncContext, Record, Link, str | None], str | None] = lambda *_: None
    parent_label: str = "project"
    # Called for every skipped record with its link (or None): undo what an earlier run wrote for a record that
    # no longer qualifies or was deleted (e.g. a time log). The engine then drops the link.
    retire: Callable[[SyncContext, Record, Link | None], None] | None = None
    # True when ``create`` calls note_intent before any Books write: the engine then leaves the new pending link to
    # note_intent to write, with the intent, in one transaction. Leave False for any create that writes to Books
    # before noting its intent (the pending link must be committed before the POST).
    intent_first: bool = False
    # What ``create`` notes (note_intent) before its POST, known from the record alone, for a module whose
    # find_existing only looks for what an earlier attempt posted (no merge rule that adopts a record we did not
    # create). The engine then notes the intents of a page's new records in one transaction before the page's first
    # create, instead of a transaction per create (issue 18), and skips find_existing for them: nothing was posted.
    intent: Callable[[Record], dict[str, Any]] | None = None
