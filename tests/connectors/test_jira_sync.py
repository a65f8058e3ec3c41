"""The Jira connector end to end: real `jira` client, simulator on 127.0.0.1, real store.

Every test runs against Jira Cloud and Data Center (the `mode` fixture) and on each database.
The story points field never has the common id `customfield_10016` here, so finding it by
name is exercised everywhere.
"""

from __future__ import annotations

import logging
import multiprocessing
import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from connectors.forked import can_fork
from connectors.jira.poller import FORK_AFTER_PAGES, changed_issue_searches
from connectors.jira.records import BASE_FIELDS
from okrsync.cli import app
from okrsync.engine import CycleReport, run_cycle
from okrsync.headstart import StartsEarly, head_start
from okrsync.progress import status_for
from okrsync.sandbox.jira import JiraSim
from okrsync.sources import Poller, make_poller
from okrsync.store import IssueMilestone, SourceState, TrackerIssue, TrackerMilestone, session
from tests.helpers import JIRA_MAPPING, FakeClock, Project, write_jira_project

EMAIL = "okrsync@acme.com"
TOKEN = "atl-SECRET-api-token-5f3a"
PAT = "pat-SECRET-9c1d77"
START = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
# (field id, field name) per deployment: neither is the usual customfield_10016.
POINTS = {
    "cloud": ("customfield_10042", "Story point estimate"),
    "datacenter": ("customfield_10106", "Story Points"),
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture(params=["cloud", "datacenter"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def account_timezone() -> str:
    return "UTC"


@pytest.fixture
def sim(mode: str, clock: FakeClock, account_timezone: str) -> Iterator[JiraSim]:
    users = {f"{EMAIL}:{TOKEN}": "okrsync"} if mode == "cloud" else {PAT: "okrsync"}
    field_id, field_name = POINTS[mode]
    simulator = JiraSim(
        mode,  # type: ignore[arg-type]
        users=users,
        clock=clock,
        account_timezone=account_timezone,
        story_points_field=field_id,
        story_points_name=field_name,
        deployment_type="DataCenter",
    )
    simulator.add_project("ONB", "Onboarding")
    simulator.start()
    yield simulator
    simulator.stop()


def make_project(sim: JiraSim, folder: Path, database_url: str, **kwargs: Any) -> Project:
    """Write a project whose Jira source authenticates as the deployment expects."""
    if sim.mode == "cloud":
        return write_jira_project(
            folder, database_url=database_url, jira_url=sim.url, token=TOKEN, email=EMAIL, **kwargs
        )
    return write_jira_project(folder, database_url=database_url, jira_url=sim.url, token=PAT, **kwargs)


@pytest.fixture
def project(sim: JiraSim, tmp_path: Path, database_url: str) -> Project:
    return make_project(sim, tmp_path, database_url)


@pytest.fixture
def pollers() -> dict[str, Poller]:
    """Pollers kept across cycles, as the daemon keeps them (one client, one /field read)."""
    return {}


def cycle(project: Project, clock: FakeClock, pollers: dict[str, Poller] | None = None) -> CycleReport:
    return run_cycle(project.settings, project.okrs, project.engine, now=clock(), pollers=pollers)


def seed(sim: JiraSim, clock: FakeClock) -> dict[str, str]:
    """An epic (ONB-1) with work in fix version 2.0: done, won't do, open (labelled perf), a sub-task."""
    sim.add_version("ONB", "2.0", release_date=date(2026, 12, 4), description="The onboarding release")
    sim.add_version("ONB", "1.0", release_date=date(2026, 10, 1), released=True)
    keys = {"epic": sim.add_issue("ONB", "Onboarding v2", issuetype="Epic", duedate=date(2026, 12, 10))}
    clock.tick(60)
    keys["done"] = sim.add_issue(
        "ONB",
        "Sign-up form",
        status="Done",
        resolution="Done",
        fix_versions=["2.0"],
        parent=keys["epic"],
        story_points=3,
    )
    keys["wont"] = sim.add_issue(
        "ONB", "Legacy wizard", status="Done", resolution="Won't Do", fix_versions=["2.0"], story_points=5
    )
    keys["open"] = sim.add_issue(
        "ONB",
        "Faster first load",
        fix_versions=["2.0"],
        parent=keys["epic"],
        labels=["perf"],
        assignee="carol",
        story_points=2,
    )
    keys["sub"] = sim.add_issue(
        "ONB", "Write the test", issuetype="Sub-task", parent=keys["open"], status="Done", resolution="Done"
    )
    return keys


def stored(project: Project) -> dict[str, TrackerIssue]:
    with session(project.engine) as db:
        return {i.key: i for i in db.execute(select(TrackerIssue)).scalars()}


def milestones(project: Project) -> dict[str, TrackerMilestone]:
    with session(project.engine) as db:
        return {m.key: m for m in db.execute(select(TrackerMilestone)).scalars()}


def members(project: Project, milestone_key: str) -> set[str]:
    with session(project.engine) as db:
        rows = db.execute(
            select(IssueMilestone.issue_key).where(IssueMilestone.milestone_key == milestone_key)
        )
        return {row[0] for row in rows}


def status_milestones(project: Project, clock: FakeClock) -> dict[str, dict[str, Any]]:
    document = status_for(project.settings, project.okrs, project.engine, moment=clock(), cycle=None)
    shown = document["objectives"][0]["key_results"][0]["milestones"]
    return {m["key"]: m for m in shown}


def searches(sim: JiraSim) -> list[str]:
    """The JQL of every search the simulator answered, in order."""
    found = []
    for request in sim.log():
        if request.path.endswith(("/search", "/search/jql")):
            found.append(request.param("jql") or (request.json() or {}).get("jql", ""))
    return found


# --- full and incremental sync ---------------------------------------------------------------


def test_a_search_longer_than_a_few_pages_is_read_on_by_a_helper_and_stored_whole(
    sim: JiraSim, project: Project, clock: FakeClock
) -> None:
    """Past FORK_AFTER_PAGES pages a forked child reads the search on (connectors.forked):
    every issue is stored with its memberships, and its requests still count."""
    keys = seed(sim, clock)
    fillers = [sim.add_issue("ONB", f"Filler {index}") for index in range(FORK_AFTER_PAGES * 100 + 150)]

    report = cycle(project, clock)

    assert not report.failed, report.failed[0].error
    issues = stored(project)
    assert set(fillers) <= set(issues) and len(issues) == len(fillers) + 3
    assert members(project, f"jira:{keys['epic']}") == {keys["done"], keys["open"]}
    assert report.sources[0].requests == len(sim.log())
    main = [r for r in sim.log() if "ORDER BY key" in (r.param("jql") or "")]
    assert len(main) == FORK_AFTER_PAGES + 2  # one search, paged, each page once
    clock.tick(600)
    assert cycle(project, clock).sources[0].changed == 0


@pytest.mark.parametrize("concurrency", [1, 3])
def test_a_first_sync_of_several_projects_runs_a_search_per_share_of_them(
    sim: JiraSim, tmp_path: Path, database_url: str, clock: FakeClock, concurrency: int
) -> None:
    """With `concurrency` > 1 the projects read in full are split over that many searches,
    each read by a forked child at once (where fork exists); the store gets the same data."""
    keys = seed(sim, clock)
    for project in ("OPS", "WEB", "API"):
        sim.add_project(project, project.title())
    fillers = [sim.add_issue(p, f"Filler {n}") for n in range(130) for p in ("ONB", "OPS", "WEB", "API")]
    project = make_project(
        sim,
        tmp_path,
        database_url,
        extra=f"concurrency = {concurrency}",
        projects=("ONB", "OPS", "WEB", "API"),
    )

    report = cycle(project, clock)

    assert not report.failed, report.failed[0].error
    issues = stored(project)
    assert set(fillers) <= set(issues) and len(issues) == len(fillers) + 3
    assert members(project, f"jira:{keys['epic']}") == {keys["done"], keys["open"]}
    assert report.sources[0].requests == len(sim.log())
    searches = {r.param("jql") for r in sim.log() if "ORDER BY key" in (r.param("jql") or "")}
    expected = changed_issue_searches(
        [], ["API", "ONB", "OPS", "WEB"], bound=None, shares=concurrency if can_fork() else 1
    )
    assert searches == set(expected) and len(expected) == (concurrency if can_fork() else 1)
    clock.tick(600)
    again = cycle(project, clock)
    assert not again.failed and again.sources[0].changed == 0


def test_full_sync_stores_versions_epics_jql_sets_and_classified_issues(
    sim: JiraSim, project: Project, clock: FakeClock
) -> None:
    keys = seed(sim, clock)
    for index in range(230):  # with the seed: three pages of 100
        sim.add_issue("ONB", f"Filler {index}")

    report = cycle(project, clock)

    assert not report.failed, report.failed[0].error
    issues = stored(project)
    assert len(issues) == 233  # the epic is a milestone, the sub-task would count twice
    assert keys["epic"] not in issues and keys["sub"] not in issues
    done, wont, open_ = issues[keys["done"]], issues[keys["wont"]], issues[keys["open"]]
    assert (done.status, wont.status, open_.status) == ("done", "excluded", "open")
    assert done.done_at == datetime(2026, 11, 22, 10, 1, tzinfo=UTC)
    assert (done.points, open_.points, open_.assignee) == (3.0, 2.0, "carol")
    assert open_.url == f"{sim.url}/browse/{keys['open']}" and open_.container == "ONB"
    assert members(project, "jira:ONB/2.0") == {keys["done"], keys["wont"], keys["open"]}
    assert members(project, f"jira:{keys['epic']}") == {keys["done"], keys["open"]}
    assert members(project, "jira:jql:Perf fixes") == {keys["open"]}
    stored_milestones = milestones(project)
    assert stored_milestones["jira:ONB/1.0"].state == "closed"  # released
    assert stored_milestones["jira:ONB-1"].kind == "jira_epic"

    shown = status_milestones(project, clock)
    assert list(shown) == ["jira:ONB/2.0", "jira:ONB-1", "jira:jql:Perf fixes"]  # SPEC §4 keys
    version, epic, jql = shown.values()
    assert (version["due"], version["done"], version["total"], version["excluded"]) == ("2026-12-04", 1, 2, 1)
    assert (epic["title"], epic["due"], epic["done"], epic["total"]) == ("Onboarding v2", "2026-12-10", 1, 2)
    assert (jql["title"], jql["due"], jql["total"]) == ("Perf fixes", "2026-12-15", 1)
    main = [r for r in sim.log() if "ORDER BY key" in (r.param("jql") or "")]
    assert len(main) == 3  # one search, paged
    wanted = {*BASE_FIELDS, POINTS[sim.mode][0]} | (
        {"customfield_10014"} if sim.mode == "datacenter" else set()
    )
    assert set(main[0].query["fields"]) == wanted  # only the fields needed


def test_incremental_sync_sees_every_change_including_the_same_instant_as_the_last_poll(
    sim: JiraSim, tmp_path: Path, database_url: str, clock: FakeClock, pollers: dict[str, Poller]
) -> None:
    # No overlap: an update stamped in the very millisecond of the cursor must still be seen.
    project = make_project(sim, tmp_path, database_url, extra="overlap_seconds = 0")
    keys = seed(sim, clock)
    assert not cycle(project, clock, pollers).failed

    # The clock has not moved: stamped in the same millisecond as the cursor's high-water mark.
    late = sim.add_issue("ONB", "Filed in the same instant", fix_versions=["2.0"])
    clock.tick(5)
    sim.transition(keys["open"], "Done", "Done")  # the same minute as the poll
    clock.tick(15)
    sim.update_issue(keys["wont"], summary="Legacy wizard (dropped)")
    clock.tick(20)

    report = cycle(project, clock, pollers)

    assert not report.failed
    assert report.sources[0].changed == 3  # each change applied once, nothing else rewritten
    issues = stored(project)
    assert issues[keys["open"]].status == "done"
    assert issues[late].title == "Filed in the same instant"
    assert issues[keys["wont"]].title == "Legacy wizard (dropped)"
    assert late in members(project, "jira:ONB/2.0")
    clock.tick(60)
    quiet = cycle(project, clock, pollers).sources[0]
    assert quiet.changed == 0
    assert quiet.requests == 3  # SPEC §8: one versions call, one search, plus one per JQL set
    fields_reads = [r for r in sim.log() if r.path.endswith("/field")]
    assert len(fields_reads) == 1  # the field cache is filled once, not per search (SPEC §8)


def test_a_release_date_change_moves_the_stored_due_day(
    sim: JiraSim, project: Project, clock: FakeClock
) -> None:
    seed(sim, clock)
    cycle(project, clock)
    assert milestones(project)["jira:ONB/2.0"].due == date(2026, 12, 4)

    clock.tick(300)
    sim.set_release_date("ONB", "2.0", date(2026, 12, 18))  # no issue's `updated` changes
    sim.delete_version("ONB", "1.0")
    report = cycle(project, clock)

    assert not report.failed
    found = milestones(project)
    assert found["jira:ONB/2.0"].due == date(2026, 12, 18)
    assert "jira:ONB/1.0" not in found  # the list is complete: a version missing from it is gone
    assert status_milestones(project, clock)["jira:ONB/2.0"]["due"] == "2026-12-18"


def test_a_deleted_issue_and_epic_are_removed_by_the_hourly_check_not_before(
    sim: JiraSim, project: Project, clock: FakeClock
) -> None:
    keys = seed(sim, clock)
    doomed_epic = sim.add_issue("ONB", "Abandoned epic", issuetype="Epic")
    assert not cycle(project, clock).failed  # the first check runs here and is recorded
    sim.delete_issue(keys["wont"])
    sim.delete_issue(doomed_epic)

    clock.tick(30 * 60)
    early = cycle(project, clock)

    assert not early.failed and early.sources[0].removed == 0
    assert keys["wont"] in stored(project) and f"jira:{doomed_epic}" in milestones(project)

    clock.tick(31 * 60)
    late = cycle(project, clock)

    assert not late.failed and late.sources[0].removed == 1
    assert keys["wont"] not in stored(project)
    assert f"jira:{doomed_epic}" not in milestones(project)
    assert members(project, "jira:ONB/2.0") == {keys["done"], keys["open"]}
    with session(project.engine) as db:
        cursor = db.get(SourceState, "jira").cursor
    assert cursor["deleted_checked_at"] == clock().isoformat()
    document = status_for(project.settings, project.okrs, project.engine, moment=clock(), cycle=None)
    assert document["sources"][0]["last_reconcile"] == clock().strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_first_sync_lists_no_keys_for_the_deleted_check_and_starts_its_clock(
    sim: JiraSim, project: Project, clock: FakeClock, pollers: dict[str, Poller]
) -> None:
    key_list = 'project = "ONB"'  # the id-only search of the deleted-issue check
    keys = seed(sim, clock)

    first = cycle(project, clock, pollers)

    assert not first.failed
    assert key_list not in searches(sim)  # the full read of a first sync already saw every key
    assert len(stored(project)) == 3
    with session(project.engine) as db:
        cursor = db.get(SourceState, "jira").cursor
    assert cursor["deleted_checked_at"] == clock().isoformat()  # as if checked: the clock starts

    sim.delete_issue(keys["done"])
    clock.tick(59 * 60)
    sim.clear_log()
    assert cycle(project, clock, pollers).sources[0].removed == 0
    assert key_list not in searches(sim)  # not due yet: one interval from the first sync

    clock.tick(60)
    sim.clear_log()
    due = cycle(project, clock, pollers)

    assert not due.failed and due.sources[0].removed == 1
    assert searches(sim).count(key_list) == 1
    assert keys["done"] not in stored(project)


def test_a_project_added_back_drops_the_stored_issues_its_full_read_no_longer_sees(
    sim: JiraSim, tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    """A project read in full that had stored issues is still diffed against what the read
    saw (a first sync of an empty project skips that, as nothing stored can be missing)."""
    keys = seed(sim, clock)
    sim.add_project("OPS", "Operations")
    runbook = sim.add_issue("OPS", "Runbook")
    # KR tokens only: a mapping's links would keep ONB polled whatever `projects` says
    both = make_project(
        sim, tmp_path / "both", database_url, projects=("ONB", "OPS"), mapping=KR_TOKEN_MAPPING
    )
    assert not cycle(both, clock).failed
    clock.tick(60)
    ops = make_project(sim, tmp_path / "ops", database_url, projects=("OPS",), mapping=KR_TOKEN_MAPPING)
    assert not cycle(ops, clock).failed
    sim.delete_issue(keys["wont"])  # while ONB is not polled: no update search can tell
    clock.tick(3600)  # the deleted-issue check is due
    sim.clear_log()

    again = cycle(both, clock)

    assert not again.failed and again.sources[0].removed == 1
    assert keys["wont"] not in stored(both) and {keys["done"], keys["open"], runbook} <= set(stored(both))
    assert 'project = "ONB"' not in searches(sim)  # the full read was the list


def test_a_project_that_suddenly_lists_almost_nothing_is_not_emptied(
    sim: JiraSim, project: Project, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    keys = [sim.add_issue("ONB", f"Task {index}") for index in range(120)]
    cycle(project, clock)
    for key in keys[1:]:  # what a lost browse permission looks like from here
        sim.delete_issue(key)

    clock.tick(3601)
    report = cycle(project, clock)

    assert not report.failed and report.sources[0].removed == 0
    assert len(stored(project)) == 120
    assert "lacks 119 of 120 stored issues; not removing them" in caplog.text


KR_TOKEN_MAPPING = JIRA_MAPPING.split("[[objective.key_result.link]]")[0]


def test_kr_tokens_in_version_descriptions_and_epic_labels_link_them(
    sim: JiraSim, tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    project = make_project(sim, tmp_path, database_url, mapping=KR_TOKEN_MAPPING)
    sim.add_version("ONB", "3.0", release_date=date(2026, 12, 1), description="Ships kr:ENG-1.1.")
    sim.add_version("ONB", "4.0", description="Not linked")
    epic = sim.add_issue("ONB", "Self-serve setup", issuetype="Epic", labels=["kr:ENG-1.1"])
    sim.add_issue("ONB", "Setup wizard", parent=epic, fix_versions=["3.0"])

    cycle(project, clock)

    shown = status_milestones(project, clock)
    assert sorted(shown) == ["jira:ONB-1", "jira:ONB/3.0"]
    assert shown["jira:ONB-1"]["total"] == shown["jira:ONB/3.0"]["total"] == 1


def test_subtasks_count_when_the_source_includes_them(
    sim: JiraSim, tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    project = make_project(sim, tmp_path, database_url, extra="include_subtasks = true")
    keys = seed(sim, clock)

    cycle(project, clock)

    issues = stored(project)
    assert issues[keys["sub"]].is_subtask and issues[keys["sub"]].status == "done"


# --- JQL sets ----------------------------------------------------------------------------------

JQL_MAPPING = (
    JIRA_MAPPING.replace('jql = "project = ONB AND labels = perf"', 'jql = "labels = perf ORDER BY key"')
    + """
[[objective.key_result.link]]
source = "jira"
jql = "fixVersion in unreleasedVersions(ONB)"
title = "Unreleased"
due = 2026-12-31
"""
)


def test_jql_set_membership_follows_changes_and_reaches_other_projects(
    sim: JiraSim, tmp_path: Path, database_url: str, clock: FakeClock, pollers: dict[str, Poller]
) -> None:
    project = make_project(sim, tmp_path, database_url, mapping=JQL_MAPPING)
    keys = seed(sim, clock)
    sim.add_project("WEB", "Web")  # not a project of the source: reached only through the set
    web = sim.add_issue("WEB", "Slow landing page", labels=["perf"])
    assert not cycle(project, clock, pollers).failed
    assert members(project, "jira:jql:Perf fixes") == {keys["open"], web}
    assert stored(project)[web].container == "WEB"
    assert members(project, "jira:jql:Unreleased") == {keys["done"], keys["wont"], keys["open"]}

    clock.tick(600)
    sim.update_issue(keys["open"], labels=[])  # leaves the set: its update brings it back
    sim.transition(web, "Done", "Done")
    assert not cycle(project, clock, pollers).failed

    assert members(project, "jira:jql:Perf fixes") == {web}
    assert stored(project)[web].status == "done"

    clock.tick(600)  # the cursor is now past the seeded issues' last update (and the overlap)
    sim.update_version("ONB", "2.0", released=True)  # all leave "Unreleased", none is updated
    assert not cycle(project, clock, pollers).failed
    # Nothing in an `updated` search says they left; the hourly full evaluation does.
    assert members(project, "jira:jql:Unreleased") == {keys["done"], keys["wont"]}
    clock.tick(3600)
    assert not cycle(project, clock, pollers).failed
    assert members(project, "jira:jql:Unreleased") == set()


# --- Cloud specifics ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["cloud"])
def test_cloud_uses_only_search_jql_with_epoch_millisecond_bounds(
    sim: JiraSim, project: Project, clock: FakeClock, pollers: dict[str, Poller]
) -> None:
    keys = seed(sim, clock)
    cycle(project, clock, pollers)
    clock.tick(120)
    sim.update_issue(keys["open"], summary="Faster first paint")
    cycle(project, clock, pollers)
    clock.tick(3600)  # the deleted-issue check and full JQL evaluation run too
    cycle(project, clock, pollers)

    log = sim.log()
    assert not [r.path for r in log if r.path.endswith("/search")]  # removed on Cloud (410)
    assert any(r.path.endswith("/search/jql") for r in log)
    bounds = [b for jql in searches(sim) for b in re.findall(r"updated\s*[<>=!]+\s*([^\s)]+)", jql)]
    assert bounds, "no incremental search was made"
    assert all(re.fullmatch(r"\d{13}", b) for b in bounds), bounds


@pytest.mark.parametrize(("mode", "account_timezone"), [("cloud", "America/New_York")])
def test_an_account_in_new_york_loses_no_update(sim: JiraSim, project: Project, clock: FakeClock) -> None:
    keys = seed(sim, clock)
    assert not cycle(project, clock).failed  # 10:01 UTC
    clock.tick(120)
    sim.update_issue(keys["open"], summary="Changed at 10:03 UTC")

    # A zone-less bound of the last poll's UTC time is read as 10:01 in New York (15:01 UTC).
    assert keys["open"] not in sim.search('project = ONB AND updated >= "2026-11-22 10:01"')
    clock.tick(120)
    assert not cycle(project, clock).failed

    assert stored(project)[keys["open"]].title == "Changed at 10:03 UTC"


# --- metric counts and validate --tracker ------------------------------------------------------


def test_count_answers_a_metric_query(sim: JiraSim, project: Project, clock: FakeClock) -> None:
    seed(sim, clock)
    poller = make_poller(project.settings.sources["jira"], project.okrs)

    assert poller.count("project = ONB AND statusCategory = Done") == 3


MISSING_LINKS = (
    JIRA_MAPPING
    + """
[[objective.key_result.link]]
source = "jira"
version = "ONB/9.9"

[[objective.key_result.link]]
source = "jira"
epic = "ONB-77"

[[objective.key_result.link]]
source = "jira"
epic = "ONB-2"

[[objective.key_result.link]]
source = "jira"
jql = "fixVersion = 9.9"
title = "Typo"
due = 2026-12-01
"""
)


def test_validate_tracker_names_each_jira_link_that_does_not_exist(
    sim: JiraSim, tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(sim, clock)
    project = make_project(sim, tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", mapping=MISSING_LINKS)
    monkeypatch.setenv("OKRSYNC_NOW", clock().isoformat())

    result = CliRunner().invoke(app, ["--config", str(project.config), "validate", "--tracker"])

    assert result.exit_code == 2, result.output
    output = " ".join(result.output.split())
    assert "Jira version ONB/9.9 does not exist (versions of ONB: '2.0', '1.0')" in output
    assert "Jira epic ONB-77 does not exist" in output
    assert "Jira epic ONB-2 is a Task, not an epic" in output
    assert "JQL set 'Typo': Jira refuses the query" in output
    for good in ("Jira version ONB/2.0", "Jira epic ONB-1 ", "Perf fixes"):
        assert good not in output
    assert TOKEN not in output and PAT not in output


def test_a_summary_with_a_lone_surrogate_or_a_nul_is_stored_cleaned(
    sim: JiraSim, project: Project, clock: FakeClock
) -> None:
    surrogate = sim.add_issue("ONB", "Fix \ud800 login")
    nul = sim.add_issue("ONB", "Null\x00byte")

    report = cycle(project, clock)

    assert not report.failed, report.failed[0].error
    issues = stored(project)
    assert issues[surrogate].title == "Fix \ufffd login"
    assert issues[nul].title == "Nullbyte"


def test_story_points_that_are_not_a_finite_number_count_as_unestimated(
    sim: JiraSim, project: Project, clock: FakeClock
) -> None:
    """JSON decoders accept NaN and Infinity; stored, one would make every sum it is in NaN."""
    odd = [sim.add_issue("ONB", f"Points {value}", story_points=float(value)) for value in ("nan", "inf")]
    plain = sim.add_issue("ONB", "Three points", story_points=3)

    report = cycle(project, clock)

    assert not report.failed, report.failed[0].error
    issues = stored(project)
    assert [issues[key].points for key in odd] == [None, None]
    assert issues[plain].points == 3.0


# --- a first sync's head start (okrsync.headstart) ---------------------------------------------

VERSION_AND_EPIC_MAPPING = JIRA_MAPPING.split('[[objective.key_result.link]]\nsource = "jira"\njql')[0]
needs_fork = pytest.mark.skipif(not can_fork(), reason="fork or a second core is missing")
PROJECTS = ("ONB", "OPS", "WEB", "API")


def several_projects(sim: JiraSim, clock: FakeClock) -> tuple[dict[str, str], list[str]]:
    keys = seed(sim, clock)
    for project in PROJECTS[1:]:
        sim.add_project(project, project.title())
    return keys, [sim.add_issue(p, f"Filler {n}") for n in range(130) for p in PROJECTS]


def wait_for_searches(sim: JiraSim) -> list[str]:
    deadline = time.monotonic() + 30
    while not searches(sim) and time.monotonic() < deadline:
        time.sleep(0.01)
    return searches(sim)


def first_pages(sim: JiraSim) -> list[str]:
    """The JQL of each search's first page (Cloud: no page token; Data Center: `startAt` 0)."""
    found = []
    for request in sim.log():
        if request.path.endswith(("/search", "/search/jql")):
            params = (
                request.json() if request.method == "POST" else {k: v[-1] for k, v in request.query.items()}
            )
            if not params.get("nextPageToken") and str(params.get("startAt") or 0) == "0":
                found.append(str(params.get("jql") or ""))
    return found


def split_project(sim: JiraSim, folder: Path, database_url: str, *, concurrency: int) -> Project:
    """A project over the four projects whose first sync is split into `concurrency` searches."""
    return make_project(
        sim,
        folder,
        database_url,
        mapping=VERSION_AND_EPIC_MAPPING,
        extra=f"concurrency = {concurrency}",
        projects=PROJECTS,
    )


def search_helpers() -> list[multiprocessing.process.BaseProcess]:
    return [p for p in multiprocessing.active_children() if p.name.startswith("okrsync-jira-search")]


@needs_fork
def test_a_first_sync_starts_its_searches_before_the_poll_and_stores_the_same(
    sim: JiraSim, tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    """`head_start` reads the empty store's cursors and starts the split searches at once; the
    poll adopts them: each search is made once, every request is counted, nothing is lost."""
    keys, fillers = several_projects(sim, clock)
    project = split_project(sim, tmp_path, database_url, concurrency=3)

    pollers = head_start(project.settings, project.okrs)
    started = wait_for_searches(sim)  # before the poll, which lists the versions first
    assert started and not any(r.path.endswith("/versions") for r in sim.log())
    report = cycle(project, clock, pollers)

    assert not report.failed, report.failed[0].error
    issues = stored(project)
    assert set(fillers) <= set(issues) and len(issues) == len(fillers) + 3
    assert members(project, f"jira:{keys['epic']}") == {keys["done"], keys["open"]}
    assert members(project, "jira:ONB/2.0") == {keys["done"], keys["wont"], keys["open"]}
    expected = changed_issue_searches([], sorted(PROJECTS), bound=None, shares=3)
    assert sorted(first_pages(sim)) == sorted(expected)  # each search made once: by its helper
    assert report.sources[0].requests == len(sim.log())  # serverInfo and /field, read early, too
    assert not search_helpers()
    clock.tick(600)
    assert cycle(project, clock, pollers).sources[0].changed == 0


@needs_fork
def test_searches_started_for_a_cursor_the_store_no_longer_has_are_stopped(
    sim: JiraSim, tmp_path: Path, database_url: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Another process synced between the head start's read and the poll: the poll runs its own
    (incremental) search, stops the early ones, and stores exactly the change."""
    keys, _ = several_projects(sim, clock)
    project = split_project(sim, tmp_path, database_url, concurrency=2)
    assert not cycle(project, clock).failed
    stale = make_poller(project.settings.sources["jira"], project.okrs)
    assert isinstance(stale, StartsEarly) and stale.start_early({})  # as if read before that sync
    clock.tick(600)
    sim.update_issue(keys["open"], summary="Faster first paint")

    with caplog.at_level(logging.DEBUG, logger="connectors.jira.poller"):
        report = cycle(project, clock, {"jira": stale})

    assert not report.failed, report.failed[0].error
    assert report.sources[0].changed == 1
    assert stored(project)[keys["open"]].title == "Faster first paint"
    assert "searches started early were not the poll's; stopped" in caplog.text
    assert not search_helpers()


def test_no_head_start_for_a_source_with_jql_sets_or_a_steady_poll(
    sim: JiraSim, tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    """JQL sets' members are read by the poll before classification; a steady poll's search is
    short and not split. Neither starts early, and nothing is requested."""
    several_projects(sim, clock)
    with_sets = make_project(sim, tmp_path, database_url, extra="concurrency = 3", projects=PROJECTS)
    poller = make_poller(with_sets.settings.sources["jira"], with_sets.okrs)
    assert isinstance(poller, StartsEarly) and not poller.start_early({})
    plain = make_project(
        sim, tmp_path / "plain", database_url, mapping=VERSION_AND_EPIC_MAPPING, extra="concurrency = 3"
    )
    steady = {"high_water": START.isoformat(), "projects": ["ONB"]}
    poller = make_poller(plain.settings.sources["jira"], plain.okrs)
    assert isinstance(poller, StartsEarly) and not poller.start_early(steady)
    assert sim.log() == []


def test_a_first_sync_through_the_cli_starts_early_and_a_tracker_that_is_down_fails_as_before(
    sim: JiraSim,
    tmp_path: Path,
    database_url: str,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`okrsync sync` gives the first sync its head start and prints the same summary; with the
    tracker down, the head start stays quiet and the poll reports the source as it always did."""
    _keys, fillers = several_projects(sim, clock)
    project = split_project(sim, tmp_path, database_url, concurrency=2)
    monkeypatch.setenv("OKRSYNC_NOW", clock().isoformat())

    result = CliRunner().invoke(app, ["--config", str(project.config), "sync", "--no-deliver"])

    assert result.exit_code == 0, result.output
    assert "✓ jira:" in result.output and len(stored(project)) == len(fillers) + 3
    assert "ORDER BY key" in searches(sim)[0]  # a search before the versions: started early
    # A store of its own: a first sync again, so a head start is tried.
    down = split_project(sim, tmp_path / "down", f"sqlite:///{tmp_path / 'down.db'}", concurrency=2)
    sim.stop()  # nothing listens at its address any more

    with caplog.at_level(logging.DEBUG, logger="okrsync.headstart"):
        result = CliRunner().invoke(app, ["--config", str(down.config), "sync", "--no-deliver"])

    assert "source jira: no head start:" in caplog.text
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())
    assert "✗" in output and "jira" in output and TOKEN not in output and PAT not in output
    assert not search_helpers()
