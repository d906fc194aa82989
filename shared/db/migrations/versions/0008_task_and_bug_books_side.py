"""entity_links: one Books task is the target of one Projects task or bug (tasks and bugs sync at once)

Both modules write Books tasks, and a retry after a crash adopts the Books task its earlier attempt created, by name,
skipping those linked to another task or bug. Run one after another, the second module saw the first's links; run at
once (siblings under projects), two same-name records retried together could pick the same Books task. With this
index the second link is refused, its page fails and is retried, and the retry sees the first link.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TASKS = sa.text("entity_type IN ('task', 'bug')")


def upgrade() -> None:
    op.create_index(
        "uq_entity_links_books_task",
        "entity_links",
        ["integration_id", "books_id"],
        unique=True,
        postgresql_where=TASKS,
        sqlite_where=TASKS,
    )


def downgrade() -> None:
    op.drop_index("uq_entity_links_books_task", table_name="entity_links")
