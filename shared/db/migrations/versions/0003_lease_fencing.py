"""lease fencing token, wait reason, link written-by stamp

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 20:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("module_runs") as batch:
        batch.add_column(sa.Column("lease_token", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("wait_reason", sa.String(length=10), nullable=True))
    with op.batch_alter_table("entity_links") as batch:
        batch.add_column(sa.Column("module_run_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("entity_links") as batch:
        batch.drop_column("module_run_id")
    with op.batch_alter_table("module_runs") as batch:
        batch.drop_column("wait_reason")
        batch.drop_column("lease_token")
