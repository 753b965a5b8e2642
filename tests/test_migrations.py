"""The migrations create exactly the tables the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from engine.models import metadata as engine_metadata
from roles.models import metadata as roles_metadata


def test_the_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, [engine_metadata, roles_metadata])
    engine.dispose()
    assert differences == []


def test_a_model_the_migrations_lack_is_detected(database_url: str) -> None:
    """Guards the test above: a table only the models have must show up as a difference."""
    from sqlalchemy import Column, Integer, MetaData, Table

    extra = MetaData()
    Table("not_migrated", extra, Column("id", Integer, primary_key=True))
    engine = create_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = compare_metadata(context, [engine_metadata, roles_metadata, extra])
    engine.dispose()
    assert [diff[0] for diff in differences] == ["add_table"]
