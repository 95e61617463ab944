"""Alembic environment: runs migrations on the engine OrderHub hands over (or the configured URL)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from app.db.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        engine = sa.create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        # Two processes starting at once must not both migrate: serialise on an advisory lock.
        connection.execute(sa.text("SELECT pg_advisory_lock(7428001)"))
        try:
            context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            connection.execute(sa.text("SELECT pg_advisory_unlock(7428001)"))
            connection.commit()


if context.is_offline_mode():
    raise SystemExit("OrderHub migrations run online only")
run_migrations_online()
