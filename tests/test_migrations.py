"""The migrations create exactly the tables the models describe, on SQLite and PostgreSQL, and every one of them
can be undone: down to an empty schema and up again to the models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from cab.models import metadata as cab_metadata
from catalog.models import metadata as catalog_metadata
from engine.models import metadata as engine_metadata
from kpis.models import metadata as kpis_metadata
from migrations import alembic_config, upgrade
from notifications.models import metadata as notifications_metadata
from roles.models import metadata as roles_metadata
from schedule.models import metadata as schedule_metadata
from tests.databases import scratch_postgres_database

VERSIONS = Path(__file__).resolve().parent.parent / "migrations" / "versions"


def _differences(database_url: str, *extra: Any) -> list[Any]:
    """What autogenerate would change to make the database match the models (plus ``extra`` metadata)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(context, [engine_metadata, roles_metadata, schedule_metadata, cab_metadata,
                                              catalog_metadata, kpis_metadata, notifications_metadata, *extra])
    finally:
        engine.dispose()


def test_the_migrated_schema_matches_the_models(database_url: str) -> None:
    assert _differences(database_url) == []


def test_a_model_the_migrations_lack_is_detected(database_url: str) -> None:
    """Guards the test above: a table only the models have must show up as a difference."""
    from sqlalchemy import Column, Integer, MetaData, Table

    extra = MetaData()
    Table("not_migrated", extra, Column("id", Integer, primary_key=True))
    assert [diff[0] for diff in _differences(database_url, extra)] == ["add_table"]


# -- downgrades ---------------------------------------------------------------------------------------


def _chain() -> list[str]:
    """Every revision, from the first to the head."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def test_every_migration_file_is_one_step_of_a_single_chain() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    files = sorted(path for path in VERSIONS.glob("*.py") if path.name != "__init__.py")

    assert len(script.get_heads()) == 1, f"several heads: {script.get_heads()}; chain the new migrations"
    assert len(_chain()) == len(files), "a file in migrations/versions is not a revision of the chain"
    for revision in script.walk_revisions():
        assert not revision.is_merge_point, f"{revision.revision} merges branches; keep the history linear"


@pytest.fixture
def empty_database_url(database_url: str) -> Iterator[str]:
    """A database with no tables at all, on the backend of ``database_url`` (whose database is left alone)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{Path(url.database).with_name('unmigrated.db')}"
        return
    with scratch_postgres_database(url, "changeflow_migrations") as scratch:
        yield scratch


def _schema(database_url: str) -> dict[str, Any]:
    """Everything a migration can leave behind: tables with their columns, keys and indexes, the revision, and
    on PostgreSQL the enum types and sequences (which dropping a table does not always drop)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            inspector = inspect(connection)
            tables = {}
            for table in sorted(inspector.get_table_names()):
                tables[table] = {
                    "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
                    "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
                    "foreign_keys": sorted((tuple(fk["constrained_columns"]), fk["referred_table"],
                                            tuple(fk["referred_columns"])) for fk in inspector.get_foreign_keys(table)),
                    "indexes": sorted((ix["name"], tuple(ix["column_names"]), bool(ix["unique"]))
                                      for ix in inspector.get_indexes(table)),
                    "unique": sorted((uc["name"] or "", tuple(uc["column_names"]))
                                     for uc in inspector.get_unique_constraints(table)),
                }
            extras: list[str] = []
            if engine.dialect.name == "postgresql":
                extras = sorted(connection.scalars(text(
                    "SELECT c.relkind::text || ' ' || c.relname::text FROM pg_class c"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = 'public' AND c.relkind IN ('S', 'v', 'm')"
                    " UNION SELECT 'type ' || t.typname::text FROM pg_type t"
                    " JOIN pg_namespace n ON n.oid = t.typnamespace"
                    " WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd')")))
            else:
                extras = sorted(connection.scalars(text(
                    "SELECT type || ' ' || name FROM sqlite_master WHERE type IN ('view', 'trigger')")))
            revision = MigrationContext.configure(connection).get_current_revision()
        return {"revision": revision, "tables": tables, "other": extras}
    finally:
        engine.dispose()


def test_every_migration_downgrades_to_an_empty_schema_and_upgrades_again(empty_database_url: str) -> None:
    url, chain = empty_database_url, _chain()
    config = alembic_config(url)
    upgrade(url)
    assert _differences(url) == []

    # Down one step at a time, noting the schema at each revision.
    seen = {chain[-1]: _schema(url)}
    for below in [*reversed(chain[:-1]), None]:
        command.downgrade(config, "-1")
        schema = _schema(url)
        assert schema["revision"] == below
        seen[below] = schema

    base = seen[None]
    # At base only Alembic's own (empty) version table is left: no table, index, type or sequence remains.
    assert list(base["tables"]) == ["alembic_version"] and base["other"] == []
    engine = create_engine(url)
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM alembic_version")) == 0
    engine.dispose()

    # Up one step at a time: each revision looks exactly as it did on the way down.
    for revision in chain:
        command.upgrade(config, "+1")
        assert _schema(url) == seen[revision], f"upgrading to {revision} after its downgrade differs"
    assert _differences(url) == []


# -- 0006: version identity by canonical XML -------------------------------------------------------------


def test_0006_rehashes_stored_versions_by_their_canonical_xml_and_back(empty_database_url: str) -> None:
    import hashlib
    import json

    from engine.deployment import content_hash

    url = empty_database_url
    command.upgrade(alembic_config(url), "0004")
    command.downgrade(alembic_config(url), "0004")  # the file may be left at head by another test of this module
    bpmn = '<definitions xmlns="urn:x" b="2" a="1">\n  <process id="p"/>\n</definitions>'
    resaved = '<definitions xmlns="urn:x" a="1" b="2"><process id="p"></process></definitions>'
    old = [hashlib.sha256(json.dumps({"bpmn": text, "decisions": [], "forms": {}}, sort_keys=True).encode())
           .hexdigest() for text in (bpmn, resaved)]
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO process_model (id, key, name, practice, created_at) "
                                "VALUES (1, 'p', 'P', 'change', '2026-01-01 00:00:00')"))
        for number, (xml, sha) in enumerate(zip((bpmn, resaved), old, strict=True), start=1):
            connection.execute(text(
                "INSERT INTO process_version (id, model_id, number, process_id, bpmn_xml, decisions, forms, sha256, "
                "deployed_by, deployed_at) VALUES (:id, 1, :id, 'p', :xml, '[]', '{}', :sha, 'o', "
                "'2026-01-01 00:00:00')"), {"id": number, "xml": xml, "sha": sha})

    engine.dispose()

    def hashes() -> list[str]:
        reader = create_engine(url)  # a new connection each time: nothing cached from before the migration
        try:
            with reader.connect() as connection:
                return list(connection.scalars(text("SELECT sha256 FROM process_version ORDER BY number")))
        finally:
            reader.dispose()

    command.upgrade(alembic_config(url), "0006")
    # Version 1 now has the canonical hash (what a deploy computes); version 2, a re-save of it, keeps its own.
    assert hashes() == [content_hash(bpmn, [], {}), old[1]]
    command.downgrade(alembic_config(url), "0004")
    assert hashes() == old


# -- 0012: a change template refers to its service in the catalog ----------------------------------------


def test_0012_links_templates_to_their_services_by_name_and_stops_on_an_unknown_one(empty_database_url: str) -> None:
    url = empty_database_url
    command.upgrade(alembic_config(url), "0010")
    command.downgrade(alembic_config(url), "0010")  # the file may be left at head by another test of this module
    engine = create_engine(url)
    at = "'2026-01-01 00:00:00'"
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO service (id, name, practice, criticality, maintenance_windows, "
                                f"created_at, updated_at) VALUES (7, 'payroll', 'change', 'medium', '[]', {at}, {at})"))
        for number, (key, status, service) in enumerate([("server_patching", "active", "payroll"),
                                                         ("mail_patching", "retired", "mail")], start=1):
            connection.execute(text(
                "INSERT INTO change_template (id, key, version, practice, status, name, service, implementation_plan, "
                "backout_plan, test_plan, max_risk, allowed_windows, source_changes, published_by, published_at) "
                "VALUES (:id, :key, 1, 'change', :status, :key, :service, 'i', 'b', 't', 'low', '[]', '[]', 'o', "
                f"{at})"),
                {"id": number, "key": key, "status": status, "service": service})
    engine.dispose()

    def templates() -> list[tuple[Any, ...]]:
        reader = create_engine(url)
        try:
            with reader.connect() as connection:
                columns = [column["name"] for column in inspect(connection).get_columns("change_template")]
                wanted = "key, service" + (", service_id" if "service_id" in columns else "")
                return [tuple(row) for row in connection.execute(text(f"SELECT {wanted} FROM change_template "
                                                                      "ORDER BY id"))]
        finally:
            reader.dispose()

    with pytest.raises(RuntimeError) as refused:
        command.upgrade(alembic_config(url), "head")
    assert str(refused.value) == (
        "Migration 0012 cannot link the standard change templates to the service catalog: mail_patching version 1 "
        "(retired) names 'mail'. Nothing was changed. Add the missing services to the catalog (flask --app app "
        "services add 'mail'; or POST /api/services), then run the migration again. Afterwards a service that no "
        "active template names may leave the catalog again.")
    assert _schema(url)["revision"] == "0010"
    assert templates() == [("server_patching", "payroll"), ("mail_patching", "mail")]  # no service_id yet

    writer = create_engine(url)
    with writer.begin() as connection:
        connection.execute(text("INSERT INTO service (id, name, practice, criticality, maintenance_windows, "
                                f"created_at, updated_at) VALUES (9, 'mail', 'change', 'low', '[]', {at}, {at})"))
    writer.dispose()
    command.upgrade(alembic_config(url), "head")
    assert templates() == [("server_patching", "payroll", 7), ("mail_patching", "mail", 9)]
    assert _differences(url) == []

    command.downgrade(alembic_config(url), "0010")
    assert templates() == [("server_patching", "payroll"), ("mail_patching", "mail")]
