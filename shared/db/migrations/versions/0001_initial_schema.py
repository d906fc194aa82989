"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 18:07:05.317017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "integrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("books_organization_id", sa.String(length=40), nullable=False),
        sa.Column("projects_portal_id", sa.String(length=40), nullable=False),
        sa.Column("data_center", sa.String(length=4), server_default="US", nullable=False),
        sa.Column("credentials", sa.Text(), nullable=False),
        sa.Column("contact_duplication", sa.String(length=10), server_default="merge", nullable=False),
        sa.Column("timesheet_cutoff_date", sa.Date(), nullable=True),
        sa.Column("general_timesheets", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("sync_interval_seconds", sa.Integer(), server_default="86400", nullable=False),
        sa.Column("state", sa.String(length=10), server_default="active", nullable=False),
        sa.Column("paused_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_reason", sa.Text(), nullable=True),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "contact_duplication in ('merge', 'clone')", name=op.f("ck_integrations_contact_duplication")
        ),
        sa.CheckConstraint("state in ('active', 'disabled')", name=op.f("ck_integrations_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integrations")),
        sa.UniqueConstraint("books_organization_id", name=op.f("uq_integrations_books_organization_id")),
        sa.UniqueConstraint("name", name=op.f("uq_integrations_name")),
    )
    op.create_table(
        "worker_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("check_id", sa.String(length=40), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("hostname", sa.String(length=200), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_worker_checks")),
        sa.UniqueConstraint("check_id", "step", name=op.f("uq_worker_checks_check_id_step")),
    )
    op.create_table(
        "billing_claims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("item_type", sa.String(length=20), nullable=False),
        sa.Column("item_id", sa.String(length=40), nullable=False),
        sa.Column("side", sa.String(length=10), nullable=False),
        sa.Column("invoice_reference", sa.String(length=100), nullable=True),
        sa.Column("books_invoice_id", sa.String(length=40), nullable=True),
        sa.Column("state", sa.String(length=10), server_default="claimed", nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_billing_claims_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_claims")),
        sa.UniqueConstraint(
            "integration_id", "item_type", "item_id", name=op.f("uq_billing_claims_integration_id_item_type_item_id")
        ),
    )
    op.create_table(
        "entity_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("entity_type", sa.String(length=30), nullable=False),
        sa.Column("projects_id", sa.String(length=40), nullable=False),
        sa.Column("books_id", sa.String(length=40), nullable=True),
        sa.Column("state", sa.String(length=10), server_default="linked", nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.Column("parent_projects_id", sa.String(length=40), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=True),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_entity_links_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entity_links")),
        sa.UniqueConstraint(
            "integration_id",
            "entity_type",
            "projects_id",
            name=op.f("uq_entity_links_integration_id_entity_type_projects_id"),
        ),
    )
    with op.batch_alter_table("entity_links", schema=None) as batch_op:
        batch_op.create_index(
            "uq_entity_links_books_side",
            ["integration_id", "entity_type", "books_id"],
            unique=True,
            postgresql_where=sa.text("entity_type <> 'client'"),
            sqlite_where=sa.text("entity_type <> 'client'"),
        )

    op.create_table(
        "sync_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=10), nullable=False),
        sa.Column("modules", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), server_default="queued", nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_sync_runs_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
    )
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.create_index("ix_sync_runs_integration_status", ["integration_id", "status"], unique=False)

    op.create_table(
        "transactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("books_id", sa.String(length=40), nullable=False),
        sa.Column("projects_project_id", sa.String(length=40), nullable=True),
        sa.Column("books_project_id", sa.String(length=40), nullable=True),
        sa.Column("number", sa.String(length=100), nullable=True),
        sa.Column("customer_id", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=30), nullable=True),
        sa.Column("total", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("currency_code", sa.String(length=8), nullable=True),
        sa.Column("date", sa.Date(), nullable=True),
        sa.Column("origin", sa.String(length=10), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("last_modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_transactions_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transactions")),
        sa.UniqueConstraint(
            "integration_id", "kind", "books_id", name=op.f("uq_transactions_integration_id_kind_books_id")
        ),
    )
    op.create_table(
        "module_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sync_run_id", sa.Integer(), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("module", sa.String(length=30), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), server_default="queued", nullable=False),
        sa.Column("fetched", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated", sa.Integer(), server_default="0", nullable=False),
        sa.Column("unchanged", sa.Integer(), server_default="0", nullable=False),
        sa.Column("skipped", sa.Integer(), server_default="0", nullable=False),
        sa.Column("failed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("blocked", sa.Integer(), server_default="0", nullable=False),
        sa.Column("api_calls", sa.Integer(), server_default="0", nullable=False),
        sa.Column("projects_calls", sa.Integer(), server_default="0", nullable=False),
        sa.Column("books_calls", sa.Integer(), server_default="0", nullable=False),
        sa.Column("throttled_calls", sa.Integer(), server_default="0", nullable=False),
        sa.Column("checkpoint", sa.JSON(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("waiting_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_module_runs_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sync_run_id"], ["sync_runs.id"], name=op.f("fk_module_runs_sync_run_id_sync_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_module_runs")),
        sa.UniqueConstraint("sync_run_id", "module", name=op.f("uq_module_runs_sync_run_id_module")),
    )
    with op.batch_alter_table("module_runs", schema=None) as batch_op:
        batch_op.create_index("ix_module_runs_integration_module", ["integration_id", "module"], unique=False)

    op.create_table(
        "sync_errors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("module", sa.String(length=30), nullable=False),
        sa.Column("entity_type", sa.String(length=30), nullable=False),
        sa.Column("source_id", sa.String(length=40), nullable=False),
        sa.Column("source_name", sa.String(length=500), nullable=True),
        sa.Column("reason_code", sa.String(length=60), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("hint", sa.Text(), nullable=True),
        sa.Column("blocked_by", sa.Integer(), nullable=True),
        sa.Column("module_run_id", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="1", nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["blocked_by"], ["sync_errors.id"], name=op.f("fk_sync_errors_blocked_by_sync_errors"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_sync_errors_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["module_run_id"],
            ["module_runs.id"],
            name=op.f("fk_sync_errors_module_run_id_module_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_errors")),
        sa.UniqueConstraint(
            "integration_id",
            "entity_type",
            "source_id",
            name=op.f("uq_sync_errors_integration_id_entity_type_source_id"),
        ),
    )
    with op.batch_alter_table("sync_errors", schema=None) as batch_op:
        batch_op.create_index("ix_sync_errors_open", ["integration_id", "module", "resolved_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sync_errors", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_errors_open")

    op.drop_table("sync_errors")
    with op.batch_alter_table("module_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_module_runs_integration_module")

    op.drop_table("module_runs")
    op.drop_table("transactions")
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_runs_integration_status")

    op.drop_table("sync_runs")
    with op.batch_alter_table("entity_links", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_entity_links_books_side",
            postgresql_where=sa.text("entity_type <> 'client'"),
            sqlite_where=sa.text("entity_type <> 'client'"),
        )

    op.drop_table("entity_links")
    op.drop_table("billing_claims")
    op.drop_table("worker_checks")
    op.drop_table("integrations")
