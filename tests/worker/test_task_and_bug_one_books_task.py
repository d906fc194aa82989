"""Tasks and bugs run at once and both write Books tasks: a Books task is the target of one task or bug (migration
0008). If a bug's retry after a crash picked a Books task a task had just linked (its lookup read the links before
that task's link was committed), the bug's link is refused, its page backs off, and the retry adopts its own."""

from __future__ import annotations

import sqlalchemy as sa

from scheduler.embedded import running_beat
from shared.db.schema import entity_links
from shared.dispatch import sweep
from tests.sync_support import sync_harness
from worker.modules import bugs


def _link(h, entity_type: str, state: str = "linked") -> sa.Row:
    with h.engine.connect() as conn:
        return conn.execute(
            sa.select(entity_links)
            .where(
                entity_links.c.integration_id == h.integration.id,
                entity_links.c.entity_type == entity_type,
                entity_links.c.state == state,
            )
            .order_by(entity_links.c.id)
        ).first()


def test_a_bug_that_picked_a_task_s_books_task_is_refused_and_adopts_its_own(
    tiny_sandbox, pg_migrated_url, redis_url, monkeypatch
):
    with sync_harness(tiny_sandbox, pg_migrated_url, broker_url=redis_url, retry_backoff_seconds=0.2) as h:
        assert h.sync().status in ("succeeded", "partial")
        task, bug = _link(h, "task"), _link(h, "bug")
        # the state a kill between the bug's POST and its link leaves: pending, with the Books name it was created by
        with h.engine.begin() as conn:
            conn.execute(
                entity_links.update()
                .where(entity_links.c.id == bug.id)
                .values(state="pending", books_id=None, fingerprint=None, attributes={"books_name": "intended"})
            )
        looked_up: list[str | None] = []

        def stale_then_real(ctx, books_project_id, name):
            # the first lookup read the links before the task's was committed: it offers the task's Books task
            found = task.books_id if not looked_up else bug.books_id
            looked_up.append(found)
            return found

        monkeypatch.setattr(bugs, "find_books_task", stale_then_real)
        h.reset_requests()
        with running_beat(lambda: sweep(h.engine, h.app, h.settings), 0.2):
            run = h.sync(module="bugs")
        assert run.status in ("succeeded", "partial"), run
        assert looked_up[0] == task.books_id and looked_up[-1] == bug.books_id and len(looked_up) >= 2
        with h.engine.connect() as conn:
            linked = dict(
                conn.execute(
                    sa.select(entity_links.c.id, entity_links.c.books_id).where(
                        entity_links.c.id.in_([task.id, bug.id]), entity_links.c.state == "linked"
                    )
                ).all()
            )
        assert linked == {task.id: task.books_id, bug.id: bug.books_id}  # each its own Books task
        assert not [w for w in h.books_writes() if w[0] == "POST" and "/tasks" in w[1]]  # nothing created again
