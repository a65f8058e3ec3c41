"""Test kit for the report: an org synced over several days, so the history has a story to draw.

ENG-1.1 is linked to one GitHub milestone ("Onboarding v2", due 20 Nov) whose issues close
one by one between syncs on 10, 12 and 16 Nov; by 23 Nov it is overdue (an alert). One issue
is titled `<script>alert(1)</script>` and one check-in's blocker carries markup, so every page
must escape tracker and user text. ENG-1.2 is a falling metric (4 s → 1.5 s) measured by
check-ins.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from okrsync.cli import app
from okrsync.sandbox.github import GitHubSim
from tests.helpers import FakeClock, Project, write_project

TOKEN = "ghp_REPORT_secret_token_91c2"
SCRIPT_TITLE = "<script>alert(1)</script>"
BLOCKER = "<b>legal</b> review & sign-off"
DAYS = [datetime(2026, 11, d, 9, 0, tzinfo=UTC) for d in (10, 12, 16, 23)]
TODAY = DAYS[-1]

MAPPING = """
[cycle]
id = "2026-Q4"
start = 2026-10-01
end = 2026-12-31

[[objective]]
id = "ENG-1"
title = "Remove friction from onboarding"
owner = "bob"

[[objective.key_result]]
id = "ENG-1.1"
title = "Ship onboarding"
owner = "bob"
kind = "milestones"

[[objective.key_result.link]]
source = "github"
repo = "acme/web"
milestone = "Onboarding v2"

[[objective.key_result]]
id = "ENG-1.2"
title = "Sign-up answers fast"
owner = "bob"
kind = "metric"
baseline = 4
target = 1.5
unit = "s"
"""


def invoke(project: Project, *args: str, at: datetime) -> str:
    result = CliRunner().invoke(
        app, ["--config", str(project.config), *args], env={"OKRSYNC_NOW": at.isoformat()}
    )
    assert result.exit_code == 0, result.output
    return result.stdout


@contextmanager
def synced_org(folder: Path, database_url: str) -> Iterator[Project]:
    """Build the org described above in the simulator and sync it day by day; yield the project."""
    clock = FakeClock(DAYS[0])
    sim = GitHubSim(tokens={TOKEN: "okrsync"}, clock=clock)
    sim.add_repo("acme/web")
    number = sim.add_milestone("acme/web", "Onboarding v2", due_on=datetime(2026, 11, 20, 8, tzinfo=UTC))
    issues = [
        sim.add_issue("acme/web", title, milestone=number, assignee=who)
        for title, who in [
            ("Welcome screen copy", "carol"),
            ("Progress indicator", "carol"),
            (SCRIPT_TITLE, "frank"),
            ("Team invite flow", None),
        ]
    ]
    sim.start()
    try:
        project = write_project(
            folder,
            database_url=database_url,
            github_url=sim.url,
            token=TOKEN,
            mapping=MAPPING,
            extra='[people.bob]\nname = "Bob <Stone>"\n',
        )
        invoke(project, "sync", "--no-deliver", at=DAYS[0])
        for moment, issue in zip(DAYS[1:3], issues[:2], strict=True):
            clock.now = moment - timedelta(hours=1)
            sim.close_issue("acme/web", issue, at=clock.now)
            clock.now = moment
            invoke(project, "sync", "--no-deliver", at=moment)
        invoke(project, "checkin", "ENG-1.1", "--confidence", "7", "--by", "bob", at=DAYS[1])
        invoke(
            project,
            "checkin",
            "ENG-1.1",
            "--confidence",
            "4",
            "--blocker",
            BLOCKER,
            "--next",
            "ask legal",
            at=DAYS[2],
        )
        invoke(project, "checkin", "ENG-1.2", "--confidence", "6", "--value", "3.2", at=DAYS[1])
        invoke(project, "checkin", "ENG-1.2", "--confidence", "6", "--value", "2.75", at=DAYS[2])
        clock.now = TODAY
        invoke(project, "sync", "--no-deliver", at=TODAY)
        yield project
    finally:
        sim.stop()
