"""The console script leaves through `okrsync.quickexit`: same status, same output, clean goodbyes.

Each test runs a real process, since the quick exit happens only at a process's end: a
command's exit status and every byte of its output survive it; an exception nobody caught
still leaves with 1; and a sync on PostgreSQL closes its connections instead of dropping
them (PostgreSQL counts a dropped one in `pg_stat_database.sessions_abandoned`, per database,
so the test uses a database of its own that nothing else touches).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import PG_URL, pg_made
from tests.helpers import FakeClock, onboarding_sim, write_project

TOKEN = "ghp_quickexit_token_51c2"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def okrsync(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, OKRSYNC_NOW=NOW.isoformat())
    env.pop("OKRSYNC_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "okrsync.cli", *args], capture_output=True, text=True, timeout=120, env=env
    )


def python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_a_command_keeps_its_exit_status_and_its_whole_output(tmp_path: Path) -> None:
    with onboarding_sim(FakeClock(NOW), token=TOKEN, due=datetime(2026, 12, 4, 8, tzinfo=UTC)) as sim:
        project = write_project(
            tmp_path, database_url=f"sqlite:///{tmp_path / 'okrsync.db'}", github_url=sim.url, token=TOKEN
        )
        project.engine.dispose()
        assert okrsync("--config", str(project.config), "sync").returncode == 0

        shown = okrsync("--config", str(project.config), "status", "--json")

    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["objectives"]  # every byte arrived: the JSON parses
    missing = okrsync("--config", str(tmp_path / "nowhere.toml"), "status")
    assert missing.returncode == 2 and "no such config file" in missing.stderr


def test_the_recorded_status_is_the_exit_status_and_the_output_is_whole() -> None:
    done = python(
        "import sys\nfrom okrsync import quickexit\nquickexit.install()\n"
        "for n in range(20_000):\n    print(n)\nquickexit.record(3)\nraise SystemExit(3)"
    )

    assert done.returncode == 3
    assert done.stdout.split() == [str(n) for n in range(20_000)]


def test_an_exception_nobody_caught_still_exits_1_with_its_traceback() -> None:
    done = python("from okrsync import quickexit\nquickexit.install()\nraise RuntimeError('boom')")

    assert done.returncode == 1
    assert "RuntimeError: boom" in done.stderr


@pytest.fixture
def own_database() -> Iterator[str]:
    """A PostgreSQL database of this test's own (its session counters are then its own)."""
    name = f"quickexit_{uuid.uuid4().hex[:10]}"
    with pg_made(f'CREATE DATABASE "{name}"', f'DROP DATABASE "{name}" WITH (FORCE)'):
        yield make_url(PG_URL or "").set(database=name).render_as_string(hide_password=False)


def sessions(url: str) -> tuple[int, int]:
    """(sessions ended, sessions abandoned) of the URL's database, from another database."""
    name = make_url(url).database
    admin = create_engine(PG_URL or "", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT pg_stat_clear_snapshot()"))
            row = connection.execute(
                text("SELECT sessions, sessions_abandoned FROM pg_stat_database WHERE datname = :name"),
                {"name": name},
            ).one()
        return int(row[0] or 0), int(row[1] or 0)
    finally:
        admin.dispose()


def test_a_sync_on_postgresql_closes_its_connections_rather_than_dropping_them(
    tmp_path: Path, own_database: str
) -> None:
    with onboarding_sim(FakeClock(NOW), token=TOKEN, due=datetime(2026, 12, 4, 8, tzinfo=UTC)) as sim:
        project = write_project(tmp_path, database_url=own_database, github_url=sim.url, token=TOKEN)
        project.engine.dispose()
        before = sessions(own_database)

        done = okrsync("--config", str(project.config), "sync")

    assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 10
    while (after := sessions(own_database))[0] == before[0] and time.monotonic() < deadline:
        time.sleep(0.1)  # a backend reports its session's end as it exits
    assert after[0] > before[0]  # the sync's sessions did end and were counted
    assert after[1] == before[1]  # and none of them was dropped
