"""Write many rows through the database driver's own `executemany`, inside the ORM's transaction.

A first sync writes every issue of an org (SPEC §8: 100,000 and more). Through SQLAlchemy
each row's parameters pass its type processors and compiled-statement bookkeeping, which
cost more than the driver's own write (profiled at 100,000 issues: about a third of the
store's time). Here a statement is one SQL text with the driver's placeholders, and values
are turned into what SQLAlchemy would have stored, once, in plain Python:

- datetimes: naive UTC; on SQLite the same `YYYY-MM-DD HH:MM:SS.ffffff` text SQLAlchemy
  writes, so rows written either way read back and compare alike;
- dates: on SQLite the `YYYY-MM-DD` text SQLAlchemy writes (sqlite3's own date adapter is
  deprecated); PostgreSQL takes them as they are;
- JSON columns: JSON text (psycopg casts it into `json`, SQLite keeps it as text): orjson for
  an issue's labels and KR ids, `json.dumps` where the stored text stays the one SQLAlchemy
  wrote before (an alert's payload, a milestone's labels);
- booleans: as they are (sqlite3 stores 1/0).

Few rows go through here too (a repo's milestones, a cycle's watches and alerts): for them
the saving is SQLAlchemy's per-statement work, a few hundred microseconds a call, which a
first sync pays a few hundred times.

The cursor belongs to the session's own connection, so these writes commit or roll back
with everything else of the poll.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import orjson
from sqlalchemy import JSON, BigInteger, Boolean, Date, DateTime, Float, Integer, Table, event
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, SQLModel

from okrsync.writebehind import WriteBehind

IN_CHUNK = 500  # values in one `IN (…)`: SQLite allows 32,766 parameters, older builds 999
# Fresh rows a writing-behind Bulk gathers per table before one `COPY` (see `insert_fresh`).
COPY_ROWS = 2_000
_BEHIND = "okrsync.write_behind"  # in `session.info`: the Bulk whose writes run behind, if any
# The session's own uses of its connection: each waits for the writes still running behind.
_SESSION_EVENTS = ("do_orm_execute", "before_flush", "before_commit")


class Bulk:
    """Plain SQL and the driver's `executemany` for one session; SQLite and PostgreSQL."""

    def __init__(self, session: Session, *, write_behind: bool = False) -> None:
        """`write_behind`: on PostgreSQL run this Bulk's inserts on a thread (okrsync.writebehind)
        until `close`. The thread belongs to the session: anything else that uses the session's
        connection first waits for it (any other Bulk on the session, the session's own
        queries, flushes and commit), so order and visibility stay those of serial writes."""
        self.session = session
        self.sqlite = session.get_bind().dialect.name == "sqlite"
        self.mark = "?" if self.sqlite else "%s"
        self.behind: WriteBehind | None = None
        # Fresh rows not yet sent, per (table, columns), in the order first given.
        self._gathered: dict[tuple[Table, tuple[str, ...]], list[tuple[Any, ...]]] = {}
        if write_behind and not self.sqlite:
            self.behind = WriteBehind("okrsync-write-behind")
            session.info[_BEHIND] = self
            for name in _SESSION_EVENTS:
                event.listen(session, name, self._flush_first)

    def flush(self) -> None:
        """Send the session's gathered rows, wait for its writes running behind; raise the first
        that failed."""
        owner: Bulk | None = self.session.info.get(_BEHIND)
        if owner is not None and owner.behind is not None:
            owner._send_gathered()
            owner.behind.flush()

    def close(self) -> None:
        """Stop this Bulk's write-behind thread, if any, once what it holds has run.

        Rows still gathered are sent first, unless a write already failed: the transaction is
        lost then, and the caller rolls back (`WriteBehind.close` drops failures alike).
        """
        if self.behind is not None:
            for name in _SESSION_EVENTS:
                event.remove(self.session, name, self._flush_first)
            del self.session.info[_BEHIND]
            if not self.behind.failed:
                self._send_gathered()
            self._gathered.clear()
            self.behind.close()
            self.behind = None

    def _flush_first(self, *_event: Any) -> None:
        self.flush()

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

    def day(self, value: date | None) -> Any:
        """Give a date as the column stores it (`YYYY-MM-DD` text on SQLite, as SQLAlchemy writes it)."""
        if value is None or not self.sqlite:
            return value
        return value.isoformat()

    @staticmethod
    def json(value: list[Any]) -> str:
        """Serialise a JSON column's list (most are empty: labels, KR ids)."""
        return orjson.dumps(value).decode() if value else "[]"

    @staticmethod
    def document(value: Mapping[str, Any] | list[Any]) -> str:
        """Serialise a JSON value to the very text SQLAlchemy's JSON type writes (`json.dumps`)."""
        return json.dumps(value)

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

    def insert(self, model: type[SQLModel], columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert rows; a key already there fails the statement (and the caller's transaction)."""
        self._insert(model, columns, rows, "")

    def insert_new(
        self, model: type[SQLModel], columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
    ) -> None:
        """Insert rows, skipping any whose key is already there."""
        self._insert(model, columns, rows, "ON CONFLICT DO NOTHING")

    def insert_fresh(
        self, model: type[SQLModel], columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
    ) -> None:
        """Insert rows whose keys the caller knows are not stored; on PostgreSQL by `COPY`.

        `COPY` skips the planning and the conflict checks of an `INSERT … SELECT … ON CONFLICT`:
        half the server's work (50,000 issues with their memberships: 0.85 → 0.47 s of server
        CPU, the client's about the same). A key that is there after all fails the statement,
        and so the transaction, as `insert` does: pass only keys looked up in this transaction.

        In binary format, with the columns' types told up front: psycopg then picks each
        column's dumper once, not per value, and skips the text escaping (50,000 issues: client
        CPU 0.22 → 0.13 s, the server's alike). A JSON column travels as its text, which is
        what the `json` type's binary form is.

        Writing behind, a table's fresh rows are gathered over calls and sent as one `COPY` of
        `COPY_ROWS` rows: a first sync gives a page of 100 at a time, and each `COPY` has its
        own statement start, round trip and index descents. 50,000 issues with their
        memberships, alone: 1,000 statements of 100 rows took 1.5–2.0 s of the write chain,
        0.3–0.6 s of the client's CPU and 0.9–1.2 s of the server's; statements of 2,000 rows
        0.6–0.7 s, 0.07 s and 0.55–0.65 s.
        Whatever uses the session next sends them first (`flush`, `_run`), so reads, other
        writes and the commit see them, as if each call had written at once.
        """
        if not rows:
            return
        if self.sqlite:
            self.insert(model, columns, rows)
            return
        key = (model.__table__, tuple(columns))  # type: ignore[attr-defined]
        if self.behind is None:
            self._copy(*key, rows)
            return
        gathered = self._gathered.setdefault(key, [])
        gathered.extend(rows)
        if len(gathered) >= COPY_ROWS:
            self._copy(*key, self._gathered.pop(key))

    def _send_gathered(self) -> None:
        """Hand every table's gathered rows to the thread, each as one `COPY`."""
        while self._gathered:
            key = next(iter(self._gathered))
            self._copy(*key, self._gathered.pop(key))

    def _copy(self, table: Table, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]) -> None:
        types = [_pg_copy_type(table.columns[c].type) for c in columns]
        sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
        cursor = self.cursor()

        def copy() -> None:
            with cursor.copy(sql) as copying:
                copying.set_types(types)
                for row in rows:
                    copying.write_row(row)

        self._hand(copy)

    def execute_behind(self, sql: str) -> None:
        """Run a statement whose result nobody reads (ANALYZE): behind, like the inserts, if it can."""
        cursor = self.cursor()
        self._run(lambda: cursor.execute(sql))

    def _run(self, statement: Callable[[], None]) -> None:
        """Run a write after everything given before it: the rows gathered first, then this."""
        if self.behind is not None:
            self._send_gathered()
        self._hand(statement)

    def _hand(self, statement: Callable[[], None]) -> None:
        """Hand a write to this Bulk's write-behind thread, or run it now after the session's."""
        if self.behind is not None:
            self.behind.submit(statement)
            return
        self.flush()
        statement()

    def _insert(
        self, model: type[SQLModel], columns: Sequence[str], rows: Sequence[tuple[Any, ...]], conflict: str
    ) -> None:
        """SQLite: one statement run per row by `executemany`. PostgreSQL: one statement a call.

        PostgreSQL runs each row of an `executemany` as a statement of its own (about 130 µs a
        row measured at 50,000 issues), so there a page's rows go in as one statement. They
        travel as one JSON text (orjson, in C) that `json_to_recordset` turns back into typed
        rows: an array per column with `unnest` did the same, but psycopg builds array
        literals in Python (a regex per element), which cost the client 3.2–3.6 s of CPU for
        100,000 issues against 1.1–1.3 s this way (same server work).
        """
        if not rows:
            return
        table = model.__table__  # type: ignore[attr-defined]
        names = ", ".join(columns)
        if self.sqlite:
            sql = (
                f"INSERT INTO {table.name} ({names}) VALUES ({self.marks(len(columns))}) {conflict}".rstrip()
            )
            self.cursor().executemany(sql, rows)
            return
        types = [_pg_record_type(table.columns[c].type) for c in columns]
        record = ", ".join(f"{c} {element}" for c, (element, _cast) in zip(columns, types, strict=True))
        selected = ", ".join(f"u.{c}{cast}" for c, (_element, cast) in zip(columns, types, strict=True))
        sql = (
            f"INSERT INTO {table.name} ({names}) SELECT {selected}"
            f" FROM json_to_recordset(%s::json) AS u({record}) {conflict}"
        ).rstrip()
        page = orjson.dumps([dict(zip(columns, row, strict=True)) for row in rows]).decode()
        cursor = self.cursor()
        self._run(lambda: cursor.execute(sql, (page,)))

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
        if not values:
            return  # no statement: nothing to wait for (a first sync's pages remove nothing)
        self.flush()
        cursor = self.cursor()
        for start in range(0, len(values), IN_CHUNK):
            part = values[start : start + IN_CHUNK]
            sql = f"{sql_before_in} ({self.marks(len(part))})"
            cursor.execute(sql, (*params, *part))
            yield cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement and return its rows (none for a statement without a result)."""
        self.flush()
        cursor = self.cursor()
        cursor.execute(sql, tuple(params))
        return list(cursor.fetchall()) if cursor.description else []


def _pg_type(column_type: Any) -> str:
    """Name a column's exact PostgreSQL type (binary `COPY` casts nothing, so it needs this one)."""
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl  # UTCDateTime stores a DateTime; AutoString a String
    kinds = (
        (JSON, "json"),
        (Boolean, "bool"),
        (BigInteger, "int8"),  # before Integer: it is one
        (Integer, "int4"),
        (Float, "float8"),
        (Date, "date"),
    )
    for kind, name in kinds:
        if isinstance(column_type, kind):
            return name
    if isinstance(column_type, DateTime):
        return "timestamptz" if column_type.timezone else "timestamp"
    return "text"


def _pg_copy_type(column_type: Any) -> str:
    """Name the type a binary `COPY` sends a column's values as.

    A JSON column is sent as `text`: its values are JSON text already, and `json`'s binary form
    is that text (psycopg's `json` dumper would serialise the string once more).
    """
    name = _pg_type(column_type)
    return "text" if name == "json" else name


def _pg_record_type(column_type: Any) -> tuple[str, str]:
    """Name the PostgreSQL type a column's values travel in (`json_to_recordset`), and the cast back."""
    name = _pg_type(column_type)
    return ("text", "::json") if name == "json" else (name, "")
