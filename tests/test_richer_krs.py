"""Richer key results: sums and averages over a tracker query, and partial credit for work in
progress. Every figure is computed by hand in the test's docstring; the trackers are the
simulators, read through the real `jira` and PyGithub clients, stored on each engine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from okrsync.cli import app
from okrsync.engine import run_cycle
from okrsync.progress import compute
from okrsync.rollup import IssueFacts, MilestoneFacts, milestone_progress
from okrsync.sandbox.github import GitHubSim
from okrsync.sandbox.jira import JiraSim
from okrsync.store import session
from tests.helpers import MAPPING, FakeClock, Project, onboarding_sim, write_jira_project, write_project

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
TODAY = date(2026, 11, 20)
GH_TOKEN = "ghp_richer_krs_7e1f"
JIRA_PAT = "pat-richer-krs-41d2"

# --- the arithmetic ----------------------------------------------------------------------------


def facts(*issues: IssueFacts) -> MilestoneFacts:
    return MilestoneFacts("github", "acme/web#1", "M", "open", date(2026, 12, 31), issues)


def issue(n: int, status: str = "open", *, points: float | None = None, started: bool = False) -> IssueFacts:
    return IssueFacts(f"acme/web#{n}", f"Issue {n}", status, points=points, in_progress=started)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("weighting", "weight", "expected"),
    [
        # 2 done, 1 in progress, 1 open, by count: (2 + 0.5 × 1) / 4 = 0.625; no weight: 2/4.
        ("count", 0.5, 0.625),
        ("count", 0.0, 0.5),
        # by points 3 done + 2 done, 4 in progress, 1 open: (5 + 0.5 × 4) / 10 = 0.7.
        ("points", 0.5, 0.7),
        ("points", 0.25, 0.6),
    ],
)
def test_in_progress_work_counts_as_its_weight_done(weighting: str, weight: float, expected: float) -> None:
    m = facts(
        issue(1, "done", points=3),
        issue(2, "done", points=2),
        issue(3, points=4, started=True),
        issue(4, points=1),
        issue(5, "excluded", points=8, started=False),
    )
    p = milestone_progress(m, weighting=weighting, today=TODAY, in_progress_weight=weight)  # type: ignore[arg-type]
    assert p.progress == pytest.approx(expected)
    assert (p.done, p.in_progress, p.total) == (2, 1, 4)
    assert p.status != "done"  # open work is never done, whatever the credit


# --- partial credit through the GitHub simulator ------------------------------------------------------


@pytest.fixture
def github() -> Iterator[GitHubSim]:
    """Onboarding v2: 4 issues, the first 2 closed; #3 and #4 are labelled "In Progress"."""
    with onboarding_sim(
        FakeClock(NOW), token=GH_TOKEN, due=datetime(2026, 12, 4, 8, tzinfo=UTC), tasks=4, done=2
    ) as simulator:
        for number in (3, 4):
            simulator.update_issue("acme/web", number, labels=["In Progress"])
        yield simulator


def progress_of(project: Project, kr_id: str) -> float:
    with session(project.engine) as db:
        rollup, _ = compute(db, project.okrs, project.settings, today=TODAY)
    return rollup.key_results[kr_id].progress


@pytest.mark.parametrize(
    ("kr_weight", "source_weight", "expected"),
    [
        ("in_progress_weight = 0.5\n", "", 0.75),  # half done, half in progress at 0.5: 0.5 + 0.25
        ("", "in_progress_weight = 0.5\n", 0.75),  # the source's default
        ("in_progress_weight = 0\n", "in_progress_weight = 0.5\n", 0.5),  # the KR's 0 wins
        ("", "", 0.5),  # nothing set: as before partial credit existed
    ],
)
def test_a_milestone_half_done_and_half_in_progress_at_half_weight_is_three_quarters(
    github: GitHubSim, tmp_path: Path, database_url: str, kr_weight: str, source_weight: str, expected: float
) -> None:
    mapping = MAPPING.replace('unit = "%"\n', 'unit = "%"\n' + kr_weight)
    extra = 'in_progress_labels = ["in progress"]\n' + source_weight
    project = write_project(
        tmp_path,
        database_url=database_url,
        github_url=github.url,
        token=GH_TOKEN,
        mapping=mapping,
        extra=extra,
    )
    assert not run_cycle(project.settings, project.okrs, project.engine, now=NOW).failed
    assert progress_of(project, "ENG-1.1") == pytest.approx(expected)


def test_explain_shows_in_progress_issues_and_their_credit(
    github: GitHubSim, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OKRSYNC_NOW", NOW.isoformat())
    mapping = MAPPING.replace('unit = "%"\n', 'unit = "%"\nin_progress_weight = 0.5\n')
    project = write_project(
        tmp_path,
        database_url=database_url,
        github_url=github.url,
        token=GH_TOKEN,
        mapping=mapping,
        extra='in_progress_labels = ["in progress"]\n',
    )
    config = ["--config", str(project.config)]
    assert CliRunner().invoke(app, [*config, "sync"]).exit_code == 0
    result = CliRunner().invoke(app, [*config, "explain", "ENG-1.1"])
    assert result.exit_code == 0, result.output
    shown = " ".join(result.output.split())  # the console wraps at its width
    assert "75% 2/4 done, 2 in progress counted as 0.5 done each" in shown
    assert "acme/web#3 Task 2 [in progress] — carol" in shown
    milestone = json.loads(CliRunner().invoke(app, [*config, "explain", "ENG-1.1", "--json"]).stdout)[
        "milestones"
    ][0]
    assert (milestone["in_progress"], milestone["in_progress_weight"], milestone["progress"]) == (
        2,
        0.5,
        0.75,
    )


# --- sums and averages of story points, and partial credit, through the Jira simulator ----------------

POINTS_MAPPING = """
[cycle]
id = "2026-Q4"
start = 2026-10-01
end = 2026-12-31

[[objective]]
id = "ENG-1"
title = "Make the API fast"
owner = "bob"

[[objective.key_result]]
id = "ENG-1.1"
title = "Burn down the perf backlog"
owner = "bob"
kind = "metric"
baseline = 0
target = 32
unit = "points"
value_query = "project = ONB AND labels = perf"
value_source = "jira"
value_aggregate = "sum"
value_field = "Story Points"

[[objective.key_result]]
id = "ENG-1.2"
title = "Keep perf work small"
owner = "bob"
kind = "metric"
baseline = 0
target = 8
unit = "points"
value_query = "project = ONB AND labels = perf"
value_source = "jira"
value_aggregate = "average"
value_field = "story points"

[[objective.key_result]]
id = "ENG-1.3"
title = "Ship 2.0"
owner = "bob"
kind = "milestones"
baseline = 0
target = 100
unit = "%"

[[objective.key_result.link]]
source = "jira"
version = "ONB/2.0"
"""


@pytest.fixture
def jira() -> Iterator[JiraSim]:
    """Story points live in customfield_10042, named "Story Points": found by name, not by id."""
    simulator = JiraSim(
        "datacenter",
        users={JIRA_PAT: "okrsync"},
        clock=FakeClock(NOW),
        story_points_field="customfield_10042",
        story_points_name="Story Points",
    )
    simulator.add_project("ONB", "Onboarding")
    simulator.add_version("ONB", "2.0", release_date=date(2026, 12, 4))
    # perf: 3 (done), 5 (in progress), 8 (to do), one unestimated; and 13 points not labelled perf.
    simulator.add_issue("ONB", "Cache", labels=["perf"], story_points=3, status="Done", resolution="Done")
    simulator.add_issue("ONB", "Index", labels=["perf"], story_points=5, status="In Progress")
    simulator.add_issue("ONB", "Pool", labels=["perf"], story_points=8)
    simulator.add_issue("ONB", "Profile", labels=["perf"])
    simulator.add_issue("ONB", "Redesign", story_points=13)
    # Version 2.0: 2 done, 2 in progress.
    for n, status in enumerate(("Done", "Done", "In Progress", "In Review")):
        resolution = "Done" if status == "Done" else None
        simulator.add_issue(
            "ONB", f"2.0 task {n}", fix_versions=["2.0"], status=status, resolution=resolution
        )
    simulator.start()
    yield simulator
    simulator.stop()


def test_a_sum_and_an_average_of_story_points_over_a_jql_and_jira_partial_credit(
    jira: JiraSim, tmp_path: Path, database_url: str
) -> None:
    """Sum: 3 + 5 + 8 = 16 points (the unestimated issue adds nothing; the 13 is not perf):
    16 of 32 is 0.5. Average: 16 / 3 estimated issues = 5.333…, of 8 is 0.6667. Version 2.0:
    2 of 4 done and 2 in progress (In Progress, In Review: category indeterminate) at the
    source's 0.5: (2 + 0.5 × 2) / 4 = 0.75."""
    project = write_jira_project(
        tmp_path,
        database_url=database_url,
        jira_url=jira.url,
        token=JIRA_PAT,
        mapping=POINTS_MAPPING,
        extra="in_progress_weight = 0.5\n",
    )
    report = run_cycle(project.settings, project.okrs, project.engine, now=NOW)
    assert not report.failed, report.failed[0].error
    with session(project.engine) as db:
        rollup, _ = compute(db, project.okrs, project.settings, today=TODAY)
    krs = rollup.key_results
    assert krs["ENG-1.1"].value == 16
    assert krs["ENG-1.1"].progress == pytest.approx(0.5)
    assert krs["ENG-1.2"].value == pytest.approx(16 / 3)
    assert krs["ENG-1.2"].progress == pytest.approx(2 / 3)
    assert krs["ENG-1.3"].progress == pytest.approx(0.75)
    assert krs["ENG-1.3"].milestones[0].in_progress == 2


def test_an_unknown_jira_field_leaves_the_value_unmeasured_and_says_why(
    jira: JiraSim, tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    mapping = POINTS_MAPPING.replace('value_field = "Story Points"', 'value_field = "Story Pointz"')
    project = write_jira_project(
        tmp_path, database_url=database_url, jira_url=jira.url, token=JIRA_PAT, mapping=mapping
    )
    run_cycle(project.settings, project.okrs, project.engine, now=NOW)
    with session(project.engine) as db:
        rollup, _ = compute(db, project.okrs, project.settings, today=TODAY)
    assert rollup.key_results["ENG-1.1"].value is None
    assert "value_field 'Story Pointz': no such field" in caplog.text


# --- sums and averages of points:N labels through the GitHub simulator ---------------------------------

GH_METRIC = (
    MAPPING
    + """
[[objective.key_result]]
id = "ENG-1.2"
title = "Fix customer bugs"
owner = "bob"
kind = "metric"
baseline = 0
target = 20
unit = "points"
value_query = "repo:acme/api label:customer-bug is:closed"
value_source = "github"
value_aggregate = "{aggregate}"
value_field = "points"
"""
)


@pytest.mark.parametrize(
    ("aggregate", "value"),
    [
        ("sum", 2 + 3 + 5),  # the unestimated bug adds nothing; the open one is not closed
        ("average", (2 + 3 + 5) / 3),  # over the three estimated closed bugs
    ],
)
def test_a_sum_and_an_average_of_points_labels_over_a_github_search(
    tmp_path: Path, database_url: str, aggregate: str, value: float
) -> None:
    with onboarding_sim(FakeClock(NOW), token=GH_TOKEN, due=datetime(2026, 12, 4, 8, tzinfo=UTC)) as sim:
        sim.add_repo("acme/api")
        for points in ("points:2", "points:3", "points:5", None):
            labels = ["customer-bug", points] if points else ["customer-bug"]
            sim.close_issue("acme/api", sim.add_issue("acme/api", f"Bug {points}", labels=labels))
        sim.add_issue("acme/api", "Open bug", labels=["customer-bug", "points:8"])
        project = write_project(
            tmp_path,
            database_url=database_url,
            github_url=sim.url,
            token=GH_TOKEN,
            mapping=GH_METRIC.format(aggregate=aggregate),
        )
        assert not run_cycle(project.settings, project.okrs, project.engine, now=NOW).failed
    with session(project.engine) as db:
        rollup, _ = compute(db, project.okrs, project.settings, today=TODAY)
    kr = rollup.key_results["ENG-1.2"]
    assert kr.value == pytest.approx(value)
    assert kr.progress == pytest.approx(value / 20)


def test_validate_tracker_checks_that_a_summed_jira_field_exists(
    jira: JiraSim, tmp_path: Path, database_url: str
) -> None:
    mapping = POINTS_MAPPING.replace('value_field = "story points"', 'value_field = "Story Pointz"')
    project = write_jira_project(
        tmp_path, database_url=database_url, jira_url=jira.url, token=JIRA_PAT, mapping=mapping
    )
    result = CliRunner().invoke(app, ["--config", str(project.config), "validate", "--tracker"])
    assert result.exit_code == 2
    assert "okrs.toml:25: ENG-1.2: value_field 'Story Pointz' is no field of this Jira site" in " ".join(
        result.output.split()
    )
    assert "ENG-1.1: value_field" not in result.output  # "Story Points" is found by name


def test_partial_credit_on_github_without_in_progress_labels_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "okrs.toml").write_text(
        MAPPING.replace('unit = "%"\n', 'unit = "%"\nin_progress_weight = 0.5\n')
    )
    config = tmp_path / "config.toml"
    config.write_text('[sources.github]\nkind = "github"\n\n[people.bob]\nname = "Bob"\n')
    result = CliRunner().invoke(app, ["--config", str(config), "validate", "--strict"])
    assert result.exit_code == 2
    assert (
        "okrs.toml:12: key_result ENG-1.1: in_progress_weight has no effect on its GitHub milestones:"
        " source 'github' sets no in_progress_labels" in " ".join(result.output.split())
    )
    config.write_text(
        config.read_text().replace('kind = "github"', 'kind = "github"\nin_progress_labels = ["wip"]')
    )
    assert CliRunner().invoke(app, ["--config", str(config), "validate", "--strict"]).exit_code == 0
