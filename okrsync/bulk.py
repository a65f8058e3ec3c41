"""Write many rows through the database driver's own `executemany`, inside the ORM's transaction.

A first sync writes every issue of an org (SPEC §8: 100,000 and more). Through SQLAlchemy
each row's parameters pass its type processors and compiled-statement bookkeeping, which
cost more than the driver's own write (profiled at 100,000 issues: about a third of the
store's time). Here a statement is one SQL text with the driver's placeholders, and values
are turned into what SQLAlchemy would have stored, once, in plain Python:

- datetimes: naive UTC; on SQLite the same `YYYY-MM-DD HH:MM:SS.ffffff` text SQLAlchemy
  writes, so rows written either way read back and compare alike;
- JSON columns: JSON text (orjson; psycopg casts it into `json`, SQLite keeps it as text);
- booleans: as they are (sqlite3 stores 1/0).

The cursor belongs to the session's own connection, so these writes commit or roll back
with everything else of the poll.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import JSON, Boolean, Date, DateTime, Float, Integer
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, SQLModel

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite

IN_CHUNK = 500  # values in one `IN (…)`: SQLite allows 32,766 parameters, older builds 999


class Bulk:
    """Plain SQL and the driver's `executemany` for one session; SQLite and PostgreSQL."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.sqlite = session.get_bind().dialect.name == "sqlite"
        self.mark = "?" if self.sqlite else "%s"

    def cursor(self) -> Any:
        """Return a DB-API cursor on the session's connection (its transaction included)."""
        return self.session.connection().connection.cursor()

    def time(self, moment: datetime | None) -> Any:
        """Give a timezone-aware datetime as the column stores it (naive UTC; text on SQLite)."""
        if moment is None:
            return None
        if moment.tzinfo is not UTC:
            if moment.tzinfo is None:
                msg = f"naive datetime {moment!r} reached the database; okrsync stores aware UTC only"
                raise ValueError(msg)
            moment = moment.astimezone(UTC)
        naive = moment.replace(tzinfo=None)
        # SQLAlchemy's SQLite format, `YYYY-MM-DD HH:MM:SS.ffffff` (isoformat is 3x faster than strftime).
        return naive.isoformat(" ", "microseconds") if self.sqlite else naive

    @staticmethod
    def json(value: list[Any]) -> str:
        """Serialise a JSON column's list (most are empty: labels, KR ids)."""
        return orjson.dumps(value).decode() if value else "[]"

    def marks(self, count: int) -> str:
        return ", ".join([self.mark] * count)

    def upsert(
        self,
        model: type[SQLModel],
        columns: Sequence[str],
        keys: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
    ) -> None:
        """Insert rows, or update every non-key column of the row with the same key."""
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
        self._insert(model, columns, rows, f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}")

    def insert_new(
        self, model: type[SQLModel], columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
    ) -> None:
        """Insert rows, skipping any whose key is already there."""
        self._insert(model, columns, rows, "ON CONFLICT DO NOTHING")

    def _insert(
        self, model: type[SQLModel], columns: Sequence[str], rows: Sequence[tuple[Any, ...]], conflict: str
    ) -> None:
        """SQLite: one statement run per row by `executemany`. PostgreSQL: one statement a call.

        PostgreSQL runs each row of an `executemany` as a statement of its own (about 130 µs a
        row measured at 50,000 issues), so there the rows go in as one array per column and
        `unnest` turns them back into rows: one statement per page.
        """
        if not rows:
            return
        table = model.__table__  # type: ignore[attr-defined]
        names = ", ".join(columns)
        if self.sqlite:
            sql = f"INSERT INTO {table.name} ({names}) VALUES ({self.marks(len(columns))}) {conflict}"
            self.cursor().executemany(sql, rows)
            return
        types = [_pg_array_type(table.columns[c].type) for c in columns]
        arrays = ", ".join(f"%s::{element}[]" for element, _cast in types)
        selected = ", ".join(f"u.{c}{cast}" for c, (_element, cast) in zip(columns, types, strict=True))
        sql = f"INSERT INTO {table.name} ({names}) SELECT {selected} FROM unnest({arrays}) AS u({names}) {conflict}"
        self.cursor().execute(sql, [list(values) for values in zip(*rows, strict=True)])

    def select_in(
        self, sql_before_in: str, params: Sequence[Any], values: Sequence[Any]
    ) -> Iterator[tuple[Any, ...]]:
        """Run a `SELECT … column IN (…)` over `values` and yield its rows."""
        for cursor in self._in_chunks(sql_before_in, params, values):
            yield from cursor.fetchall()

    def delete_in(self, sql_before_in: str, params: Sequence[Any], values: Sequence[Any]) -> None:
        """Run a `DELETE … column IN (…)` over `values`."""
        for _cursor in self._in_chunks(sql_before_in, params, values):
            pass

    def _in_chunks(self, sql_before_in: str, params: Sequence[Any], values: Sequence[Any]) -> Iterator[Any]:
        """Run `… column IN (…)` 500 values at a time (SQLite limits a statement's parameters)."""
        cursor = self.cursor()
        for start in range(0, len(values), IN_CHUNK):
            part = values[start : start + IN_CHUNK]
            sql = f"{sql_before_in} ({self.marks(len(part))})"
            cursor.execute(sql, (*params, *part))
            yield cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement and return its rows (none for a statement without a result)."""
        cursor = self.cursor()
        cursor.execute(sql, tuple(params))
        return list(cursor.fetchall()) if cursor.description else []


def _pg_array_type(column_type: Any) -> tuple[str, str]:
    """Name the PostgreSQL array element type a column's values travel in, and the cast back."""
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl  # UTCDateTime stores a DateTime; AutoString a String
    if isinstance(column_type, JSON):
        return "text", "::json"
    for kind, name in ((Boolean, "bool"), (Integer, "int8"), (Float, "float8"), (Date, "date")):
        if isinstance(column_type, kind):
            return name, ""
    if isinstance(column_type, DateTime):
        return "timestamp", ""
    return "text", ""


def upsert_rows(
    session: Session, model: type[SQLModel], rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> None:
    """Insert or update rows by key through SQLAlchemy, as one executemany (few rows, any types)."""
    if not rows:
        return
    table = model.__table__  # type: ignore[attr-defined]
    statement = _dialect_insert(session)(table)
    updates = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys}
    session.execute(statement.on_conflict_do_update(index_elements=list(keys), set_=updates), list(rows))


def _dialect_insert(session: Session) -> Callable[[Any], postgresql.Insert | sqlite.Insert]:
    """Return the `insert` (with ON CONFLICT) of the session's dialect.

    Imported here, not at module level: a process on SQLite then never loads SQLAlchemy's
    PostgreSQL dialect (its asyncpg and psycopg parts included), which its engine does not use.
    """
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert
