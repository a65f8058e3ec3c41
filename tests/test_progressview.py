"""Progress on long work (issue 12 point 6): what the connectors report, and how it is shown.

The connectors report through `PollRun.progress` (repos or projects done of total, the
issues the tracker announces); the engine hands snapshots to a hook; on a terminal the hook
draws Rich bars, elsewhere it logs a line at most every few seconds. A first sync's backlog
is one log line.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console
from rich.progress import Progress, TextColumn
from typer.testing import CliRunner

from connectors.jira import JiraPoller
from okrsync.cli import app
from okrsync.engine import SourceProgress, poll_source, run_cycle
from okrsync.progressview import BarProgress, LogProgress, describe, seconds_left
from okrsync.sandbox.github import GitHubSim
from okrsync.sandbox.jira import JiraSim
from tests.helpers import FakeClock, write_jira_project, write_project

TOKEN = "ghp_progress_token"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
REPOS = ("acme/api", "acme/docs", "acme/web")


class Ticks:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def _snapshot(done: int, issues: int, **changes: object) -> SourceProgress:
    fields: dict[str, object] = {
        "name": "github",
        "issues": issues,
        "unit": "repos",
        "done": done,
        "total": 10,
        "expected_issues": None,
        "rate_remaining": 4100,
    }
    fields.update(changes)
    return SourceProgress(**fields)  # type: ignore[arg-type]


# --- what is said ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("progress", "elapsed", "line"),
    [
        (_snapshot(0, 0), 3.0, "github: 0/10 repos, 0 issues fetched, rate limit 4,100 left"),
        (
            _snapshot(3, 12300),
            30.0,
            "github: 3/10 repos, 12,300 issues fetched, rate limit 4,100 left, about 1m 10s left",
        ),
        (
            _snapshot(
                0, 2500, name="jira", unit="projects", total=4, expected_issues=10000, rate_remaining=None
            ),
            20.0,
            "jira: 0/4 projects, 2,500 issues fetched of 10,000, about 1m 00s left",
        ),
        (_snapshot(1, 10, total=None, unit="items"), 5.0, "github, 10 issues fetched, rate limit 4,100 left"),
    ],
)
def test_a_progress_line_says_units_issues_rate_limit_and_time_left(
    progress: SourceProgress, elapsed: float, line: str
) -> None:
    assert describe(progress, left=seconds_left(progress, elapsed=elapsed)) == line


def test_off_a_terminal_a_line_is_logged_at_most_every_interval(caplog: pytest.LogCaptureFixture) -> None:
    clock = Ticks()
    shown = LogProgress(every=5, clock=clock)
    caplog.set_level(logging.INFO, logger="okrsync.progressview")
    for second in range(13):  # a report every second for 12 seconds
        clock.t = 100.0 + second
        shown(_snapshot(second // 2, second * 100))
    lines = [r.getMessage() for r in caplog.records if r.name == "okrsync.progressview"]
    assert lines == [
        "progress: github: 2/10 repos, 500 issues fetched, rate limit 4,100 left, about 20s left",
        "progress: github: 5/10 repos, 1,000 issues fetched, rate limit 4,100 left, about 10s left",
    ]


def test_on_a_terminal_each_source_has_a_bar_with_its_numbers() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=160)
    columns = (
        TextColumn("{task.description} {task.fields[units]} {task.fields[issues]} {task.fields[rate]}"),
    )
    with Progress(*columns, console=console, auto_refresh=False) as bar:
        shown = BarProgress(bar)
        shown(_snapshot(2, 700))
        shown(
            _snapshot(0, 40, name="jira", unit="projects", total=3, expected_issues=90, rate_remaining=None)
        )
        bar.refresh()
        tasks = {task.description: task for task in bar.tasks}
    assert "github 2/10 repos 700 issues rate limit 4,100 left" in screen.getvalue()
    assert "jira 0/3 projects 40 issues of 90" in screen.getvalue()
    assert (tasks["github"].completed, tasks["github"].total) == (2, 10)
    assert (tasks["jira"].completed, tasks["jira"].total) == (40, 90)  # the tracker's count is better


# --- what the connectors report ----------------------------------------------------------------


@pytest.fixture
def github() -> Iterator[GitHubSim]:
    clock = FakeClock(NOW - timedelta(days=1))
    sim = GitHubSim(tokens={TOKEN: "okrsync"}, clock=clock)
    for repo in REPOS:
        sim.add_repo(repo)
        for index in range(5):
            sim.add_issue(repo, f"{repo} task {index}")
    sim.start()
    yield sim
    sim.stop()


def test_github_reports_repos_done_of_total_and_the_rate_limit(
    github: GitHubSim, tmp_path: Path, database_url: str
) -> None:
    project = write_project(
        tmp_path,
        database_url=database_url,
        github_url=github.url,
        token=TOKEN,
        repos=REPOS,
        extra="per_page = 2\nconcurrency = 2\n",
    )
    seen: list[SourceProgress] = []
    run_cycle(project.settings, project.okrs, project.engine, now=NOW, progress=seen.append)

    assert {(p.unit, p.total) for p in seen} == {("repos", 3)}
    assert [p.done for p in seen] == sorted(p.done for p in seen)  # never backwards
    assert {p.done for p in seen} == {0, 1, 2, 3}
    assert seen[-1].issues == 15 and seen[-1].rate_remaining is not None
    assert max(p.issues for p in seen if p.done == 0) < 15  # told page by page, not at the end


@pytest.mark.parametrize("mode", ["cloud", "datacenter"])
def test_jira_reports_projects_done_and_data_centers_issue_count(
    mode: str, tmp_path: Path, database_url: str
) -> None:
    users = {"okrsync@acme.test:jira-token": "okrsync"} if mode == "cloud" else {"jira-pat": "okrsync"}
    sim = JiraSim(mode, users=users, clock=lambda: NOW - timedelta(days=1))  # type: ignore[arg-type]
    for project_key in ("API", "ONB"):
        sim.add_project(project_key, project_key.title())
        for index in range(3):
            sim.add_issue(project_key, f"{project_key} task {index}")
    sim.add_version("ONB", "2.0", release_date=date(2026, 12, 4))
    with sim:
        project = write_jira_project(
            tmp_path,
            database_url=database_url,
            jira_url=sim.url,
            token="jira-token" if mode == "cloud" else "jira-pat",
            email="okrsync@acme.test" if mode == "cloud" else None,
        )
        source = project.settings.sources["jira"]
        poller = JiraPoller(
            "jira",
            url=source.url,
            email=source.email,
            token=source.token,
            projects=["API", "ONB"],
            page_size=2,
        )
        seen: list[SourceProgress] = []
        outcome = poll_source(
            poller, project.engine, kind="jira", now=NOW, settings=project.settings, progress=seen.append
        )
    assert outcome.ok, outcome.error
    assert {(p.unit, p.total) for p in seen} == {("projects", 2)}
    assert [p.done for p in seen] == sorted(p.done for p in seen)
    assert 1 in {p.done for p in seen if p.issues < 6}  # API done while ONB was still being read
    assert seen[-1].done == 2 and seen[-1].issues == 6
    assert seen[-1].expected_issues == (6 if mode == "datacenter" else None)


# --- the CLI, piped ----------------------------------------------------------------------------


def test_a_piped_sync_logs_progress_lines_and_the_backlog_in_one_line(
    github: GitHubSim, tmp_path: Path, database_url: str
) -> None:
    for repo, due in (("acme/api", date(2026, 11, 2)), ("acme/web", date(2026, 11, 9))):
        number = github.add_milestone(
            repo, f"{repo} launch", due_on=datetime.combine(due, datetime.min.time(), UTC)
        )
        github.add_issue(repo, "Still open", milestone=number)
    mapping = """
[cycle]
id = "2026-Q4"
start = 2026-10-01
end = 2026-12-31

[[objective]]
id = "ENG-1"
title = "Launch"
owner = "bob"

[[objective.key_result]]
id = "ENG-1.1"
title = "Launch both"
owner = "bob"
kind = "milestones"
baseline = 0
target = 100
unit = "%"
link = [
  { source = "github", repo = "acme/api", milestone = "acme/api launch" },
  { source = "github", repo = "acme/web", milestone = "acme/web launch" },
]
"""
    project = write_project(
        tmp_path,
        database_url=database_url,
        github_url=github.url,
        token=TOKEN,
        repos=REPOS,
        mapping=mapping,
        extra="per_page = 2\n",
    )
    result = CliRunner().invoke(
        app,
        ["--config", str(project.config), "--log-format", "text", "sync"],
        env={"OKRSYNC_NOW": NOW.isoformat(), "OKRSYNC_PROGRESS_EVERY": "0"},
    )
    assert result.exit_code == 0, result.output
    logged = result.stderr
    for done in (1, 2, 3):
        assert f"progress: github: {done}/3 repos, " in logged
    assert "issues fetched, rate limit " in logged
    assert logged.count("backlog") == 1
    assert "recorded 2 backlog alert(s), not sent: see `okrsync alerts --all`" in logged
    assert "detected milestone.overdue" not in logged
