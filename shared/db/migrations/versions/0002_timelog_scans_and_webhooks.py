"""timelog scans, webhook events, webhook token

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 19:24:39.226877
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "timelog_scans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("component", sa.String(length=10), nullable=False),
        sa.Column("first_month", sa.Date(), nullable=True),
        sa.Column("deep_read_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_timelog_scans_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timelog_scans")),
        sa.UniqueConstraint(
            "integration_id",
            "project_id",
            "component",
            name=op.f("uq_timelog_scans_integration_id_project_id_component"),
        ),
    )
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=60), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("log_id", sa.String(length=40), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("module_run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_webhook_events_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["module_run_id"],
            ["module_runs.id"],
            name=op.f("fk_webhook_events_module_run_id_module_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_events")),
    )
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_events_pending", ["integration_id", "handled_at"], unique=False)

    with op.batch_alter_table("integrations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("webhook_token", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("integrations", schema=None) as batch_op:
        batch_op.drop_column("webhook_token")

    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_events_pending")

    op.drop_table("webhook_events")
    op.drop_table("timelog_scans")
