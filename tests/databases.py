"""A scratch PostgreSQL database for tests: created on the server of a URL, dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url


@contextmanager
def scratch_postgres_database(server_url: str | URL, prefix: str) -> Iterator[str]:
    """A new, empty database named ``<prefix>_<random>`` on that server; its URL. Dropped on exit, even if
    a connection is still open (``WITH (FORCE)``)."""
    admin_url = make_url(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield admin_url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
