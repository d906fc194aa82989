"""Alembic environment: runs against the URL set by shared.db.engine.alembic_config."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from shared.db.schema import metadata

config = context.config


def run_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        # render_as_batch: SQLite can only ALTER by copying the table; batch mode does that for us.
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
