"""Write many rows through the database driver's own `executemany`, inside the ORM's transaction.

A first sync writes every issue of an org (SPEC §8: 100,000 and more). Through SQLAlchemy
each row's parameters pass its type processors and compiled-statement bookkeeping, which
cost more than the driver's own write (profiled at 100,000 issues: about a third of the
store's time). Here a statement is one SQL text with the driver's placeholders, and values
are turned into what SQLAlchemy would have stored, once, in plain Python:

- datetimes: naive UTC; on SQLite the same `YYYY-MM-DD HH:MM:SS.ffffff` text SQLAlchemy
  writes, so rows written either way read back and compare alike;
- JSON columns: `json.dumps` text (psycopg casts it into `json`; SQLite keeps it as text);
- booleans: as they are (sqlite3 stores 1/0).

The cursor belongs to the session's own connection, so these writes commit or roll back
with everything else of the poll.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel

_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


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
        if moment.tzinfo is None:
            msg = f"naive datetime {moment!r} reached the database; okrsync stores aware UTC only"
            raise ValueError(msg)
        naive = moment.astimezone(UTC).replace(tzinfo=None)
        return naive.strftime(_SQLITE_TIME) if self.sqlite else naive

    @staticmethod
    def json(value: Any) -> str:
        return json.dumps(value)

    def marks(self, count: int) -> str:
        return ", ".join([self.mark] * count)

    def upsert(
        self, table: str, columns: Sequence[str], keys: Sequence[str], rows: Sequence[tuple[Any, ...]]
    ) -> None:
        """Insert rows, or update every non-key column of the row with the same key."""
        if not rows:
            return
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({self.marks(len(columns))})"
            f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
        )
        self._many(sql, rows)

    def insert_new(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert rows, skipping any whose key is already there."""
        if not rows:
            return
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({self.marks(len(columns))})"
            " ON CONFLICT DO NOTHING"
        )
        self._many(sql, rows)

    def select_in(
        self, sql_before_in: str, params: Sequence[Any], values: Sequence[Any], *, chunk: int = 500
    ) -> Iterator[tuple[Any, ...]]:
        """Run `… column IN (…)` over `values` in chunks (SQLite limits a statement's parameters)."""
        cursor = self.cursor()
        for start in range(0, len(values), chunk):
            part = values[start : start + chunk]
            cursor.execute(f"{sql_before_in} ({self.marks(len(part))})", (*params, *part))
            yield from cursor.fetchall()

    def delete_in(self, sql_before_in: str, params: Sequence[Any], values: Sequence[Any]) -> None:
        """Run a `DELETE … column IN (…)` over `values` in chunks."""
        cursor = self.cursor()
        for start in range(0, len(values), 500):
            part = values[start : start + 500]
            cursor.execute(f"{sql_before_in} ({self.marks(len(part))})", (*params, *part))

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = self.cursor()
        cursor.execute(sql, tuple(params))
        return list(cursor.fetchall()) if cursor.description else []

    def _many(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        self.cursor().executemany(sql, rows)


def upsert_rows(
    session: Session, model: type[SQLModel], rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> None:
    """Insert or update rows by key through SQLAlchemy, as one executemany (few rows, any types)."""
    if not rows:
        return
    table = model.__table__  # type: ignore[attr-defined]
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(table)
    updates = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys}
    session.execute(statement.on_conflict_do_update(index_elements=list(keys), set_=updates), list(rows))
