"""After a crash, two same-name tasks of one page come back pending with an intent: each adopts its own Books task.

With per-page batching (issue 18) a create's link waits for the page's checkpoint, so a worker killed mid-page
leaves every task it created in that page pending with its intent. Projects allows two tasks of one name in a
project; the lookup by intent must not hand the first one's Books task to the second (seen in the chaos suite as a
unique violation on the Books side of entity_links, which stalled the run).
"""

from __future__ import annotations

import sqlalchemy as sa

from shared.db import links
from shared.db.schema import entity_links
from worker.connections import clients_for

TWIN = "Twin task after a crash"


def test_two_same_name_tasks_left_pending_by_a_crash_each_adopt_their_own_books_task(tiny):
    h = tiny
    iid = h.integration.id
    with h.engine.connect() as conn:
        project = conn.execute(
            sa.select(entity_links.c.projects_id, entity_links.c.books_id).where(
                entity_links.c.integration_id == iid,
                entity_links.c.entity_type == "project",
                entity_links.c.state == "linked",
            )
        ).first()
    assert project is not None
    first = h.act("create_task", project_id=project.projects_id, name=TWIN)["task_id"]
    second = h.act("create_task", project_id=project.projects_id, name=TWIN)["task_id"]

    # the state a kill between the two POSTs and the page's checkpoint leaves: both Books tasks exist, both links
    # are pending with the intent noted before each POST
    _projects, books = clients_for(h.settings, h.integration)
    made = {books.create_project_task(project.books_id, {"task_name": TWIN}).task_id for _ in range(2)}
    with h.engine.begin() as conn:
        for task_id in (first, second):
            links.put_pending(
                conn,
                iid,
                "task",
                task_id,
                parent_projects_id=project.projects_id,
                attributes={"books_name": TWIN},
            )
    h.reset_requests()

    run = h.sync(module="tasks")

    tasks = run.modules["tasks"]
    assert tasks.created == 2 and tasks.failed == 0, tasks
    with h.engine.connect() as conn:
        adopted = {
            row.projects_id: row.books_id
            for row in conn.execute(
                sa.select(entity_links.c.projects_id, entity_links.c.books_id).where(
                    entity_links.c.integration_id == iid, entity_links.c.projects_id.in_([first, second])
                )
            )
        }
    assert set(adopted.values()) == made  # one Books task each, the two the crashed attempt made
    assert not [w for w in h.books_writes() if w[0] == "POST" and "/tasks" in w[1]]  # nothing created again
