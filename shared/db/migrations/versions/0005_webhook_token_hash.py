"""webhook token stored as its SHA-256 digest, not in plain text (issue 15)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 10:00:00
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

integrations = sa.table(
    "integrations",
    sa.column("id", sa.Integer),
    sa.column("webhook_token", sa.String),
    sa.column("webhook_token_sha256", sa.String),
)


def upgrade() -> None:
    with op.batch_alter_table("integrations") as batch:
        batch.add_column(sa.Column("webhook_token_sha256", sa.String(length=64), nullable=True))
    conn = op.get_bind()
    # the same digest as shared.crypto.token_digest, inlined: a migration must not change when the code does
    for row in conn.execute(sa.select(integrations.c.id, integrations.c.webhook_token)).all():
        if row.webhook_token:
            digest = hashlib.sha256(row.webhook_token.encode()).hexdigest()
            conn.execute(integrations.update().where(integrations.c.id == row.id).values(webhook_token_sha256=digest))
    with op.batch_alter_table("integrations") as batch:
        batch.drop_column("webhook_token")


def downgrade() -> None:
    # a digest cannot give the token back: after a downgrade, `bpsync webhook-url --rotate` makes a new one
    with op.batch_alter_table("integrations") as batch:
        batch.add_column(sa.Column("webhook_token", sa.String(length=64), nullable=True))
        batch.drop_column("webhook_token_sha256")
