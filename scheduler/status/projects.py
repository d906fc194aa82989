"""Per project: what was synced under it (tasks, bugs, later time entries) and what is blocked.

Children are found through ``entity_links.parent_projects_id``; blocked records through ``sync_errors``
rows that point at the project's error (``blocked_by``) or belong to one of its linked children.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from scheduler.status.errors import ErrorDetail, error_details, errors_blocked_by, get_error
from scheduler.status.timefmt import iso
from shared.clock import as_utc
from shared.db.schema import entity_links, sync_errors

PROJECT = "project"


class ProjectNotFound(LookupError):
    def __init__(self, project_id: str) -> None:
        super().__init__(f"project {project_id!r} was never synced nor failed in this integration")


@dataclass(frozen=True)
class LinkedRecord:
    entity_type: str
    projects_id: str
    books_id: str | None
    name: str | None
    state: str  # linked | pending (written before the Books POST; a retry completes it)
    last_synced_at: dt.datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "entity_type": self.entity_type,
            "projects_id": self.projects_id,
            "books_id": self.books_id,
            "name": self.name,
            "state": self.state,
            "last_synced_at": iso(self.last_synced_at),
        }


@dataclass(frozen=True)
class ProjectSummary:
    projects_id: str
    name: str | None
    books_id: str | None
    synced: dict[str, int]  # linked children by entity type
    error_id: int | None  # the project's own open error
    blocked: int  # open errors of records under it

    def as_json(self) -> dict[str, Any]:
        return {
            "projects_id": self.projects_id,
            "name": self.name,
            "books_id": self.books_id,
            "synced": self.synced,
            "error_id": self.error_id,
            "blocked": self.blocked,
        }


@dataclass(frozen=True)
class ProjectDetail:
    project: LinkedRecord
    error: ErrorDetail | None
    children: list[LinkedRecord] = field(default_factory=list)
    blocked: list[ErrorDetail] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "project": self.project.as_json(),
            "error": self.error.as_json() if self.error else None,
            "children": [c.as_json() for c in self.children],
            "blocked": [b.as_json() for b in self.blocked],
        }


def _linked(row: sa.Row) -> LinkedRecord:
    attributes = row.attributes or {}
    return LinkedRecord(
        row.entity_type,
        row.projects_id,
        row.books_id,
        attributes.get("books_name"),
        row.state,
        as_utc(row.last_synced_at),
    )


def project_summaries(engine: sa.Engine, integration_id: int) -> list[ProjectSummary]:
    """Every project that was linked or failed, with counts of what is synced and blocked under it."""
    with engine.connect() as conn:
        projects = {r.projects_id: _linked(r) for r in conn.execute(_links(integration_id, entity_type=PROJECT))}
        children = conn.execute(
            sa.select(entity_links.c.parent_projects_id, entity_links.c.entity_type, sa.func.count())
            .where(
                entity_links.c.integration_id == integration_id,
                entity_links.c.parent_projects_id.is_not(None),
                entity_links.c.state == "linked",
            )
            .group_by(entity_links.c.parent_projects_id, entity_links.c.entity_type)
        ).all()
    open_errors = error_details(engine, integration_id)
    own_errors = {e.source_id: e for e in open_errors if e.entity_type == PROJECT}
    blocked = Counter(e.blocked_by for e in open_errors if e.blocked_by is not None)
    synced: dict[str, dict[str, int]] = {}
    for parent, entity_type, count in children:
        synced.setdefault(parent, {})[entity_type] = int(count)
    summaries = []
    for pid in sorted(set(projects) | set(own_errors)):
        link, error = projects.get(pid), own_errors.get(pid)
        name = (link.name if link else None) or (error.source_name if error else None)
        summaries.append(
            ProjectSummary(
                pid,
                name,
                link.books_id if link else None,
                synced.get(pid, {}),
                error.id if error else None,
                blocked.get(error.id, 0) if error else 0,
            )
        )
    return sorted(summaries, key=lambda s: ((s.name or "").lower(), s.projects_id))


def project_detail(engine: sa.Engine, integration_id: int, projects_id: str) -> ProjectDetail:
    with engine.connect() as conn:
        link = conn.execute(_links(integration_id, entity_type=PROJECT, projects_id=projects_id)).first()
        children = [_linked(r) for r in conn.execute(_links(integration_id, parent=projects_id))]
        error_id = conn.execute(
            sa.select(sync_errors.c.id).where(
                sync_errors.c.integration_id == integration_id,
                sync_errors.c.entity_type == PROJECT,
                sync_errors.c.source_id == projects_id,
                sync_errors.c.resolved_at.is_(None),
            )
        ).scalar()
    error = get_error(engine, error_id) if error_id is not None else None
    if link is not None:
        project = _linked(link)
    elif error is not None:
        project = LinkedRecord(PROJECT, projects_id, None, error.source_name, "failed", None)
    else:
        raise ProjectNotFound(projects_id)
    blocked = errors_blocked_by(engine, error.id) if error else []
    child_keys = {(c.entity_type, c.projects_id) for c in children}
    blocked += [
        e
        for e in error_details(engine, integration_id)
        if (e.entity_type, e.source_id) in child_keys and e not in blocked
    ]
    children.sort(key=lambda c: (c.entity_type, (c.name or "").lower(), c.projects_id))
    return ProjectDetail(project, error, children, blocked)


def _links(
    integration_id: int, *, entity_type: str | None = None, projects_id: str | None = None, parent: str | None = None
) -> sa.Select:
    query = sa.select(entity_links).where(entity_links.c.integration_id == integration_id)
    if entity_type is not None:
        query = query.where(entity_links.c.entity_type == entity_type)
    if projects_id is not None:
        query = query.where(entity_links.c.projects_id == projects_id)
    if parent is not None:
        query = query.where(entity_links.c.parent_projects_id == parent)
    return query
