"""`okrsync validate`: a source without a token is a warning, and `--tracker` says what it checked.

Issue 12 points 1 and 11: `validate` warns (never fails, `--strict` included) when a source has
no credentials at all, naming the source and the variable it would read; `validate --tracker`
resolves links live but `kr:` labels from the last sync, and its output says which.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from okrsync.cli import app
from okrsync.sandbox.github import GitHubSim
from tests.helpers import FakeClock, onboarding_sim, write_project

TOKEN = "ghp_SECRET_validate_2d8a"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
PEOPLE = """
[people.bob]
name = "Bob Stone"
email = "bob@acme.test"
"""


@pytest.fixture
def sim() -> Iterator[GitHubSim]:
    with onboarding_sim(FakeClock(NOW), token=TOKEN, due=datetime(2026, 12, 4, 8, tzinfo=UTC)) as simulator:
        yield simulator


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("OKRSYNC_NOW", NOW.isoformat())
    monkeypatch.delenv("OKRSYNC_CONFIG", raising=False)
    monkeypatch.delenv("OKRSYNC_SOURCES__GITHUB__TOKEN", raising=False)
    return CliRunner()


def test_validate_warns_about_a_source_without_a_token_and_strict_still_passes(
    runner: CliRunner, sim: GitHubSim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = write_project(
        tmp_path,
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        github_url=sim.url,
        token="x",
        extra=PEOPLE,  # so the token is the only warning
    )
    text = project.config.read_text()
    project.config.write_text(text.replace('token = "x"\n', ""))
    line = 1 + text[: text.index("[sources.github]")].count("\n")
    config = ["--config", str(project.config)]

    result = runner.invoke(app, [*config, "validate"])

    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert (
        f"warning: {project.config}:{line}: sources.github: no token: set OKRSYNC_SOURCES__GITHUB__TOKEN"
        in output
    )
    assert "GitHub App auth" in output and output.endswith("1 key result(s)")
    strict = runner.invoke(app, [*config, "validate", "--strict"])  # pre-commit and CI have no secrets
    assert strict.exit_code == 0, strict.output
    assert "no token" in strict.output

    monkeypatch.setenv("OKRSYNC_SOURCES__GITHUB__TOKEN", TOKEN)  # where the warning said to put it
    quiet = runner.invoke(app, [*config, "validate", "--strict"])
    assert quiet.exit_code == 0, quiet.output
    assert "warning" not in quiet.output and TOKEN not in quiet.output


def test_validate_tracker_says_labels_are_checked_against_the_last_sync(
    runner: CliRunner, sim: GitHubSim, tmp_path: Path, database_url: str
) -> None:
    project = write_project(tmp_path, database_url=database_url, github_url=sim.url, token=TOKEN)
    config = ["--config", str(project.config)]

    before = runner.invoke(app, [*config, "validate", "--tracker"])
    assert before.exit_code == 0, before.output
    assert (
        "links resolved live against the trackers; kr: labels not checked: no source has synced yet"
        in " ".join(before.output.split())
    )

    assert runner.invoke(app, [*config, "sync"]).exit_code == 0
    sim.add_issue(
        "acme/web", "Labelled after the sync", labels=["kr:ENG-1.9"]
    )  # not seen until the next sync

    after = runner.invoke(app, [*config, "validate", "--tracker"])
    assert after.exit_code == 0, after.output
    assert (
        "kr: labels checked against the last sync (github at 2026-11-20 09:00 UTC), not the live trackers"
        in " ".join(after.output.split())
    )
