"""Shared fixtures: a database on SQLite and, when OKRSYNC_TEST_DATABASE_URL is set, PostgreSQL.

Each PostgreSQL test gets its own schema (through the connection's search_path), so tests
never see each other's rows and the schema is dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

PG_URL = os.environ.get("OKRSYNC_TEST_DATABASE_URL")


DROP_LOCK_TIMEOUT = "60s"


def _pg_schema_url(base: str, schema: str) -> str:
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}options=-csearch_path%3D{schema}"


@contextmanager
def pg_made(create: str, drop: str) -> Iterator[None]:
    """Run `create` on the test server (autocommit), and `drop` afterwards; skip without a server."""
    if not PG_URL:
        pytest.skip("OKRSYNC_TEST_DATABASE_URL is not set (CI sets it)")
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(create))
    try:
        yield
    finally:
        with admin.connect() as connection:
            # A test that failed while its engine held a transaction open keeps its locks; the
            # drop then fails after a while (the test's own failure is reported) instead of
            # waiting for ever and hanging the whole run.
            connection.execute(text(f"SET lock_timeout = '{DROP_LOCK_TIMEOUT}'"))
            connection.execute(text(drop))
        admin.dispose()


def fresh_pg_schema() -> Iterator[str]:
    """Yield the URL of a new, empty schema on the test server, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with pg_made(f'CREATE SCHEMA "{schema}"', f'DROP SCHEMA "{schema}" CASCADE'):
        yield _pg_schema_url(PG_URL or "", schema)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """Yield a fresh, empty PostgreSQL schema, for tests with no SQLite counterpart."""
    yield from fresh_pg_schema()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Yield a fresh, empty database URL on each engine."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'okrsync.db'}"
        return
    yield from fresh_pg_schema()
