"""Shared fixtures: a fresh, migrated database per test, on SQLite and (when reachable) PostgreSQL.

Every test that asks for ``database_url`` (directly or through ``engine``, ``app``...) runs once per
backend, unless it is marked ``sqlite_only`` (HTTP behaviour that does not depend on the SQL dialect).

A test starts from a seeded template, chosen by the fixtures it uses: empty, with the ``people`` (users,
roles and tokens), and with the ``shipped`` diagrams deployed. Each template is built once per session
through the real code paths. On SQLite a test gets a copy of the template file; on PostgreSQL one database
serves the session, and before each test its rows are deleted, the template's rows inserted again and the
sequences restarted, on one connection (a ``TRUNCATE`` of every table cost about 280 ms a test).

Set CHANGEFLOW_TEST_POSTGRES_URL (``make test`` sets it to the local server) to include PostgreSQL; without
it, or when the server cannot be reached, the PostgreSQL variants skip and say why.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.engine import Engine as SqlEngine
from sqlalchemy.engine import make_url

from cab import register_cab_services
from engine import Database, Engine, FakeClock
from engine.specs import SpecCache
from forms import load_form_directory
from itsm import BUSINESS_KEY_PREFIXES, itsm_services
from migrations import upgrade
from roles.policy import role_for_lane
from schedule import choice_lists
from tests.databases import scratch_postgres_database

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ENV = "CHANGEFLOW_TEST_POSTGRES_URL"
# What a template may hold, in the order it is built; a test gets the one matching the fixtures it uses.
SEEDS = ("people", "shipped")
PRACTICES = ("change", "release")
PRACTICE_ROLES = ("owner", "manager", "practitioner")


@pytest.hookimpl(tryfirst=True)  # before pytest applies the fixture's own params
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``sqlite_only`` tests run on one backend: what they check does not depend on the SQL dialect."""
    if "database_url" in metafunc.fixturenames and metafunc.definition.get_closest_marker("sqlite_only"):
        # as a parametrize mark, so that pytest applies it instead of the fixture's own params
        metafunc.definition.add_marker(pytest.mark.parametrize("database_url", ["sqlite"], indirect=True))


def _skip_postgres(why: str) -> None:
    """Skip with a clear message, except where PostgreSQL is required (CI sets CHANGEFLOW_REQUIRE_POSTGRES)."""
    if os.environ.get("CHANGEFLOW_REQUIRE_POSTGRES"):
        pytest.fail(f"PostgreSQL is required here but unusable: {why}")
    pytest.skip(f"PostgreSQL tests skipped: {why}")


# -- seeded templates ---------------------------------------------------------------------------------------

Seed = tuple[str, ...]


@dataclass
class Seeded:
    """What a template holds beyond the schema: the people's tokens, and the shipped deploy outcomes."""

    tokens: dict[str, str] = field(default_factory=dict)
    deployed: list[Any] = field(default_factory=list)


def make_test_app(database_url: str, clock: FakeClock | None = None) -> Any:
    """The Flask app the tests use, on ``database_url``: no migration, deploy, demo users or timer thread."""
    from app import create_app

    return create_app({
        "TESTING": True,
        "CHANGEFLOW_DATABASE_URL": database_url,
        "CHANGEFLOW_CLOCK": clock or FakeClock(),
        "CHANGEFLOW_MIGRATE": False,  # the fixture's database is already migrated
        "CHANGEFLOW_DEPLOY_BPMN": False,
        "CHANGEFLOW_DEMO_USERS": False,
        "CHANGEFLOW_TIMER_THREAD": False,
        "CHANGEFLOW_SCRIPT_TIME_LIMIT": 1.0,
        "CHANGEFLOW_LOG_LEVEL": "WARNING",
    })




def seed_database(database_url: str, seed: Seed) -> Seeded:
    """Fill an empty, migrated database with ``seed`` through the real code paths."""
    seeded = Seeded()
    if not seed:
        return seeded
    application = make_test_app(database_url)
    cf = application.extensions["changeflow"]
    try:
        if "people" in seed:
            seeded.tokens = _create_people(cf)
        if "shipped" in seed:
            from engine import SYSTEM_ACTOR
            from engine.catalog import deploy_folder

            seeded.deployed = deploy_folder(cf.engine, ROOT / "bpmn", actor=SYSTEM_ACTOR)
            create_catalog(cf)
    finally:
        cf.database.dispose()
    return seeded


# The services the tests' changes name: the shipped change forms pick their service from the catalog.
CATALOG = ("billing", "customer portal", "mail", "payroll")


def create_catalog(cf: Any) -> None:
    """Put the services the tests' changes name in the catalog (through the schedule's own command)."""
    from schedule.commands import CreateService
    for name in CATALOG:
        cf.engine.run(CreateService(name), actor="test")


def _create_people(cf: Any) -> dict[str, str]:
    from roles import accounts

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
    return tokens


class SqliteTemplates:
    """One template file per seed, built on first use; a test copies the file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.empty = folder / "empty.db"
        upgrade(f"sqlite:///{self.empty}")
        self.built: dict[Seed, tuple[Path, Seeded]] = {}

    def get(self, seed: Seed) -> tuple[Path, Seeded]:
        if seed not in self.built:
            path = self.folder / f"{'-'.join(seed) or 'empty'}.db"
            if seed:
                shutil.copyfile(self.empty, path)
            # disposing the app closes its last connection, which checkpoints the WAL into the file
            self.built[seed] = (path, seed_database(f"sqlite:///{path}", seed))
        return self.built[seed]


class PostgresTemplates:
    """One database for the session; each test gets it reset to a seed's rows, in one transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sql: SqlEngine = create_engine(url)
        self.metadata = MetaData()
        self.metadata.reflect(self.sql)
        self.tables = [table for table in self.metadata.sorted_tables if table.name != "alembic_version"]
        with self.sql.connect() as connection:
            sequences = [(table.name, connection.execute(text("SELECT pg_get_serial_sequence(:t, 'id')"),
                                                         {"t": table.name}).scalar())
                         for table in self.tables if "id" in table.c]
        self.delete_all = "; ".join(f'DELETE FROM "{table.name}"' for table in reversed(self.tables))
        restarts = [f"setval('{sequence}', COALESCE((SELECT MAX(id) FROM \"{name}\"), 0) + 1, false)"
                    for name, sequence in sequences if sequence]
        self.restart_sequences = "SELECT " + ", ".join(restarts) if restarts else None
        self.built: dict[Seed, tuple[dict[str, list[dict[str, Any]]], Seeded]] = {}

    def reset(self, seed: Seed) -> Seeded:
        """Leave the database holding exactly ``seed``'s rows, with every sequence after them."""
        if seed not in self.built:
            self._load({})
            seeded = seed_database(self.url, seed)
            with self.sql.connect() as connection:
                rows = {table.name: [dict(row) for row in connection.execute(table.select()).mappings()]
                        for table in self.tables}
            self.built[seed] = (rows, seeded)
        rows, seeded = self.built[seed]
        self._load(rows)
        return seeded

    def _load(self, rows: dict[str, list[dict[str, Any]]]) -> None:
        with self.sql.begin() as connection:
            connection.exec_driver_sql(self.delete_all)
            for table in self.tables:
                if rows.get(table.name):
                    connection.execute(table.insert(), rows[table.name])
            if self.restart_sequences:
                connection.exec_driver_sql(self.restart_sequences)

    def dispose(self) -> None:
        self.sql.dispose()


@pytest.fixture(scope="session")
def sqlite_templates(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplates:
    return SqliteTemplates(tmp_path_factory.mktemp("templates"))


@pytest.fixture(scope="session")
def postgres_session_url() -> Iterator[str]:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        _skip_postgres(f"set {POSTGRES_ENV} (make test sets it to the local server)")
    with ExitStack() as stack:
        try:
            url = stack.enter_context(scratch_postgres_database(base, "changeflow_test"))
        except Exception as error:  # noqa: BLE001 - any failure to reach the server means "skip"
            _skip_postgres(f"cannot use {make_url(base).render_as_string()}: {error}")
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def postgres_templates(postgres_session_url: str) -> Iterator[PostgresTemplates]:
    templates = PostgresTemplates(postgres_session_url)
    yield templates
    templates.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """A freshly migrated database for this test, holding the seed its fixtures ask for."""
    seed = tuple(name for name in SEEDS if name in request.fixturenames)
    if request.param == "sqlite":
        template, seeded = request.getfixturevalue("sqlite_templates").get(seed)
        # One file per session (per xdist worker), so that the test app can be reused (see ``app``). The
        # previous test's connections are closed by then; its WAL files must go with its data.
        path = request.getfixturevalue("sqlite_templates").folder / "test.db"
        for leftover in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)
        shutil.copyfile(template, path)
        url = f"sqlite:///{path}"
    else:
        templates: PostgresTemplates = request.getfixturevalue("postgres_templates")
        seeded = templates.reset(seed)
        url = templates.url
    request.node.changeflow_seeded = seeded
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
    """The engine wired as the app wires it (ITSM business keys, ITSM and CAB services), without Flask."""
    return Engine(database, lane_roles=role_for_lane, clock=clock, find_form=shipped_forms.get,
                  script_time_limit=1.0, services=register_cab_services(itsm_services()),
                  business_keys=BUSINESS_KEY_PREFIXES, choice_lists=choice_lists)


# -- the HTTP API -------------------------------------------------------------------------------------------


class People:
    """Users of a test app, one per role and practice, with their tokens.

    Usernames: ``admin``; ``change-owner``, ``change-manager``, ``change-practitioner`` (and
    ``change-practitioner-2``); the same for ``release``; ``nobody`` holds no role.
    """

    def __init__(self, tokens: dict[str, str]) -> None:
        self.tokens = tokens

    def headers(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}


_APPS: dict[str, Any] = {}  # the test app per database URL, reused: building one costs about 75 ms


@pytest.fixture
def app(database_url: str, clock: FakeClock) -> Iterator[Any]:
    """The Flask app on this test's database, with a fake clock and no background timer thread.

    The app is built once per database URL (each backend has one per session) and handed to each test
    as new: its engine gets the test's clock and an empty spec cache (version ids repeat from test to
    test), and its settings are restored afterwards. Its database was reset by ``database_url``.
    """
    application = _APPS.get(database_url)
    if application is None:
        application = _APPS[database_url] = make_test_app(database_url, clock)
    engine = application.extensions["changeflow"].engine
    engine.clock = engine.sandbox.clock = clock
    engine.specs = SpecCache(engine.lane_roles)
    settings = dict(application.config)
    application.config["CHANGEFLOW_CLOCK"] = clock
    yield application
    application.config.clear()
    application.config.update(settings)
    application.extensions["changeflow"].database.dispose()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def app_engine(app: Any) -> Engine:
    """The engine behind the test app (to fire timers, or to check the database directly)."""
    return app.extensions["changeflow"].engine


@pytest.fixture
def people(request: pytest.FixtureRequest, app: Any) -> People:
    """The people of the seeded template (see ``People``); a test may add tokens to its own copy."""
    return People(dict(request.node.changeflow_seeded.tokens))


@pytest.fixture
def shipped(request: pytest.FixtureRequest, app: Any) -> list[Any]:
    """The shipped processes in bpmn/, deployed in the seeded template; returns the deploy outcomes."""
    return list(request.node.changeflow_seeded.deployed)


@pytest.fixture(autouse=True)
def _separate_change_windows() -> None:
    """Each test's change requests start again from the plain window (see ``tests.api.support.change_request``)."""
    from tests.api.support import separate_windows

    separate_windows()
