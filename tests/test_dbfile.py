"""The SQLite database and the files SQLite puts beside it are readable by their owner only."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from okrsync.store import open_store


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o000, 0o022, 0o277])
def umask(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[int]:
    """Run with a permissive, the usual, and an odd umask (one that even removes the owner's write).

    Set after `tmp_path` exists, so the folder itself is writable whatever the umask.
    """
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def test_a_new_database_and_its_wal_and_shm_files_are_created_0600(tmp_path: Path, umask: int) -> None:
    path = tmp_path / "okrsync.db"
    engine = open_store(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode=WAL")).scalar() == "wal"
            connection.execute(text("CREATE TABLE probe (x INTEGER)"))
            connection.execute(text("INSERT INTO probe VALUES (1)"))
            connection.commit()
            siblings = [Path(f"{path}-wal"), Path(f"{path}-shm")]
            assert all(p.exists() for p in siblings)  # held open by this connection
            assert {p.name: mode(p) for p in [path, *siblings]} == {p.name: 0o600 for p in [path, *siblings]}
    finally:
        engine.dispose()


def test_an_existing_database_keeps_its_mode_and_a_readable_one_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "okrsync.db"
    open_store(f"sqlite:///{path}").dispose()
    path.chmod(0o640)  # say, an operator's backup group reads it

    with caplog.at_level(logging.WARNING, logger="okrsync"):
        open_store(f"sqlite:///{path}").dispose()

    assert mode(path) == 0o640
    [warning] = [r.getMessage() for r in caplog.records if r.name == "okrsync.dbfile"]
    assert "mode 0640" in warning and f"chmod 600 {path}" in warning


def test_a_private_existing_database_opens_without_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "okrsync.db"
    open_store(f"sqlite:///{path}").dispose()
    with caplog.at_level(logging.WARNING, logger="okrsync"):
        open_store(f"sqlite:///{path}").dispose()
    assert mode(path) == 0o600
    assert not [r for r in caplog.records if r.name == "okrsync.dbfile"]
