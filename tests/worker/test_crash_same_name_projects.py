"""After a crash, two same-name projects of one customer come back pending with an intent: each adopts its own Books
project.

Projects note a page's intents before its first create and their links wait for the page's checkpoint (issue 18),
so a worker killed mid-page leaves every project it created in that page pending with its intent. The lookup by
intent must not hand the first one's Books project to the second (the Books side of entity_links is unique: the
page would be refused on every retry).
"""

from __future__ import annotations

import sqlalchemy as sa

from sandbox.generator import credentials
from sandbox.projects.changes import create_project
from shared.db import links
from shared.db.schema import entity_links
from worker.connections import clients_for
from worker.modules.projects import BILLING_TYPE

TWIN = "Twin project after a crash"


def _linked(h, condition: sa.ColumnElement[bool]) -> dict[str, str]:
    """Projects id -> Books id of the integration's linked records that meet ``condition``."""
    with h.engine.connect() as conn:
        rows = conn.execute(
            sa.select(entity_links.c.projects_id, entity_links.c.books_id).where(
                entity_links.c.integration_id == h.integration.id, entity_links.c.state == "linked", condition
            )
        )
        return {row.projects_id: row.books_id for row in rows}


def test_two_same_name_projects_left_pending_by_a_crash_each_adopt_their_own_books_project(tiny):
    h = tiny
    iid, world = h.integration.id, h.sandbox.world
    clients = _linked(h, entity_links.c.entity_type == "client")
    portal = credentials(world)["portal_id"]
    with world.lock:
        mismatched = set(world.awkward.get("currency_mismatch_clients", []))
        model = next(
            p
            for p in world.projects.values()
            if p.portal_id == portal and p.status == "active" and p.primary_client_id in set(clients) - mismatched
        )
    client, currency = model.primary_client_id, model.currency_code
    twin = {"primary_client_id": client, "currency_code": currency}
    twins = [create_project(world, portal, TWIN, model.owner_id, **twin).id for _ in range(2)]

    # the state a kill between the two POSTs and the page's checkpoint leaves: both Books projects exist, both links
    # are pending with the intent noted before the page's first POST
    _projects, books = clients_for(h.settings, h.integration)
    manager = next(u.user_id for u in books.iter_users("All") if u.user_role == "admin")
    customer = clients[client]
    payload = {"project_name": TWIN, "customer_id": customer, "billing_type": BILLING_TYPE, "user_id": manager}
    made = {books.create_project(payload).project_id for _ in range(2)}
    with h.engine.begin() as conn:
        for project_id in twins:
            intent = {"books_name": TWIN}
            links.put_pending(conn, iid, "project", project_id, parent_projects_id=client, attributes=intent)
    h.reset_requests()

    run = h.sync(module="projects")

    projects = run.modules["projects"]
    assert projects.created == 2, projects  # the world's awkward projects (no primary client...) fail as ever
    adopted = _linked(h, entity_links.c.projects_id.in_(twins))
    assert set(adopted.values()) == made  # one Books project each, the two the crashed attempt made
    assert not [w for w in h.books_writes() if w[0] == "POST" and w[1].rstrip("/").endswith("/projects")]
