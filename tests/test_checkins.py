"""Check-ins: stored and shown, refused when malformed, and driving a metric KR's progress."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import func, select
from typer.testing import CliRunner

from okrsync.checkins import metric_value, parse_confidence
from okrsync.cli import app
from okrsync.okrs import KeyResult
from okrsync.sandbox.github import GitHubSim
from okrsync.store import Checkin, session
from tests.helpers import MAPPING as BASE_MAPPING
from tests.helpers import FakeClock, Project, onboarding_sim, write_project

TOKEN = "ghp_checkin_token"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

# The shared onboarding OKR plus a metric KR with a falling target.
MAPPING = (
    BASE_MAPPING
    + """
[[objective.key_result]]
id = "ENG-1.3"
title = "Cut p95 sign-up latency from 4 s to 1.5 s"
owner = "bob"
kind = "metric"
baseline = 4
target = 1.5
unit = "s"
"""
)


@pytest.fixture
def sim() -> Iterator[GitHubSim]:
    # on pace (3 of 4 done): only confidence can make it at risk
    due = datetime(2026, 12, 4, 8, tzinfo=UTC)
    with onboarding_sim(FakeClock(NOW), token=TOKEN, due=due, done=3) as simulator:
        yield simulator


@pytest.fixture
def project(sim: GitHubSim, tmp_path: Path, database_url: str) -> Project:
    return write_project(
        tmp_path, database_url=database_url, github_url=sim.url, token=TOKEN, mapping=MAPPING
    )


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("OKRSYNC_NOW", NOW.isoformat())
    monkeypatch.delenv("OKRSYNC_CONFIG", raising=False)
    return CliRunner()


def okrsync(runner: CliRunner, project: Project, *args: str) -> Result:
    return runner.invoke(app, ["--config", str(project.config), *args])


def stored(project: Project) -> int:
    with session(project.engine) as db:
        return int(db.execute(select(func.count()).select_from(Checkin)).scalar_one())


def kr_json(runner: CliRunner, project: Project, kr_id: str) -> dict[str, object]:
    result = runner.invoke(app, ["--config", str(project.config), "status", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    return next(k for o in document["objectives"] for k in o["key_results"] if k["id"] == kr_id)


# --- pure rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [("1", 1), ("10", 10), ("7", 7), (" 5 ", 5)])
def test_a_confidence_from_1_to_10_is_accepted(text: str, expected: int) -> None:
    assert parse_confidence(text) == expected


@pytest.mark.parametrize("text", ["0", "11", "high", "7.5", "-1", ""])
def test_a_confidence_off_the_scale_or_not_a_whole_number_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="expected a whole number from 1 to 10"):
        parse_confidence(text)


def _kr(value_query: str | None) -> KeyResult:
    return KeyResult(id="M-1", title="t", owner="o", objective_id="O", kind="metric", value_query=value_query)


@pytest.mark.parametrize(
    ("value_query", "measured", "reported", "expected"),
    [
        (None, None, 2.5, 2.5),  # no query: the check-in's value
        (None, 9.0, 2.5, 2.5),  # a leftover count of a removed query does not count
        ("label:bug", 12.0, 20.0, 12.0),  # a query: the tracker count wins
        ("label:bug", None, 20.0, 20.0),  # ... but the check-in counts until a first measurement
        ("label:bug", None, None, None),
    ],
)
def test_a_metric_value_comes_from_the_count_or_the_latest_check_in(
    value_query: str | None, measured: float | None, reported: float | None, expected: float | None
) -> None:
    assert metric_value(_kr(value_query), measured=measured, reported=reported) == expected


# --- the command --------------------------------------------------------------------------------


@pytest.mark.parametrize("confidence", ["0", "11", "high"])
def test_checkin_refuses_a_bad_confidence_with_exit_2_and_stores_nothing(
    runner: CliRunner, project: Project, confidence: str
) -> None:
    result = okrsync(runner, project, "checkin", "ENG-1.1", "--confidence", confidence)

    assert result.exit_code == 2
    assert f"--confidence {confidence!r}" in result.output or f"--confidence {confidence}:" in result.output
    assert "expected a whole number from 1 to 10" in result.output
    assert stored(project) == 0


def test_checkin_on_an_unknown_kr_exits_2_naming_it_and_the_nearest_id(
    runner: CliRunner, project: Project
) -> None:
    result = okrsync(runner, project, "checkin", "ENG-11", "--confidence", "6")

    assert result.exit_code == 2
    assert "no key result 'ENG-11'; did you mean 'ENG-1.1'?" in result.output
    assert stored(project) == 0


def test_a_check_in_is_stored_and_shown_in_status(runner: CliRunner, project: Project) -> None:
    assert okrsync(runner, project, "sync").exit_code == 0
    assert kr_json(runner, project, "ENG-1.1")["status"] == "on_track"
    result = okrsync(
        runner,
        project,
        "checkin",
        "ENG-1.1",
        "--confidence",
        "4",
        "--blocker",
        "SSO vendor is late",
        "--next",
        "Escalate on Monday",
        "--note",
        "Scope is fine",
        "--by",
        "bob",
    )
    assert result.exit_code == 0, result.output
    assert "confidence 4" in result.output

    kr = kr_json(runner, project, "ENG-1.1")
    assert kr["confidence"] == 4
    assert kr["status"] == "at_risk"  # confidence ≤ 4 (SPEC §2); on pace otherwise
    assert kr["checkin"] == {
        "id": 1,
        "day": "2026-11-20",
        "at": "2026-11-20T09:00:00Z",
        "by": "bob",
        "confidence": 4,
        "value": None,
        "blocker": "SSO vendor is late",
        "next": "Escalate on Monday",
        "note": "Scope is fine",
    }
    tree = okrsync(runner, project, "status")
    assert "confidence 4/10" in tree.output


def test_a_kr_without_check_ins_has_a_null_checkin(runner: CliRunner, project: Project) -> None:
    assert okrsync(runner, project, "sync").exit_code == 0
    kr = kr_json(runner, project, "ENG-1.1")
    assert kr["checkin"] is None and kr["confidence"] is None


def test_a_metric_kr_follows_its_latest_value_on_a_falling_target(
    runner: CliRunner, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert okrsync(runner, project, "sync").exit_code == 0
    assert kr_json(runner, project, "ENG-1.3")["progress"] == 0  # no value yet

    okrsync(runner, project, "checkin", "ENG-1.3", "--confidence", "7", "--value", "2.75")
    kr = kr_json(runner, project, "ENG-1.3")
    assert (kr["value"], kr["progress"], kr["score"]) == (2.75, 0.5, 0.5)  # (2.75-4)/(1.5-4)

    # A later check-in without a value keeps the last value; a new value moves progress.
    monkeypatch.setenv("OKRSYNC_NOW", "2026-11-27T09:00:00+00:00")
    okrsync(runner, project, "checkin", "ENG-1.3", "--confidence", "8")
    assert kr_json(runner, project, "ENG-1.3")["progress"] == 0.5
    okrsync(runner, project, "checkin", "ENG-1.3", "--confidence", "8", "--value", "1.2")
    kr = kr_json(runner, project, "ENG-1.3")
    assert (kr["progress"], kr["status"]) == (1.0, "done")  # past the target is clamped to 1
    assert kr["checkin"]["value"] == 1.2  # type: ignore[index]


def test_a_value_on_a_milestones_kr_is_kept_but_does_not_move_it(runner: CliRunner, project: Project) -> None:
    assert okrsync(runner, project, "sync").exit_code == 0
    result = okrsync(runner, project, "checkin", "ENG-1.1", "--confidence", "6", "--value", "90")

    assert result.exit_code == 0
    assert "takes its progress from its milestones" in result.output
    kr = kr_json(runner, project, "ENG-1.1")
    assert kr["progress"] == 0.75 and kr["checkin"]["value"] == 90  # type: ignore[index]
