"""`pip install .` without extras, then a config that needs one: one line naming the extra, exit 2.

The venv is real and installed from this checkout the way a user installs it (pip's cache
keeps it to a few tens of seconds), because only a venv without psycopg and Apprise shows
what a user without the extras sees; the dev venv has both.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bare_okrsync(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The console script of a fresh venv with okrsync installed without extras."""
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    installed = subprocess.run(
        [
            str(venv / "bin/python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stderr
    for module in ("psycopg", "apprise"):  # the point of the venv: neither extra is there
        probe = subprocess.run([str(venv / "bin/python"), "-c", f"import {module}"], capture_output=True)
        assert probe.returncode != 0, f"{module} is installed without its extra"
    return venv / "bin/okrsync"


def run(okrsync: Path, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(okrsync), "--config", str(folder / "config.toml"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=folder,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "80"},
    )


@pytest.mark.parametrize("command", ["validate", "sync"])
def test_a_postgresql_url_without_the_postgres_extra(
    bare_okrsync: Path, tmp_path: Path, command: str
) -> None:
    (tmp_path / "mappings").mkdir()
    (tmp_path / "config.toml").write_text(
        '[okrsync]\ndatabase_url = "postgresql+psycopg://okr@db.invalid/okrsync"\n'
    )

    result = run(bare_okrsync, tmp_path, command)

    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"error: {tmp_path / 'config.toml'}:2: okrsync.database_url: PostgreSQL needs its driver: "
        "install okrsync[postgres]"
    ]
    assert "Traceback" not in result.stderr + result.stdout


def test_an_apprise_channel_without_the_apprise_extra(bare_okrsync: Path, tmp_path: Path) -> None:
    (tmp_path / "mappings").mkdir()
    (tmp_path / "config.toml").write_text(
        '[alerts.channels.ops]\ntype = "apprise"\nurl = "mailto://ops@example.com"\n'
    )

    result = run(bare_okrsync, tmp_path, "validate")

    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.endswith(
        ":2: alerts.channels.ops.type: an apprise channel needs Apprise: install okrsync[apprise]"
    )


def test_a_new_project_on_sqlite_needs_no_extra(bare_okrsync: Path, tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin"}
    written = subprocess.run(
        [str(bare_okrsync), "init"], cwd=tmp_path, env=env, capture_output=True, timeout=120
    )
    assert written.returncode == 0, written.stderr

    result = run(bare_okrsync, tmp_path, "validate")

    assert result.returncode == 0, result.stderr
