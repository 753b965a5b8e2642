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
from typing import Any

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


def _skip_postgres(why: str) -> None:
    """Skip with a clear message, except where PostgreSQL is required (CI sets CHANGEFLOW_REQUIRE_POSTGRES)."""
    if os.environ.get("CHANGEFLOW_REQUIRE_POSTGRES"):
        pytest.fail(f"PostgreSQL is required here but unusable: {why}")
    pytest.skip(f"PostgreSQL tests skipped: {why}")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "changeflow.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_session_url() -> Iterator[str]:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        _skip_postgres(f"set {POSTGRES_ENV} (make test sets it to the local server)")
    admin_url = make_url(base)
    name = f"changeflow_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # noqa: BLE001 - any failure to reach the server means "skip"
        _skip_postgres(f"cannot use {admin_url.render_as_string()}: {error}")
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


# -- the HTTP API -------------------------------------------------------------------------------------------

PRACTICES = ("change", "release")
PRACTICE_ROLES = ("owner", "manager", "practitioner")


class People:
    """Users of a test app, one per role and practice, with their tokens.

    Usernames: ``admin``; ``change-owner``, ``change-manager``, ``change-practitioner`` (and
    ``change-practitioner-2``); the same for ``release``; ``nobody`` holds no role.
    """

    def __init__(self, tokens: dict[str, str]) -> None:
        self.tokens = tokens

    def headers(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}


@pytest.fixture
def app(database_url: str, clock: FakeClock) -> Iterator[Any]:
    """The Flask app on this test's database, with a fake clock and no background timer thread."""
    from app import create_app

    application = create_app({
        "TESTING": True,
        "CHANGEFLOW_DATABASE_URL": database_url,
        "CHANGEFLOW_CLOCK": clock,
        "CHANGEFLOW_MIGRATE": False,  # the fixture's database is already migrated
        "CHANGEFLOW_DEPLOY_BPMN": False,
        "CHANGEFLOW_DEMO_USERS": False,
        "CHANGEFLOW_TIMER_THREAD": False,
        "CHANGEFLOW_SCRIPT_TIME_LIMIT": 1.0,
        "CHANGEFLOW_LOG_LEVEL": "WARNING",
    })
    yield application
    application.extensions["changeflow"].database.dispose()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def app_engine(app: Any) -> Engine:
    """The engine behind the test app (to fire timers, or to check the database directly)."""
    return app.extensions["changeflow"].engine


@pytest.fixture
def people(app: Any) -> People:
    from roles import accounts

    cf = app.extensions["changeflow"]
    plan: list[tuple[str, list[tuple[str, str]]]] = [("admin", [("admin", "*")]), ("nobody", [])]
    for practice in PRACTICES:
        for role in PRACTICE_ROLES:
            plan.append((f"{practice}-{role}", [(role, practice)]))
    plan.append(("change-practitioner-2", [("practitioner", "change")]))
    tokens = {}
    with cf.database.transaction() as session:
        for username, grants in plan:
            user = accounts.create_user(session, username, now=cf.now())
            for role, practice in grants:
                accounts.grant(session, user, role, practice, granted_by="test", now=cf.now())
            _row, tokens[username] = accounts.issue_token(session, user, now=cf.now())
    return People(tokens)


@pytest.fixture
def shipped(app: Any) -> list[Any]:
    """Deploy the shipped processes in bpmn/ into the test app."""
    from engine import SYSTEM_ACTOR
    from engine.catalog import deploy_folder

    return deploy_folder(app.extensions["changeflow"].engine, ROOT / "bpmn", actor=SYSTEM_ACTOR)
