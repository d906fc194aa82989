"""current state per (integration, module), open error counts and sync run totals; history indexes (issue 19)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ENDED = "('succeeded', 'partial', 'failed', 'skipped', 'blocked')"
WORKING = "('succeeded', 'partial')"
UNFINISHED = "('queued', 'running')"
RUN_STATUSES = ("succeeded", "partial", "failed", "skipped", "blocked")
COUNTERS = (
    "fetched",
    "created",
    "updated",
    "unchanged",
    "skipped",
    "failed",
    "blocked",
    "api_calls",
    "projects_calls",
    "books_calls",
    "throttled_calls",
)


def _counter(name: str) -> sa.Column:
    return sa.Column(name, sa.BigInteger, nullable=False, server_default="0")


def upgrade() -> None:
    op.create_table(
        "module_states",
        sa.Column("integration_id", sa.Integer, nullable=False),
        sa.Column("module", sa.String(30), nullable=False),
        sa.Column("current_module_run_id", sa.Integer, nullable=True),
        sa.Column("last_module_run_id", sa.Integer, nullable=True),
        sa.Column("last_status", sa.String(10), nullable=True),
        sa.Column("last_finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_module_run_id", sa.Integer, nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        *(_counter(f"runs_{s}") for s in RUN_STATUSES),
        *(_counter(c) for c in COUNTERS),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name="fk_module_states_integration_id_integrations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("integration_id", "module", name="pk_module_states"),
    )
    op.create_table(
        "open_error_counts",
        sa.Column("integration_id", sa.Integer, nullable=False),
        sa.Column("module", sa.String(30), nullable=False),
        sa.Column("open_errors", sa.Integer, nullable=False, server_default="0"),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name="fk_open_error_counts_integration_id_integrations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("integration_id", "module", name="pk_open_error_counts"),
    )
    op.create_table(
        "sync_run_totals",
        sa.Column("integration_id", sa.Integer, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("runs", sa.BigInteger, nullable=False, server_default="0"),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name="fk_sync_run_totals_integration_id_integrations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("integration_id", "status", name="pk_sync_run_totals"),
    )
    op.drop_index("ix_module_runs_integration_module", table_name="module_runs")
    op.create_index("ix_module_runs_integration_module_id", "module_runs", ["integration_id", "module", "id"])
    op.create_index("ix_module_runs_integration_id", "module_runs", ["integration_id", "id"])
    unfinished = sa.text(f"status IN {UNFINISHED}")
    op.create_index(
        "ix_module_runs_unfinished",
        "module_runs",
        ["integration_id", "module", "sync_run_id"],
        postgresql_where=unfinished,
        sqlite_where=unfinished,
    )
    op.create_index("ix_sync_errors_module_run", "sync_errors", ["module_run_id"])
    op.create_index("ix_webhook_events_module_run", "webhook_events", ["module_run_id"])
    _backfill()


def _backfill() -> None:
    # plain SQL that PostgreSQL and SQLite both run, inlined: a migration must not change when the code does
    run_counts = ", ".join(f"SUM(CASE WHEN status = '{s}' THEN 1 ELSE 0 END)" for s in RUN_STATUSES)
    sums = ", ".join(f"SUM(CASE WHEN status IN {ENDED} THEN {c} ELSE 0 END)" for c in COUNTERS)
    columns = ", ".join([*(f"runs_{s}" for s in RUN_STATUSES), *COUNTERS])
    key = "m.integration_id = module_states.integration_id AND m.module = module_states.module"
    for statement in (
        f"""INSERT INTO module_states (integration_id, module, last_module_run_id, {columns})
            SELECT integration_id, module, MAX(CASE WHEN status IN {ENDED} THEN id END), {run_counts}, {sums}
            FROM module_runs GROUP BY integration_id, module""",
        """UPDATE module_states SET
             last_status = (SELECT m.status FROM module_runs m WHERE m.id = module_states.last_module_run_id),
             last_finished_at = (SELECT m.finished_at FROM module_runs m WHERE m.id = module_states.last_module_run_id)""",
        f"""UPDATE module_states SET last_success_module_run_id = (
              SELECT m.id FROM module_runs m WHERE {key} AND m.status IN {WORKING} AND m.finished_at IS NOT NULL
              ORDER BY m.finished_at DESC, m.id DESC LIMIT 1)""",
        """UPDATE module_states SET last_success_at = (
              SELECT m.finished_at FROM module_runs m WHERE m.id = module_states.last_success_module_run_id)""",
        f"""UPDATE module_states SET current_module_run_id = (
              SELECT m.id FROM module_runs m JOIN sync_runs r ON r.id = m.sync_run_id
              WHERE {key} AND m.status IN {UNFINISHED} AND r.status IN {UNFINISHED}
              ORDER BY m.sync_run_id, m.id LIMIT 1)""",
        """INSERT INTO open_error_counts (integration_id, module, open_errors)
            SELECT integration_id, module, COUNT(*) FROM sync_errors WHERE resolved_at IS NULL
            GROUP BY integration_id, module""",
        f"""INSERT INTO sync_run_totals (integration_id, status, runs)
            SELECT integration_id, status, COUNT(*) FROM sync_runs WHERE status NOT IN {UNFINISHED}
            GROUP BY integration_id, status""",
    ):
        op.execute(sa.text(statement))


def downgrade() -> None:
    op.drop_index("ix_webhook_events_module_run", table_name="webhook_events")
    op.drop_index("ix_sync_errors_module_run", table_name="sync_errors")
    op.drop_index("ix_module_runs_unfinished", table_name="module_runs")
    op.drop_index("ix_module_runs_integration_id", table_name="module_runs")
    op.drop_index("ix_module_runs_integration_module_id", table_name="module_runs")
    op.create_index("ix_module_runs_integration_module", "module_runs", ["integration_id", "module"])
    op.drop_table("sync_run_totals")
    op.drop_table("open_error_counts")
    op.drop_table("module_states")
