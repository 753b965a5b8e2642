"""Shared fixtures: a fresh, migrated database per test, on SQLite and (when reachable) PostgreSQL.

Every test that asks for ``database_url`` (directly or through ``engine``, ``app``...) runs once per
backend. SQLite databases are copies of one migrated template file. PostgreSQL runs against one
database per test session, migrated once and truncated before each test. Set CHANGEFLOW_TEST_POSTGRES_URL
(``make test`` sets it to the local server) to include PostgreSQL; without it, or when the server cannot be
reached, the PostgreSQL variants skip and say why.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from engine import Database, Engine, FakeClock
from engine.models import metadata as engine_metadata
from forms import load_form_directory
from migrations import upgrade
from roles.models import metadata as roles_metadata
from roles.policy import role_for_lane

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ENV = "CHANGEFLOW_TEST_POSTGRES_URL"
TABLES = [table.name for metadata in (engine_metadata, roles_metadata) for table in metadata.sorted_tables]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "changeflow.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_session_url() -> Iterator[str]:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"PostgreSQL tests skipped: set {POSTGRES_ENV} (make test sets it to the local server).")
    admin_url = make_url(base)
    name = f"changeflow_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # noqa: BLE001 - any failure to reach the server means "skip"
        pytest.skip(f"PostgreSQL tests skipped: cannot use {admin_url.render_as_string()}: {error}")
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A freshly migrated, empty database for this test."""
    if request.param == "sqlite":
        path = tmp_path / "changeflow.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_session_url")
    cleaner = create_engine(url)
    with cleaner.begin() as connection:
        connection.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    cleaner.dispose()
    return url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    yield db
    db.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def shipped_forms() -> dict:
    return load_form_directory(ROOT / "forms" / "definitions")


@pytest.fixture
def engine(database: Database, clock: FakeClock, shipped_forms: dict) -> Engine:
    return Engine(database, lane_roles=role_for_lane, clock=clock, find_form=shipped_forms.get,
                  script_time_limit=1.0)
