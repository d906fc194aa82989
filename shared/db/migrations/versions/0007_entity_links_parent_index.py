"""entity_links: an index for the lookup of links by parent (integration, type, parent_projects_id) (issue 18)

The timesheets module reads a project's logs by their parents (``links.links_under``); with no index on
``parent_projects_id`` its plan depended on the statistics: stale ones (one tenant's, before the others were
loaded) made it a scan of the whole table, 0.17 s per project at 2M links (benchmarks/link_plans.py).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 14:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_entity_links_parent", "entity_links", ["integration_id", "entity_type", "parent_projects_id"])


def downgrade() -> None:
    op.drop_index("ix_entity_links_parent", table_name="entity_links")
