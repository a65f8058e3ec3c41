"""Command-line conventions (issue 12 point 8) and the `alerts --json` document (point 9).

`--version`, shell completion, help that shows choices and types, Ctrl-C as one line and
exit 130, KR ids that ignore case, `explain`'s headline agreeing with its reasons, and the
alerts table and document.
"""

from __future__ import annotations

import json
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from okrsync.checkins import unknown_kr_message
from okrsync.cli import app
from okrsync.engine import run_cycle
from okrsync.explain import reasons
from okrsync.okrs import KeyResult
from okrsync.rollup import IssueFacts, MilestoneFacts, kr_progress, milestone_progress
from okrsync.sandbox.github import GitHubSim
from tests.daemon_support import DaemonProcess
from tests.helpers import FakeClock, Project, write_project

TOKEN = "ghp_conventions_token"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _due(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 8, tzinfo=UTC)


# --- version and completion ----------------------------------------------------------------


def test_version_prints_the_installed_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"okrsync {version('okrsync')}"


def test_completion_is_shown_and_installed_without_a_detected_shell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No shell detection (as in CI, where no login shell is a parent): the shell is named.
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    monkeypatch.setenv("HOME", str(tmp_path))  # installing writes ~/.bashrc: keep it in the test
    runner = CliRunner()

    shown = runner.invoke(app, ["--show-completion", "bash"], prog_name="okrsync")
    installed = runner.invoke(app, ["--install-completion", "bash"], prog_name="okrsync")

    assert shown.exit_code == 0 and "_OKRSYNC_COMPLETE=complete_bash" in shown.stdout
    assert installed.exit_code == 0, installed.output
    script = tmp_path / ".bash_completions" / "okrsync.sh"
    assert "_OKRSYNC_COMPLETE" in script.read_text()
    assert str(script) in (tmp_path / ".bashrc").read_text()


# --- help ----------------------------------------------------------------------------------


def _command_paths(command: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield prefix
    for name, sub in getattr(command, "commands", {}).items():
        yield from _command_paths(sub, (*prefix, name))


def test_every_help_shows_choices_and_value_words_and_no_python_types() -> None:
    runner = CliRunner()
    paths = list(_command_paths(typer.main.get_command(app)))
    assert ("score",) in paths and ("alerts", "test") in paths and ("db", "upgrade") in paths
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, (path, result.output)
        assert not re.search(r"<\w+>", result.stdout), (path, result.stdout)  # <str>, <bool>, <path>

    score = runner.invoke(app, ["score", "--help"], env={"COLUMNS": "200"}).stdout
    assert re.search(r"--format\s+\[table\|markdown\|json\]", score)
    assert re.search(r"--cycle\s+TEXT", score) and re.search(r"--note\s+KR-ID=TEXT", score)
    sync = runner.invoke(app, ["sync", "--help"], env={"COLUMNS": "200"}).stdout
    assert re.search(r"--no-deliver\s+Detect alerts", sync)  # a flag: no value word


def test_a_format_outside_the_choices_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["score", "--format", "yaml"])
    assert result.exit_code == 2
    assert "yaml" in result.output and "table" in result.output


# --- Ctrl-C --------------------------------------------------------------------------------


@dataclass
class HeldAnswer:
    """The simulator's answer to the first issue list, held until the test lets it go."""

    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def hold(self) -> None:
        self.arrived.set()
        self.release.wait(timeout=30)


@pytest.mark.parametrize("command", ["sync", "run"])
def test_ctrl_c_prints_one_line_and_exits_130(command: str, tmp_path: Path) -> None:
    """A real process, in the middle of a poll, gets SIGINT: one line, status 130, no traceback.

    `sync` unwinds at once (its transaction rolls back); `run` stops after the page in hand,
    as it does for SIGTERM, and then reports the interruption the same way.
    """
    held = HeldAnswer()
    sim = GitHubSim(tokens={TOKEN: "okrsync"}, clock=FakeClock(NOW))
    sim.add_repo("acme/web")
    sim.add_milestone("acme/web", "Onboarding v2", due_on=_due(date(2026, 12, 4)))
    sim.before(held.hold, path="/issues")
    sim.start()
    try:
        project = write_project(
            tmp_path, database_url=f"sqlite:///{tmp_path / 'okrsync.db'}", github_url=sim.url, token=TOKEN
        )
        process = DaemonProcess(
            project.config,
            log=tmp_path / "out.log",
            interval=60,
            env={"OKRSYNC_NOW": NOW.isoformat()},
            command=[sys.executable, "-m", "okrsync.cli", "--config", str(project.config), command],
        )
        try:
            assert held.arrived.wait(timeout=60), process.output()
            process.process.send_signal(signal.SIGINT)
            time.sleep(0.2)  # let the signal land while the request is still unanswered
            held.release.set()
            code = process.process.wait(timeout=30)
            output = process.output()
        finally:
            process.stop()
    finally:
        held.release.set()
        sim.stop()
    assert code == 130, output
    assert "Traceback" not in output
    assert output.count("interrupted") == 1, output
    assert "interrupted: stopped; what was committed before Ctrl-C is kept" in output


# --- KR ids --------------------------------------------------------------------------------


def test_unknown_kr_suggestion_ignores_case() -> None:
    known = ["CO-1.1", "ENG-1.1", "ENG-1.2"]
    assert unknown_kr_message("eng-1.l", known) == "no key result 'eng-1.l'; did you mean 'ENG-1.1'?"
    assert unknown_kr_message("co-1.l", known) == "no key result 'co-1.l'; did you mean 'CO-1.1'?"


@pytest.fixture
def sim() -> Iterator[GitHubSim]:
    clock = FakeClock(NOW - timedelta(days=1))
    simulator = GitHubSim(tokens={TOKEN: "okrsync"}, clock=clock)
    simulator.add_repo("acme/web")
    onboarding = simulator.add_milestone("acme/web", "Onboarding v2", due_on=_due(date(2026, 11, 10)))
    billing = simulator.add_milestone("acme/web", "Billing", due_on=_due(date(2026, 11, 18)))
    simulator.add_milestone("acme/web", "Perf sprint", due_on=_due(date(2026, 12, 10)))
    for number in (onboarding, billing):
        simulator.add_issue("acme/web", "Open work", milestone=number, assignee="carol")
    simulator.start()
    yield simulator
    simulator.stop()


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
baseline = 0
target = 100
unit = "%"
link = [
  { source = "github", repo = "acme/web", milestone = "Onboarding v2" },
  { source = "github", repo = "acme/web", milestone = "Billing" },
  { source = "github", repo = "acme/web", milestone = "Perf sprint" },
]
"""


@pytest.fixture
def project(sim: GitHubSim, tmp_path: Path, database_url: str) -> Project:
    project = write_project(
        tmp_path,
        database_url=database_url,
        github_url=sim.url,
        token=TOKEN,
        mapping=MAPPING,
        extra='\n[alerts.channels.console]\ntype = "log"\n',
    )
    run_cycle(project.settings, project.okrs, project.engine, now=NOW)  # the backlog: two overdue
    sim.set_due("acme/web", 3, _due(date(2026, 12, 24)))
    run_cycle(project.settings, project.okrs, project.engine, now=NOW + timedelta(minutes=5))
    return project


def _cli(project: Project, *args: str, columns: int = 200) -> Any:
    env = {"OKRSYNC_NOW": (NOW + timedelta(minutes=10)).isoformat(), "COLUMNS": str(columns)}
    return CliRunner().invoke(app, ["--config", str(project.config), *args], env=env)


def test_explain_accepts_a_kr_id_in_any_case(project: Project) -> None:
    result = _cli(project, "explain", "eng-1.1", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["key_result"]["id"] == "ENG-1.1"


def test_checkin_stores_the_mappings_spelling_of_the_kr_id(project: Project) -> None:
    assert _cli(project, "checkin", "Eng-1.1", "--confidence", "6").exit_code == 0
    document = json.loads(_cli(project, "explain", "ENG-1.1", "--json").stdout)
    assert document["checkin"]["confidence"] == 6


# --- explain: headline and reasons ---------------------------------------------------------


def test_explain_does_not_call_late_a_milestone_the_roll_up_counts_done() -> None:
    """Past its due day with only a 0-point issue open, a milestone is done (progress 1)."""
    today = date(2026, 11, 20)
    done_at = datetime(2026, 11, 1, tzinfo=UTC)
    finished = milestone_progress(
        MilestoneFacts(
            "github",
            "acme/web#1",
            "Onboarding v2",
            "open",
            date(2026, 11, 10),
            (
                IssueFacts("acme/web#1", "Built", "done", points=3, done_at=done_at),
                IssueFacts("acme/web#2", "Polish later", "open", points=0),
            ),
        ),
        weighting="points",
        today=today,
    )
    halfway = milestone_progress(
        MilestoneFacts(
            "github",
            "acme/web#2",
            "Billing",
            "open",
            date(2026, 12, 20),
            (
                IssueFacts("acme/web#3", "One", "done", points=1, done_at=datetime(2026, 11, 15, tzinfo=UTC)),
                IssueFacts("acme/web#4", "Two", "open", points=1),
            ),
        ),
        weighting="points",
        today=today,
    )
    definition = KeyResult(id="ENG-1.1", title="Ship", owner="bob", objective_id="ENG-1", weighting="points")
    kr = kr_progress(definition, [(finished, 1), (halfway, 1)], value=None, confidence=None, expected=0.6)

    assert finished.status == "done" and kr.status == "on_track"
    assert reasons(kr) == ["progress 75% against 60% expected by today: on track"]


# --- alerts: table and document ------------------------------------------------------------


def test_alerts_are_listed_newest_day_first(project: Project) -> None:
    listed = json.loads(_cli(project, "alerts", "--json").stdout)
    assert [(a["day"], a["type"], a["backlog"]) for a in listed] == [
        ("2026-11-20", "milestone.rescheduled", False),
        ("2026-11-19", "milestone.overdue", True),
        ("2026-11-11", "milestone.overdue", True),
    ]


def test_alerts_table_keeps_the_type_whole_at_80_columns(project: Project) -> None:
    result = _cli(project, "alerts", columns=80)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), result.stdout
    assert sum("milestone.rescheduled" in line for line in lines) == 1
    assert sum("milestone.overdue" in line for line in lines) == 2
    days = [m.group(0) for line in lines if (m := re.match(r"\s*2026-\d\d-\d\d", line))]
    assert [d.strip() for d in days] == ["2026-11-20", "2026-11-19", "2026-11-11"]


def test_alerts_json_is_the_documented_document(project: Project) -> None:
    listed = json.loads(_cli(project, "alerts", "--json").stdout)
    rescheduled = listed[0]
    assert set(rescheduled) >= {
        "id",
        "type",
        "day",
        "detected_at",
        "kr",
        "milestone",
        "owner",
        "backlog",
        "text",
        "deliveries",
        "payload",
    }
    assert rescheduled["kr"] == "ENG-1.1" and rescheduled["milestone"] == "acme/web#3"
    assert rescheduled["detected_at"] == "2026-11-20T09:05:00Z"
    assert rescheduled["deliveries"] == [
        {
            "channel": "console",
            "status": "delivered",
            "attempts": 1,
            "delivered_at": "2026-11-20T09:05:00Z",
            "error": None,
        }
    ]
    payload = rescheduled["payload"]
    assert payload["id"] == rescheduled["id"] and payload["type"] == "milestone.rescheduled"
    assert payload["milestone"]["due_before"] == "2026-12-10"
    assert payload["milestone"]["due"] == "2026-12-24"
    assert payload["text"] == rescheduled["text"]
    overdue = listed[1]
    assert overdue["payload"]["milestone"]["due"] == "2026-11-18"
    assert [d["status"] for d in overdue["deliveries"]] == ["skipped"]


def test_readme_documents_the_alerts_document() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme.split("### Alerts as JSON", 1)[1].split("\n## ", 1)[0]
    for name in ("due_before", "payload", "deliveries", "backlog", "stable"):
        assert name in section
