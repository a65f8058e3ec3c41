"""`okrsync explain`: from a slipping KR to its milestone, the open issues and the people on them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from okrsync.cli import app
from okrsync.explain import reasons
from okrsync.rollup import KrProgress, MilestoneProgress
from okrsync.sandbox.github import GitHubSim
from tests.helpers import FakeClock, Project, write_project

TOKEN = "ghp_explain_token"
START = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # three days after the milestone's due day


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def sim(clock: FakeClock) -> Iterator[GitHubSim]:
    simulator = GitHubSim(tokens={TOKEN: "okrsync"}, clock=clock)
    simulator.add_repo("acme/web")
    number = simulator.add_milestone(
        "acme/web", "Onboarding v2", due_on=datetime(2026, 11, 20, 8, tzinfo=UTC)
    )
    for title, who, done in [
        ("Welcome screen copy", "carol", True),
        ("SSO sign-up path", "frank", False),
        ("Team invite flow", "frank", False),
        ("Mobile layout for step 3", None, False),
    ]:
        issue = simulator.add_issue("acme/web", title, milestone=number, assignee=who)
        if done:
            simulator.close_issue("acme/web", issue, at=START - timedelta(days=20))
    simulator.start()
    yield simulator
    simulator.stop()


def invoke(runner: CliRunner, project: Project, *args: str, at: datetime) -> str:
    result = runner.invoke(app, ["--config", str(project.config), *args], env={"OKRSYNC_NOW": at.isoformat()})
    assert result.exit_code == 0, result.output
    return result.stdout


def test_explain_on_a_slipping_kr_names_the_milestone_the_open_issues_and_their_assignees(
    sim: GitHubSim, clock: FakeClock, tmp_path: Path, database_url: str
) -> None:
    runner = CliRunner()
    project = write_project(tmp_path, database_url=database_url, github_url=sim.url, token=TOKEN)
    invoke(runner, project, "sync", at=START)
    clock.now = NOW - timedelta(days=2)
    sim.close_issue("acme/web", 3)  # "Team invite flow" is done, two days ago
    invoke(runner, project, "sync", at=NOW - timedelta(days=2))
    invoke(
        runner,
        project,
        "checkin",
        "ENG-1.1",
        "--confidence",
        "3",
        "--blocker",
        "SSO vendor is late",
        "--next",
        "Escalate",
        "--by",
        "bob",
        at=NOW - timedelta(days=1),
    )

    text = invoke(runner, project, "explain", "ENG-1.1", at=NOW)

    for expected in (
        "ENG-1.1 Ship onboarding",
        "Onboarding v2 (acme/web#1) was due 2026-11-20 and has 2 open issue(s)",  # why
        "acme/web#2 SSO sign-up path — frank",
        "acme/web#4 Mobile layout for step 3 — unassigned",
        "frank 1, unassigned 1",
        "confidence 3/10",
        "blocker: SSO vendor is late",
        "2026-11-21  Onboarding v2: 1/4 → 2/4 done, 25% → 50%",  # from the history
        "check-in by bob: confidence 3",
        "milestone.overdue",
    ):
        assert expected in text, f"{expected!r} not in:\n{text}"
    assert "Team invite flow" not in text  # done: not behind the gap

    document = json.loads(invoke(runner, project, "explain", "ENG-1.1", "--json", at=NOW))
    assert document["key_result"]["status"] == "off_track"
    milestone = document["milestones"][0]
    assert (milestone["key"], milestone["due"], milestone["overdue"]) == ("acme/web#1", "2026-11-20", True)
    assert [(i["key"], i["assignee"]) for i in milestone["open_issues"]] == [
        ("acme/web#2", "frank"),
        ("acme/web#4", None),
    ]
    assert document["checkin"]["confidence"] == 3 and document["checkin"]["by"] == "bob"
    whats = [(c["day"], c["what"]) for c in document["changes"]]
    assert ("2026-11-21", "milestone") in whats and ("2026-11-22", "checkin") in whats


def test_explain_on_an_unknown_kr_exits_2_suggesting_the_nearest(
    sim: GitHubSim, tmp_path: Path, database_url: str
) -> None:
    project = write_project(tmp_path, database_url=database_url, github_url=sim.url, token=TOKEN)
    result = CliRunner().invoke(app, ["--config", str(project.config), "explain", "ENG-1.I"])
    assert result.exit_code == 2
    assert "no key result 'ENG-1.I'; did you mean 'ENG-1.1'?" in result.output


def _milestone(**changes: object) -> MilestoneProgress:
    base: dict[str, object] = {
        "source": "github",
        "key": "acme/web#1",
        "title": "Onboarding v2",
        "url": None,
        "due": datetime(2026, 11, 20, tzinfo=UTC).date(),
        "state": "open",
        "progress": 0.5,
        "done": 2,
        "total": 4,
        "excluded": 0,
        "done_weight": 2.0,
        "total_weight": 4.0,
        "unestimated": 0,
        "empty": False,
        "missing": False,
        "forecast": None,
        "stalled": False,
        "overdue": False,
        "status": "on_track",
        "open_issues": (),
    }
    base.update(changes)
    return MilestoneProgress(**base)  # type: ignore[arg-type]


def _kr(
    progress: float, expected: float, *, confidence: int | None = None, **milestone: object
) -> KrProgress:
    return KrProgress(
        "K", progress, round(progress, 2), "on_track", expected, None, confidence, (_milestone(**milestone),)
    )


@pytest.mark.parametrize(
    ("kr", "expected"),
    [
        (_kr(1.0, 0.5), "all of its work is done"),
        (_kr(0.5, 0.5, overdue=True, status="off_track"), "was due 2026-11-20 and has 0 open issue(s)"),
        (
            _kr(0.5, 0.5, status="at_risk", forecast=datetime(2026, 11, 30, tzinfo=UTC).date()),
            "is forecast for 2026-11-30, after its due date 2026-11-20",
        ),
        (_kr(0.5, 0.5, status="at_risk", stalled=True), "has stalled"),
        (_kr(0.5, 0.5, missing=True, status="at_risk"), "is not in the tracker any more"),
        (_kr(0.3, 0.6), "30 points below the 60% expected by today (more than 25: off track)"),
        (_kr(0.45, 0.6), "15 points below the 60% expected by today (more than 10: at risk)"),
        (_kr(0.6, 0.6, confidence=4), "the latest confidence is 4/10"),
        (_kr(0.6, 0.6), "on track"),
    ],
)
def test_every_status_has_a_reason(kr: KrProgress, expected: str) -> None:
    assert any(expected in reason for reason in reasons(kr)), reasons(kr)
