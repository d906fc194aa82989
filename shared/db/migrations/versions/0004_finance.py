"""finance: project-side requests, claim requests, transaction details, the transactions poll cursor

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 21:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "finance_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("projects_project_id", sa.String(length=40), nullable=False),
        sa.Column("books_project_id", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=True),
        sa.Column("scope", sa.String(length=10), server_default="project", nullable=False),
        sa.Column("scope_id", sa.String(length=40), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("reference", sa.String(length=60), nullable=False),
        sa.Column("state", sa.String(length=10), server_default="queued", nullable=False),
        sa.Column("books_id", sa.String(length=40), nullable=True),
        sa.Column("number", sa.String(length=100), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_finance_requests_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finance_requests")),
        sa.UniqueConstraint("integration_id", "reference", name=op.f("uq_finance_requests_integration_id_reference")),
    )
    op.create_index("ix_finance_requests_state", "finance_requests", ["state", "updated_at"], unique=False)
    with op.batch_alter_table("billing_claims") as batch:
        batch.add_column(sa.Column("request_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_billing_claims_request_id_finance_requests"),
            "finance_requests",
            ["request_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_index("ix_billing_claims_invoice", ["integration_id", "books_invoice_id"], unique=False)
    with op.batch_alter_table("transactions") as batch:
        batch.add_column(sa.Column("balance", sa.Numeric(precision=18, scale=2), nullable=True))
        batch.add_column(sa.Column("customer_name", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("reference_number", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("recurring_invoice_id", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_transactions_project", ["integration_id", "projects_project_id"], unique=False)
    with op.batch_alter_table("integrations") as batch:
        batch.add_column(sa.Column("finance_cursor", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("integrations") as batch:
        batch.drop_column("finance_cursor")
    with op.batch_alter_table("transactions") as batch:
        batch.drop_index("ix_transactions_project")
        for column in ("deleted_at", "recurring_invoice_id", "reference_number", "customer_name", "balance"):
            batch.drop_column(column)
    with op.batch_alter_table("billing_claims") as batch:
        batch.drop_index("ix_billing_claims_invoice")
        batch.drop_constraint(op.f("fk_billing_claims_request_id_finance_requests"), type_="foreignkey")
        batch.drop_column("request_id")
    op.drop_index("ix_finance_requests_state", table_name="finance_requests")
    op.drop_table("finance_requests")
