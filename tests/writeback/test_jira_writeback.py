"""Write-back to Jira (Cloud and Data Center) through the real `jira` client, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from okrsync.engine import run_cycle
from okrsync.sandbox.jira import JiraSim
from okrsync.writeback import WritebackReport, run_writeback
from okrsync.writeback.markers import BEGIN, END
from tests.helpers import FakeClock, Project, write_jira_project

EMAIL, TOKEN, PAT = "okrsync@acme.test", "jira-api-token-9", "jira-pat-7"
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
ENABLED = "[sources.jira.writeback]\nenabled = true\n"


@pytest.fixture(params=["cloud", "datacenter"])
def sim(request: pytest.FixtureRequest) -> Iterator[JiraSim]:
    users = {f"{EMAIL}:{TOKEN}": "okrsync"} if request.param == "cloud" else {PAT: "okrsync"}
    simulator = JiraSim(request.param, users=users, clock=FakeClock(NOW))
    simulator.add_project("ONB", "Onboarding")
    simulator.add_version("ONB", "2.0", release_date=date(2026, 12, 4))
    epic = simulator.add_issue("ONB", "Onboarding v2", issuetype="Epic")  # ONB-1
    simulator.add_issue("ONB", "Sign-up", fix_versions=["2.0"], parent=epic, status="Done", resolution="Done")
    simulator.add_issue("ONB", "Welcome mail", fix_versions=["2.0"], parent=epic)  # ONB-3
    simulator.add_issue("ONB", "Faster first load", labels=["perf"])  # ONB-4
    simulator.start()
    yield simulator
    simulator.stop()


def make_project(sim: JiraSim, folder: Path, database_url: str, extra: str = ENABLED) -> Project:
    if sim.mode == "cloud":
        return write_jira_project(
            folder, database_url=database_url, jira_url=sim.url, token=TOKEN, email=EMAIL, extra=extra
        )
    return write_jira_project(folder, database_url=database_url, jira_url=sim.url, token=PAT, extra=extra)


@pytest.fixture
def project(sim: JiraSim, tmp_path: Path, database_url: str) -> Project:
    return make_project(sim, tmp_path, database_url)


def cycle(project: Project) -> WritebackReport:
    report = run_cycle(project.settings, project.okrs, project.engine, now=NOW, write_back=False)
    assert not report.failed, report.sources
    return run_writeback(project.settings, project.okrs, project.engine, now=NOW, sleep=lambda _s: None)


def actions(report: WritebackReport) -> dict[str, str]:
    return {r.target.key: r.action for r in report.sources[0].results}


def writes(sim: JiraSim) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in sim.log() if r.method in ("POST", "PUT") and "/search" not in r.path]


def test_a_first_write_back_creates_the_dashboard_the_property_and_one_comment(
    sim: JiraSim, project: Project
) -> None:
    report = cycle(project)

    assert actions(report) == {
        "dashboard:ONB": "created",
        "epic-property:ONB-1": "created",
        "epic-comment:ONB-1": "created",
    }
    [key] = sim.search('labels = "okrsync"')
    dashboard = sim._issue(key)
    assert (dashboard.summary, dashboard.issuetype) == ("OKR dashboard", "Task")
    description = dashboard.description or ""
    assert BEGIN in description and END in description
    assert "||Objective||Key result||Owner||Progress||Status||Milestones||" in description
    assert "| ENG-1 Remove friction from onboarding | ENG-1.1 Ship onboarding | bob |" in description
    epic = sim._issue("ONB-1")
    assert epic.properties["okrsync"] == {
        "kr": "ENG-1.1",
        "objective": "ENG-1",
        "status": report_status(project),
        "progress": epic.properties["okrsync"]["progress"],
        "krs": ["ENG-1.1"],
    }
    [comment] = epic.comments
    assert comment["body"].startswith(BEGIN) and "ENG-1.1 Ship onboarding" in comment["body"]


def report_status(project: Project) -> str:
    from okrsync.progress import status_for

    document = status_for(project.settings, project.okrs, project.engine, moment=NOW, cycle=None)
    return str(document["objectives"][0]["key_results"][0]["status"])


def test_a_quiet_cycle_makes_no_request_and_a_status_change_edits_the_comment_in_place(
    sim: JiraSim, project: Project
) -> None:
    cycle(project)
    before = report_status(project)
    [comment] = sim._issue("ONB-1").comments
    comment_id = comment["id"]
    run_cycle(project.settings, project.okrs, project.engine, now=NOW, write_back=False)
    sim.clear_log()

    quiet = run_writeback(project.settings, project.okrs, project.engine, now=NOW)

    assert set(actions(quiet).values()) == {"unchanged"}
    assert sim.log() == []

    sim.transition("ONB-3", "Done", "Done")
    sim.transition("ONB-4", "Done", "Done")
    sim.clear_log()
    changed = cycle(project)

    after = report_status(project)
    assert after != before
    assert actions(changed) == {
        "dashboard:ONB": "updated",
        "epic-property:ONB-1": "updated",
        "epic-comment:ONB-1": "updated",
    }
    [dashboard_key] = sim.search('labels = "okrsync"')
    assert sorted(writes(sim)) == sorted(
        [
            ("PUT", f"/rest/api/2/issue/{sim._issue(dashboard_key).id}"),
            ("PUT", "/rest/api/2/issue/ONB-1/properties/okrsync"),
            ("PUT", f"/rest/api/2/issue/{sim._issue('ONB-1').id}/comment/{comment_id}"),
        ]
    )
    epic = sim._issue("ONB-1")
    assert [c["id"] for c in epic.comments] == [comment_id]
    assert after.replace("_", " ") in epic.comments[0]["body"]
    assert epic.properties["okrsync"]["status"] == after


def test_text_outside_the_markers_of_the_dashboard_is_kept(sim: JiraSim, project: Project) -> None:
    cycle(project)
    [key] = sim.search('labels = "okrsync"')
    dashboard = sim._issue(key)
    dashboard.description = "Read me first.\n\n" + (dashboard.description or "") + "\n\nSigned, a person."
    sim.transition("ONB-3", "Done", "Done")

    cycle(project)

    description = sim._issue(key).description or ""
    assert description.startswith("Read me first.\n\n")
    assert description.endswith("\n\nSigned, a person.")
    assert description.count(BEGIN) == 1


def test_the_dashboard_issue_type_comes_from_the_config(
    sim: JiraSim, tmp_path: Path, database_url: str
) -> None:
    project = make_project(sim, tmp_path, database_url, extra=ENABLED + 'issue_type = "Story"\n')

    cycle(project)

    [key] = sim.search('labels = "okrsync"')
    assert sim._issue(key).issuetype == "Story"


def test_an_account_without_permission_is_told_which_permissions_it_lacks(
    sim: JiraSim, project: Project
) -> None:
    sim.read_only.add("okrsync")

    report = cycle(project)

    [written] = report.sources
    assert not written.ok
    text = " ".join(written.errors)
    assert "'Create issues' permission in project ONB" in text
    assert "'Edit issues' permission in project ONB" in text
    assert "'Add comments' permission in project ONB" in text
    assert TOKEN not in text and PAT not in text
    assert sim._issue("ONB-1").properties == {}

    sim.read_only.clear()
    assert cycle(project).sources[0].ok


def test_a_resolved_dashboard_is_left_alone(sim: JiraSim, project: Project) -> None:
    cycle(project)
    [key] = sim.search('labels = "okrsync"')
    sim.transition(key, "Done", "Won't Do")
    sim.transition("ONB-3", "Done", "Done")

    report = cycle(project)

    assert actions(report)["dashboard:ONB"] == "closed"
    assert sim.search('labels = "okrsync"') == [key]
    assert actions(cycle(project))["dashboard:ONB"] == "closed"  # left alone, not read again

    sim.transition(key, "In Progress")  # reopened by a person: okrsync keeps it again
    assert actions(cycle(project))["dashboard:ONB"] == "updated"


def test_a_429_is_waited_out_as_retry_after_asks(sim: JiraSim, project: Project) -> None:
    run_cycle(project.settings, project.okrs, project.engine, now=NOW, write_back=False)
    sim.throttle("3", path="/properties/okrsync")
    slept: list[float] = []

    report = run_writeback(project.settings, project.okrs, project.engine, now=NOW, sleep=slept.append)

    assert report.sources[0].ok, report.sources[0].errors
    assert slept == [3.0]
    assert sim._issue("ONB-1").properties["okrsync"]["kr"] == "ENG-1.1"
