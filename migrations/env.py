"""Alembic environment: the target metadata is the union of the engine's and the roles package's tables."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from cab.models import metadata as cab_metadata
from catalog.models import metadata as catalog_metadata
from engine.models import metadata as engine_metadata
from kpis.models import metadata as kpis_metadata
from notifications.models import metadata as notifications_metadata
from roles.models import metadata as roles_metadata
from schedule.models import metadata as schedule_metadata

target_metadata = [engine_metadata, roles_metadata, schedule_metadata, cab_metadata, catalog_metadata, kpis_metadata,
                   notifications_metadata]
config = context.config


def run_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connectable = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with connectable.connect() as connection:
        # render_as_batch lets later migrations alter tables on SQLite, which lacks most ALTER TABLE forms.
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                          compare_type=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
