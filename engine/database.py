"""Connections and transactions, for SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker


class Database:
    """One SQLAlchemy engine plus the two kinds of sessions the engine uses: writers and readers.

    On SQLite a writer starts with ``BEGIN IMMEDIATE``: it takes the write lock before it reads, so two
    commands on the same instance run one after the other and the second sees the first's result.
    Without it, the second would fail with ``SQLITE_BUSY`` when upgrading its read lock. Readers use a
    plain ``BEGIN`` and, thanks to WAL, never wait for writers.
    """

    def __init__(self, url: str | URL, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        options: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            _ensure_parent_directory(self.url)
            options["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            options.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
        self.engine: Engine = create_engine(self.url, **options)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        writer_engine = self.engine.execution_options(changeflow_write=True)
        self._writers = sessionmaker(writer_engine, expire_on_commit=False, autoflush=False)
        self._readers = sessionmaker(self.engine, expire_on_commit=False, autoflush=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A read-write transaction: committed when the block ends, rolled back if it raises."""
        with self._writers() as session, session.begin():
            yield session

    @contextmanager
    def writing_nowait(self) -> Iterator[Connection]:
        """A plain connection in a write transaction that never waits for a lock: a write that meets one
        raises ``OperationalError`` at once. For writes that may be skipped (a token's last use), which
        must never hold up the request that makes them. Committed when the block ends."""
        with self.engine.connect() as connection:
            try:
                if self.is_sqlite:
                    connection.exec_driver_sql("PRAGMA busy_timeout=0")  # in a deferred BEGIN: no lock yet
                else:
                    connection.exec_driver_sql("SET LOCAL lock_timeout = '1ms'")
                yield connection
                connection.commit()
            finally:
                connection.rollback()
                if self.is_sqlite:
                    connection.exec_driver_sql("PRAGMA busy_timeout=30000")
                    connection.commit()

    @contextmanager
    def snapshot(self) -> Iterator[Session]:
        """A read-only transaction for queries."""
        with self._readers() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A plain read-only connection, without an ORM session: for hot lookups that build no objects
        (authentication runs on every request, and a session costs twice the query). A prepared statement
        (``engine.prepared``) run on it needs no ``BEGIN``: one statement reads one consistent state."""
        with self.engine.connect() as connection:
            yield connection

    def dispose(self) -> None:
        """Close every pooled connection (after a fork, or at shutdown)."""
        self.engine.dispose()


def _ensure_parent_directory(url: URL) -> None:
    if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event decide how each transaction starts (pysqlite would not).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; WAL keeps it consistent
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get("changeflow_write", False)
        # On the driver's connection: a statement through SQLAlchemy would cost as much as the request's queries.
        connection.connection.driver_connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
