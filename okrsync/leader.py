"""Leader election: of several `okrsync run` on one database, exactly one polls and delivers.

The lock lives where the data lives, so no extra service is needed (SPEC §9):

- PostgreSQL: a session-level `pg_try_advisory_lock` held on a dedicated connection for as
  long as the process leads. The server drops the lock the moment that session ends, so a
  killed leader frees it at once; the connection is autocommit, so it never sits "idle in
  transaction" (which `idle_in_transaction_session_timeout` would kill).
- SQLite: an exclusive, non-blocking `fcntl.flock` on `<database file>.lock`. The kernel
  drops it when the process dies, however it dies.

Both answer `acquire()` without blocking, so a follower simply asks again on its next step.
The outbox's claims (outbox.py) stay the last line of defence: even two leaders at once would
not send an alert twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import weakref
import zlib
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

logger = logging.getLogger(__name__)

# The advisory lock is a pair of int4 keys: a fixed namespace for okrsync ("OKRS" in ASCII),
# and the CRC32 of the schema, so two okrsync installations in different schemas of one
# database (and the tests' per-test schemas) do not block each other.
LOCK_NAMESPACE = 0x4F4B5253


class Elector(Protocol):
    """A non-blocking leadership lock."""

    description: str

    def acquire(self) -> bool:
        """Return True when this process holds the lock now (take it if free; check it if held)."""
        ...

    def release(self) -> None:
        """Give the lock up (on a clean exit; a dead process loses it anyway)."""
        ...


class AlwaysLeader:
    """Leadership for a database no other process can open (SQLite in memory)."""

    description = "in-memory database (no other process can share it)"

    def acquire(self) -> bool:
        return True

    def release(self) -> None:
        pass


class FileLock:
    """An exclusive `flock` on a file next to the SQLite database.

    flock (not fcntl's POSIX record locks) because it belongs to the open file, not to the
    process: a second open in the same process conflicts too, which keeps tests honest, and
    closing some other descriptor of the file never drops it by accident.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"file lock {path}"
        self._file: IO[bytes] | None = None
        _locks.add(self)  # a forked child closes its copy (_forget_in_child)

    def acquire(self) -> bool:
        if self._file is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "ab")  # noqa: SIM115 - held open for the process lifetime
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        except OSError:
            handle.close()
            raise
        # The pid is a courtesy for an operator wondering who leads; the lock is the flock.
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n".encode())
        handle.flush()
        self._file = handle
        return True

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def forget(self) -> None:
        """Close this process's descriptor without unlocking (a forked child's copy)."""
        if self._file is not None:
            self._file.close()
            self._file = None


class PostgresLock:
    """A session-level advisory lock on a connection of its own."""

    def __init__(self, url: str) -> None:
        # NullPool: the lock's connection is never shared with, or recycled by, a pool.
        self._engine = create_engine(url, poolclass=NullPool)
        self._connection: Connection | None = None
        self.description = f"PostgreSQL advisory lock on {make_url(url).render_as_string(hide_password=True)}"
        _locks.add(self)  # a forked child closes its copy of the socket (_forget_in_child)

    def forget(self) -> None:
        """Close this process's copy of the lock's socket, silently (a forked child's copy)."""
        if self._connection is not None:
            raw = self._connection.connection.dbapi_connection
            if raw is not None:
                with contextlib.suppress(OSError, ValueError):
                    os.close(raw.fileno())
            self._connection = None

    def acquire(self) -> bool:
        if self._connection is not None:
            if self._alive(self._connection):
                return True
            logger.warning("lost the leader lock: its database connection is gone")
            self._drop()
            return False
        try:
            connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except SQLAlchemyError as exc:
            logger.warning("cannot reach the database to elect a leader: %s", type(exc).__name__)
            return False
        try:
            schema = connection.execute(text("SELECT current_schema()")).scalar() or "public"
            key = zlib.crc32(schema.encode()) - 2**31  # into int4's range
            got = connection.execute(
                text("SELECT pg_try_advisory_lock(CAST(:namespace AS integer), CAST(:key AS integer))"),
                {"namespace": LOCK_NAMESPACE, "key": key},
            ).scalar()
        except SQLAlchemyError:
            connection.close()
            raise
        if not got:
            connection.close()
            return False
        self._connection = connection
        return True

    def release(self) -> None:
        self._drop()  # ending the session releases a session-level advisory lock
        self._engine.dispose()

    @staticmethod
    def _alive(connection: Connection) -> bool:
        try:
            connection.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def _drop(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except SQLAlchemyError:
                pass  # the connection is already broken; the server has released the lock
            self._connection = None


_locks: weakref.WeakSet[FileLock | PostgresLock] = weakref.WeakSet()  # every lock alive here


def _forget_in_child() -> None:
    """In a forked child (a poll's fetch helper), close its copies of every lock, unlocking none.

    The child shares the lock's open file (flock) or the advisory lock's socket, and so would
    keep the lock held after this process died, until it ended too. Closing, not unlocking:
    the lock stays with this process's own descriptor or session; nothing is sent on the socket.
    """
    for lock in list(_locks):
        lock.forget()


os.register_at_fork(after_in_child=_forget_in_child)  # once: not one handler per lock made


def make_elector(database_url: str) -> Elector:
    """Pick the lock that fits the database at `database_url`."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "postgresql":
        return PostgresLock(database_url)
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            return AlwaysLeader()
        return FileLock(Path(f"{url.database}.lock").absolute())
    msg = f"leader election supports PostgreSQL and SQLite, not {backend!r}"
    raise ValueError(msg)
