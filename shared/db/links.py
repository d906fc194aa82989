"""Entity links: which Books record a Projects record became, and the fingerprint of what we last wrote.

A link is written as ``pending`` BEFORE the Books create (Zoho has no idempotency key); a retry that finds a
pending link looks the record up in Books before creating it again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from shared.clock import utcnow
from shared.db.schema import entity_links


@dataclass(frozen=True)
class Link:
    id: int
    entity_type: str
    projects_id: str
    books_id: str | None
    state: str
    fingerprint: str | None
    parent_projects_id: str | None
    attributes: dict[str, Any]
    module_run_id: int | None = None  # the module run that last wrote it

    @property
    def pending(self) -> bool:
        return self.state == "pending"


def unsaved(entity_type: str, projects_id: str, parent_projects_id: str | None) -> Link:
    """A pending link not written yet (id 0): base.note_intent writes it together with the intent."""
    return Link(0, entity_type, projects_id, None, "pending", None, parent_projects_id, {})


def fingerprint(fields: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def _link(row: sa.Row[Any]) -> Link:
    m = row._mapping
    return Link(
        m["id"],
        m["entity_type"],
        m["projects_id"],
        m["books_id"],
        m["state"],
        m["fingerprint"],
        m["parent_projects_id"],
        m["attributes"] or {},
        m["module_run_id"],
    )


def links_of(conn: sa.Connection, integration_id: int, entity_type: str) -> dict[str, Link]:
    rows = conn.execute(
        sa.select(entity_links).where(
            entity_links.c.integration_id == integration_id, entity_links.c.entity_type == entity_type
        )
    )
    return {r.projects_id: _link(r) for r in rows}


def links_under(conn: sa.Connection, integration_id: int, entity_type: str, parent_ids: set[str]) -> list[Link]:
    """Links of ``entity_type`` whose Projects parent is one of ``parent_ids``."""
    rows = conn.execute(
        sa.select(entity_links).where(
            entity_links.c.integration_id == integration_id,
            entity_links.c.entity_type == entity_type,
            entity_links.c.parent_projects_id.in_(sorted(parent_ids)),
        )
    )
    return [_link(r) for r in rows]


def links_for(
    conn: sa.Connection, integration_id: int, entity_type: str, projects_ids: Collection[str]
) -> dict[str, Link]:
    """The links of these Projects records (one query for a whole source page; absent ids have none)."""
    if not projects_ids:
        return {}
    rows = conn.execute(
        sa.select(entity_links).where(
            entity_links.c.integration_id == integration_id,
            entity_links.c.entity_type == entity_type,
            entity_links.c.projects_id.in_(sorted(set(projects_ids))),
        )
    )
    return {r.projects_id: _link(r) for r in rows}


def any_linked(conn: sa.Connection, integration_id: int, entity_type: str) -> bool:
    """Whether any record of ``entity_type`` is linked to Books (not just pending)."""
    row = conn.execute(
        sa.select(entity_links.c.id)
        .where(
            entity_links.c.integration_id == integration_id,
            entity_links.c.entity_type == entity_type,
            entity_links.c.books_id.is_not(None),
        )
        .limit(1)
    ).first()
    return row is not None


def get_link(conn: sa.Connection, integration_id: int, entity_type: str, projects_id: str) -> Link | None:
    row = conn.execute(
        sa.select(entity_links).where(
            entity_links.c.integration_id == integration_id,
            entity_links.c.entity_type == entity_type,
            entity_links.c.projects_id == projects_id,
        )
    ).first()
    return _link(row) if row else None


def books_id_of(conn: sa.Connection, integration_id: int, entity_type: str, projects_id: str) -> str | None:
    link = get_link(conn, integration_id, entity_type, projects_id)
    return link.books_id if link and not link.pending else None


def books_ids_of(conn: sa.Connection, integration_id: int, entity_type: str) -> dict[str, str]:
    """Projects id -> Books id of every linked (not pending) record of ``entity_type``."""
    rows = conn.execute(
        sa.select(entity_links.c.projects_id, entity_links.c.books_id).where(
            entity_links.c.integration_id == integration_id,
            entity_links.c.entity_type == entity_type,
            entity_links.c.state == "linked",
            entity_links.c.books_id.is_not(None),
        )
    )
    return {r.projects_id: r.books_id for r in rows}


def claimed_books_ids(conn: sa.Connection, integration_id: int, entity_type: str) -> set[str]:
    rows = conn.execute(
        sa.select(entity_links.c.books_id).where(
            entity_links.c.integration_id == integration_id,
            entity_links.c.entity_type == entity_type,
            entity_links.c.books_id.is_not(None),
        )
    )
    return {r.books_id for r in rows}


def put_pending(
    conn: sa.Connection,
    integration_id: int,
    entity_type: str,
    projects_id: str,
    *,
    parent_projects_id: str | None = None,
    attributes: dict[str, Any] | None = None,
) -> Link:
    pending = (projects_id, parent_projects_id, attributes or {})
    return put_pending_many(conn, integration_id, entity_type, [pending])[projects_id]


def put_pending_many(
    conn: sa.Connection,
    integration_id: int,
    entity_type: str,
    pending: Sequence[tuple[str, str | None, dict[str, Any]]],
) -> dict[str, Link]:
    """Pending links of several records in one statement: (projects id, parent projects id, attributes) each; the
    new links by projects id (RETURNING: they come back with the insert, one round trip, issue 18)."""
    if not pending:
        return {}
    now = utcnow()
    rows = conn.execute(
        entity_links.insert().returning(*entity_links.c),
        [
            {
                "integration_id": integration_id,
                "entity_type": entity_type,
                "projects_id": projects_id,
                "books_id": None,
                "state": "pending",
                "parent_projects_id": parent,
                "attributes": attributes,
                "created_at": now,
            }
            for projects_id, parent, attributes in pending
        ],
    ).all()
    return {link.projects_id: link for link in map(_link, rows)}


def complete(
    conn: sa.Connection, link_id: int, books_id: str, fields: dict[str, Any], *, module_run_id: int | None = None
) -> None:
    complete_many(conn, [(link_id, books_id, fields)], module_run_id=module_run_id)


def complete_many(
    conn: sa.Connection, completed: Sequence[tuple[int, str, dict[str, Any]]], *, module_run_id: int | None = None
) -> None:
    """Pending links linked to their Books records in one statement: (link id, Books id, fields written) each."""
    if not completed:
        return
    conn.execute(
        entity_links.update()
        .where(entity_links.c.id == sa.bindparam("link_id"))
        .values(
            books_id=sa.bindparam("new_books_id"),
            state="linked",
            fingerprint=sa.bindparam("new_fingerprint"),
            last_synced_at=utcnow(),
            module_run_id=module_run_id,
        ),
        [
            {"link_id": link_id, "new_books_id": books_id, "new_fingerprint": fingerprint(fields)}
            for link_id, books_id, fields in completed
        ],
    )


def refresh(conn: sa.Connection, link_id: int, fields: dict[str, Any], *, module_run_id: int | None = None) -> None:
    conn.execute(
        entity_links.update()
        .where(entity_links.c.id == link_id)
        .values(fingerprint=fingerprint(fields), last_synced_at=utcnow(), module_run_id=module_run_id)
    )


def refresh_many(conn: sa.Connection, fingerprints: dict[int, str], *, module_run_id: int | None = None) -> None:
    """``refresh`` for several links in one statement: link id -> fingerprint of what was written."""
    if not fingerprints:
        return
    conn.execute(
        entity_links.update()
        .where(entity_links.c.id == sa.bindparam("link_id"))
        .values(fingerprint=sa.bindparam("new_fingerprint"), last_synced_at=utcnow(), module_run_id=module_run_id),
        [{"link_id": k, "new_fingerprint": v} for k, v in fingerprints.items()],
    )


def remove(conn: sa.Connection, link_id: int) -> None:
    conn.execute(entity_links.delete().where(entity_links.c.id == link_id))


def forget_unposted(conn: sa.Connection, link_ids: Sequence[int]) -> None:
    """Drop pending links whose record was never posted (the caller knows: it noted them and never tried the
    create); a link linked meanwhile is kept."""
    if link_ids:
        conn.execute(
            entity_links.delete().where(entity_links.c.id.in_(list(link_ids)), entity_links.c.state == "pending")
        )
