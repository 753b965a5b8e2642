"""Hot statements, compiled once per dialect and run on the database driver's own cursor.

The statements stay SQLAlchemy Core (portable, typed, built in one place); only their execution skips the
per-call machinery. On this machine kind an indexed one-row read costs about 20 µs in sqlite3 itself,
200 µs through a Core ``Connection.execute`` and 900 µs through an ORM query, and the requests people make
all day (authenticate, list my tasks, open a task, complete it) run a handful each. Here the SQL text,
the parameters' order and each column's conversion (UTC datetimes, JSON, enums) are worked out once per
statement and dialect, with SQLAlchemy's own type processors, so a row reads back exactly as it would
through SQLAlchemy.

Only statements without expanding parameters (``IN`` over a Python list) can be prepared; ``Prepared``
refuses the others when it first compiles them.
"""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: tuple[str, ...] | None  # the parameters' order (qmark/format styles), else named
    defaults: Mapping[str, Any]  # values bound in the statement itself
    binds: tuple[tuple[str, Callable[[Any], Any]], ...]  # parameters whose values need converting
    row: Any  # the namedtuple type of a result row, or None
    results: tuple[Processor, ...]


class Prepared:
    """A Core statement run on the driver's cursor: ``rows(connection, params)`` answers named tuples whose
    fields are the statement's column names (``.id``, ``.status``), converted as SQLAlchemy would."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def _for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = _compile(self.statement, dialect)
            with self._lock:
                self._compiled[dialect.name] = compiled
        return compiled

    def rows(self, connection: Connection, params: Mapping[str, Any] | None = None) -> list[Any]:
        """Run the statement in ``connection``'s transaction; the rows it returns (none for a plain write)."""
        compiled = self._for(connection.dialect)
        values = dict(compiled.defaults)
        if params:
            values.update(params)
        for name, convert in compiled.binds:
            values[name] = convert(values[name])
        arguments: Any = (tuple(values[name] for name in compiled.positional)
                          if compiled.positional is not None else values)
        driver = connection.connection.driver_connection
        cursor = driver.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(compiled.sql, arguments)
            if compiled.row is None:
                return []
            fetched = cursor.fetchall()
        finally:
            cursor.close()
        results, make = compiled.results, compiled.row._make
        if not any(results):
            return [make(row) for row in fetched]
        return [make([value if convert is None or value is None else convert(value)
                      for convert, value in zip(results, row, strict=True)]) for row in fetched]

    def first(self, connection: Connection, params: Mapping[str, Any] | None = None) -> Any:
        """The first row, or None."""
        found = self.rows(connection, params)
        return found[0] if found else None

    def scalar(self, connection: Connection, params: Mapping[str, Any] | None = None) -> Any:
        """The first column of the first row, or None."""
        found = self.rows(connection, params)
        return found[0][0] if found else None


def _compile(statement: ClauseElement, dialect: Dialect) -> _Compiled:
    compiled: Any = statement.compile(dialect=dialect)
    if compiled.literal_execute_params or compiled.post_compile_params or compiled.escaped_bind_names:
        raise ValueError("a prepared statement cannot expand parameters (IN over a list) nor escape their names")
    positional = tuple(compiled.positiontup) if dialect.positional else None
    defaults, binds = {}, []
    for name, parameter in compiled.binds.items():
        if not parameter.required:
            defaults[name] = parameter.effective_value
        convert = parameter.type._cached_bind_processor(dialect)
        if convert is not None:
            binds.append((name, convert))
    row: Any = None
    results: tuple[Processor, ...] = ()
    columns: Sequence[Any] = getattr(statement, "exported_columns", ())  # a select's columns, or RETURNING
    if columns:
        names = [getattr(column, "key", None) or getattr(column, "name", None) or f"column{n}"
                 for n, column in enumerate(columns)]
        row = namedtuple("Row", names, rename=True)  # type: ignore[misc,no-redef]  # names known only here
        results = tuple(column.type._cached_result_processor(dialect, None) for column in columns)
    return _Compiled(compiled.string, positional, defaults, tuple(binds), row, results)
