"""What a command loads: heavy libraries only on the paths that use them (issue 9).

A structural guard, not a timing: each command runs in a fresh Python process, which then
reports the modules it imported. `status` on a migrated database must not touch Alembic,
the tracker clients, the alert channels' HTTP libraries, the metrics library or the
simulators; a nothing-changed `sync` of a GitHub-only install loads PyGithub but not `jira`,
nor, without an alert channel or write-back, the digest or the write-back package; on SQLite
no process loads SQLAlchemy's PostgreSQL dialect, and `validate` loads no SQLAlchemy at all, on
either engine (a PostgreSQL `sync` reads its cursors and starts Jira's searches before it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from okrsync.sandbox.github import GitHubSim
from tests.helpers import FakeClock, Project, onboarding_sim, write_project

TOKEN = "ghp_startup_token_0b7e"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
# Loaded only by the commands that use them: migrations, trackers, delivery, daemon, demo.
HEAVY = (
    "alembic",
    "mako",
    "jira",
    "github",
    "requests",
    "httpx",
    "apprise",
    "prometheus_client",
    "okrsync.sandbox",
    "okrsync.daemon",
    "okrsync.server",
)
# Loaded only by a cycle that uses them: a digest needs a channel, write-back a source opting in.
CYCLE_EXTRAS = ("okrsync.digest", "okrsync.writeback", "okrsync.statusview")
POSTGRESQL_DIALECT = ("sqlalchemy.dialects.postgresql",)
LOG_CHANNEL = """
[alerts.channels.console]
type = "log"
"""

# Runs the real console entry point, then writes its exit code and sys.modules to a file.
PROBE = """
import json, sys
from okrsync.cli import main
report, *args = sys.argv[1:]
sys.argv = ["okrsync", *args]
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code
with open(report, "w") as handle:
    json.dump({"code": code, "modules": sorted(sys.modules)}, handle)
"""


def loaded(modules: list[str], names: tuple[str, ...]) -> list[str]:
    """Name the packages of `names` that appear (themselves or a submodule) in `modules`."""
    return [n for n in names if any(m == n or m.startswith(n + ".") for m in modules)]


def run_probe(tmp_path: Path, *args: str) -> dict[str, Any]:
    report = tmp_path / "modules.json"
    env = dict(os.environ, OKRSYNC_NOW=NOW.isoformat())
    env.pop("OKRSYNC_CONFIG", None)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(report), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert report.is_file(), done.stderr
    result: dict[str, Any] = json.loads(report.read_text())
    assert result["code"] == 0, done.stdout + done.stderr
    return result


@pytest.fixture
def sim() -> Iterator[GitHubSim]:
    with onboarding_sim(FakeClock(NOW), token=TOKEN, due=datetime(2026, 12, 4, 8, tzinfo=UTC)) as simulator:
        yield simulator


@pytest.fixture
def project(sim: GitHubSim, tmp_path: Path, database_url: str) -> Project:
    """A GitHub-only project with a log channel, its database migrated (write_project opens it)."""
    project = write_project(
        tmp_path, database_url=database_url, github_url=sim.url, token=TOKEN, extra=LOG_CHANNEL
    )
    project.engine.dispose()
    return project


def test_importing_the_cli_loads_no_heavy_library(tmp_path: Path) -> None:
    modules = run_probe(tmp_path, "--help")["modules"]

    assert loaded(modules, HEAVY) == []
    assert loaded(modules, ("sqlalchemy", "okrsync.store")) == []  # not even the database


def test_status_on_a_synced_database_loads_no_heavy_library(
    project: Project, tmp_path: Path, sim: GitHubSim
) -> None:
    first = run_probe(tmp_path, "--config", str(project.config), "sync")
    assert loaded(first["modules"], ("github",)) == ["github"]  # the probe does see imports

    for args in (["status"], ["status", "--json"]):
        modules = run_probe(tmp_path, "--config", str(project.config), *args)["modules"]

        assert loaded(modules, HEAVY) == [], args
        assert loaded(modules, ("okrsync.digest", "okrsync.writeback")) == [], args
        assert "okrsync.progress" in modules  # it did compute the status


def test_a_nothing_changed_sync_loads_only_the_tracker_it_polls(
    project: Project, tmp_path: Path, sim: GitHubSim
) -> None:
    for _ in range(2):  # the first sync, then the first `since` query: both answered in full
        run_probe(tmp_path, "--config", str(project.config), "sync")
    sim.clear_log()

    modules = run_probe(tmp_path, "--config", str(project.config), "sync")["modules"]

    assert {(r.path, r.status) for r in sim.log()} == {
        ("/repos/acme/web/milestones", 304),
        ("/repos/acme/web/issues", 304),
    }  # nothing changed
    assert loaded(modules, ("github", "requests")) == ["github", "requests"]
    assert loaded(modules, ("alembic", "jira", "httpx", "apprise", "prometheus_client")) == []
    assert loaded(modules, ("okrsync.sandbox", "okrsync.daemon")) == []
    assert "okrsync.digest" in modules  # the log channel is configured: a digest may be due


def test_a_sync_without_channels_or_write_back_loads_neither(
    sim: GitHubSim, tmp_path: Path, database_url: str
) -> None:
    project = write_project(tmp_path, database_url=database_url, github_url=sim.url, token=TOKEN)
    project.engine.dispose()

    modules = run_probe(tmp_path, "--config", str(project.config), "sync")["modules"]

    assert "okrsync.engine" in modules  # it did run a cycle
    assert loaded(modules, CYCLE_EXTRAS) == []
    if database_url.startswith("sqlite"):
        assert loaded(modules, POSTGRESQL_DIALECT) == []


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_validate_loads_no_database_library(tmp_path: Path, engine: str) -> None:
    """On PostgreSQL too: loading settings checks the driver's extra from the URL's scheme alone."""
    project = tmp_path / "project"
    project.mkdir()
    sqlite_url = f"sqlite:///{project / 'okrsync.db'}"
    write_project(
        project, database_url=sqlite_url, github_url="http://127.0.0.1:9", token=TOKEN
    ).engine.dispose()
    config = project / "config.toml"
    if engine == "postgresql":
        pg_url = "postgresql+psycopg://okr@db.invalid/okrsync"
        config.write_text(config.read_text().replace(sqlite_url, pg_url))
        assert pg_url in config.read_text()

    modules = run_probe(tmp_path, "--config", str(config), "validate")["modules"]

    assert "okrsync.mappings" in modules  # it did read the mappings
    assert loaded(modules, ("sqlalchemy", "sqlmodel", "okrsync.store", *HEAVY)) == []
