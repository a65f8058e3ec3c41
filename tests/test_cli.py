"""The command line as a user meets it: exit codes, messages, secrets kept out of output."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from typer.testing import CliRunner

from okrsync.cli import app
from okrsync.sandbox.github import GitHubSim
from okrsync.sandbox.http import Fault
from tests.helpers import FakeClock, onboarding_sim, write_project

TOKEN = "ghp_SECRET_cli_token_5f3a9c"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def sim() -> Iterator[GitHubSim]:
    with onboarding_sim(FakeClock(NOW), token=TOKEN, due=datetime(2026, 12, 4, 8, tzinfo=UTC)) as simulator:
        yield simulator


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("OKRSYNC_NOW", NOW.isoformat())
    monkeypatch.delenv("OKRSYNC_CONFIG", raising=False)
    return CliRunner()


def test_demo_prints_a_cascaded_status_tree(runner: CliRunner) -> None:
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    for expected in (
        "CO-1",
        "ENG-1",
        "ENG-2",
        "Onboarding v2",
        "Signup API",
        "Perf sprint",
        "due 2026-",
        "forecast",
    ):
        assert expected in result.output
    # ENG-1 is drawn under CO-1 (its parent), not as a root of its own cycle.
    assert result.output.index("CO-1 ") < result.output.index("ENG-1 ")


def test_sync_then_status_json_has_the_spec_shape(
    runner: CliRunner, sim: GitHubSim, tmp_path: Path, database_url: str
) -> None:
    project = write_project(tmp_path, database_url=database_url, github_url=sim.url, token=TOKEN)
    assert runner.invoke(app, ["--config", str(project.config), "sync"]).exit_code == 0

    result = runner.invoke(app, ["--config", str(project.config), "status", "--json"])

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["generated_at"] == "2026-11-20T09:00:00Z"
    assert document["cycles"] == [{"id": "2026-Q4", "start": "2026-10-01", "end": "2026-12-31"}]
    kr = document["objectives"][0]["key_results"][0]
    milestone = kr["milestones"][0]
    assert {
        k: milestone[k] for k in ("source", "key", "title", "due", "state", "done", "total", "excluded")
    } == {
        "source": "github",
        "key": "acme/web#1",
        "title": "Onboarding v2",
        "due": "2026-12-04",
        "state": "open",
        "done": 1,
        "total": 4,
        "excluded": 0,
    }
    assert milestone["progress"] == 0.25
    assert kr["score"] == 0.25
    assert document["sources"][0]["name"] == "github"
    assert document["sources"][0]["last_error"] is None


def test_the_token_never_reaches_output_or_logs(
    runner: CliRunner, sim: GitHubSim, tmp_path: Path, caplog: pytest.LogCaptureFixture, database_url: str
) -> None:
    project = write_project(tmp_path, database_url=database_url, github_url=sim.url, token=TOKEN)
    caplog.set_level(logging.DEBUG)
    config = ["--verbose", "--config", str(project.config)]
    outputs = [runner.invoke(app, [*config, "sync"]), runner.invoke(app, [*config, "status"])]
    outputs.append(runner.invoke(app, [*config, "status", "--json"]))
    sim.inject(Fault(status=401, body={"message": "Bad credentials"}))
    failed = runner.invoke(app, [*config, "sync"])
    outputs.append(failed)

    assert failed.exit_code == 1
    assert "github" in failed.output and "401" in failed.output
    assert [r.exit_code for r in outputs[:3]] == [0, 0, 0]
    for result in outputs:
        assert TOKEN not in result.output
    assert TOKEN not in caplog.text
    assert caplog.records, "nothing was logged, so the check above proves nothing"
    assert all(TOKEN not in str(r.__dict__) for r in caplog.records)


def test_a_failing_source_exits_1_naming_it(runner: CliRunner, sim: GitHubSim, tmp_path: Path) -> None:
    project = write_project(
        tmp_path, database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", github_url=sim.url, token=TOKEN
    )
    sim.inject(Fault(status=500, body={"message": "Server Error"}))

    result = runner.invoke(app, ["--config", str(project.config), "sync"])

    assert result.exit_code == 1
    assert "source 'github'" in result.output and "500" in result.output
    status = runner.invoke(app, ["--config", str(project.config), "status"])
    assert "500" in status.output


BROKEN_INPUTS = [
    (
        "mappings/okrs.toml",
        'title = "Remove friction from onboarding"',
        'titel = "typo"',
        "okrs.toml:9",
        "titel",
    ),
    (
        "mappings/okrs.toml",
        'owner = "bob"\n\n[[objective.key_result]]',
        'owner = "bob"\nparent = "ENG-1"\n\n[[objective.key_result]]',
        "okrs.toml",
        "parent",
    ),
    ("mappings/okrs.toml", 'source = "github"', 'source = "gitlab"', "okrs.toml:22", "source"),
    ("config.toml", "[sources.github]", "[sources.github]\ntokn = 'x'", "config.toml:7", "tokn"),
    ("config.toml", 'timezone = "Europe/Berlin"', 'timezone = "Mars/Olympus"', "config.toml:4", "timezone"),
]


def snapshot(database_url: str) -> str:
    """Fingerprint every row of every table, on any engine."""
    engine = create_engine(database_url)
    digest = hashlib.sha256()
    with engine.connect() as connection:
        for name in sorted(inspect(connection).get_table_names()):
            digest.update(name.encode())
            for row in connection.execute(text(f'SELECT * FROM "{name}"')):
                digest.update(repr(tuple(row)).encode())
    engine.dispose()
    return digest.hexdigest()


@pytest.mark.parametrize(("file", "old", "new", "where", "field"), BROKEN_INPUTS)
def test_bad_input_exits_2_with_file_line_and_leaves_the_database_untouched(
    runner: CliRunner,
    sim: GitHubSim,
    tmp_path: Path,
    database_url: str,
    file: str,
    old: str,
    new: str,
    where: str,
    field: str,
) -> None:
    project = write_project(tmp_path, database_url=database_url, github_url=sim.url, token=TOKEN)
    assert runner.invoke(app, ["--config", str(project.config), "sync"]).exit_code == 0
    before = snapshot(database_url)
    target = tmp_path / file
    text = target.read_text()
    assert old in text
    target.write_text(text.replace(old, new, 1))

    for command in (["sync"], ["status"], ["validate"]):
        result = runner.invoke(app, ["--config", str(project.config), *command])
        assert result.exit_code == 2, result.output
        assert where in result.output and field in result.output

    assert snapshot(database_url) == before


def test_validate_tracker_names_a_missing_github_milestone_and_unknown_kr_labels(
    runner: CliRunner, sim: GitHubSim, tmp_path: Path, database_url: str
) -> None:
    project = write_project(tmp_path, database_url=database_url, github_url=sim.url, token=TOKEN)
    config = ["--config", str(project.config)]
    assert runner.invoke(app, [*config, "validate", "--tracker"]).exit_code == 0

    sim.add_issue("acme/web", "Labelled with a typo", labels=["kr:ENG-1.9"])
    assert runner.invoke(app, [*config, "sync"]).exit_code == 0
    sim.rename_milestone("acme/web", 1, "Onboarding v3")

    result = runner.invoke(app, [*config, "validate", "--tracker"])

    assert result.exit_code == 2
    assert (
        "okrs.toml:21" in result.output and "acme/web milestone Onboarding v2 does not exist" in result.output
    )
    assert "'Onboarding v3'" in result.output  # what is there instead
    assert "kr:ENG-1.9 on acme/web#5 matches no key result" in result.output


@pytest.mark.parametrize(
    ("setting", "found"),
    [('mappings = "mappings"', "it holds no *.toml file"), ('mappings = "nowhere"', "no such folder")],
)
def test_an_empty_or_missing_mappings_folder_exits_2_naming_the_setting(
    runner: CliRunner, sim: GitHubSim, tmp_path: Path, setting: str, found: str
) -> None:
    database = tmp_path / "okrsync.db"
    project = write_project(tmp_path, database_url=f"sqlite:///{database}", github_url=sim.url, token=TOKEN)
    database.unlink()
    (tmp_path / "mappings" / "okrs.toml").unlink()
    config = project.config.read_text()
    project.config.write_text(config.replace('mappings = "mappings"', setting))
    line = 1 + config[: config.index("mappings = ")].count("\n")

    for command in (["validate", "--strict"], ["sync"], ["status"]):
        result = runner.invoke(app, ["--config", str(project.config), *command])
        assert result.exit_code == 2, result.output
        assert f"config.toml:{line}: okrsync.mappings:" in result.output
        assert found in result.output
    assert not database.exists()  # nothing was created
