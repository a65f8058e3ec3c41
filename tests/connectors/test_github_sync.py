"""The GitHub connector end to end: real PyGithub client, simulator on 127.0.0.1, real store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from okrsync.engine import run_cycle
from okrsync.progress import status_for
from okrsync.sandbox.github import GitHubSim
from okrsync.sandbox.http import Fault
from okrsync.settings import load_settings
from okrsync.store import IssueMilestone, SourceState, TrackerIssue, session
from tests.helpers import FakeClock, Project, write_project

TOKEN = "ghp_testtoken_0123456789abcdef"
START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def sim(clock: FakeClock) -> Iterator[GitHubSim]:
    simulator = GitHubSim(tokens={TOKEN: "okrsync"}, clock=clock)
    simulator.add_repo("acme/web")
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def project(sim: GitHubSim, tmp_path: Path, database_url: str) -> Project:
    return write_project(tmp_path, database_url=database_url, github_url=sim.url, token=TOKEN)


def stored(project: Project) -> dict[str, TrackerIssue]:
    with session(project.engine) as db:
        return {i.key: i for i in db.execute(select(TrackerIssue)).scalars()}


def members(project: Project, milestone_key: str) -> set[str]:
    with session(project.engine) as db:
        rows = db.execute(
            select(IssueMilestone.issue_key).where(IssueMilestone.milestone_key == milestone_key)
        )
        return {row[0] for row in rows}


def cycle(project: Project, clock: FakeClock):  # noqa: ANN201 - the engine's report
    return run_cycle(project.settings, project.okrs, project.engine, now=clock())


def milestone_json(project: Project, clock: FakeClock) -> dict:
    document = status_for(project.settings, project.okrs, project.engine, moment=clock(), cycle=None)
    return document["objectives"][0]["key_results"][0]["milestones"][0]


def test_full_sync_pages_every_issue_and_leaves_pull_requests_out(
    sim: GitHubSim, project: Project, clock: FakeClock
) -> None:
    number = sim.add_milestone("acme/web", "Onboarding v2", due_on=datetime(2026, 12, 4, 8, tzinfo=UTC))
    for index in range(230):
        issue = sim.add_issue("acme/web", f"Task {index}", milestone=number if index < 10 else None)
        if index < 4:
            sim.close_issue("acme/web", issue)
    sim.add_issue("acme/web", "The PR for it", milestone=number, pull_request=True)

    report = cycle(project, clock)

    assert not report.failed
    issues = stored(project)
    assert len(issues) == 231
    # Later pages: /repositories/{id}/issues. The first sync's reconcile lists again, oldest first.
    pages = [r for r in sim.log() if r.path.endswith("/issues") and r.param("sort") == "updated"]
    assert len(pages) == 3  # 231 items at 100 a page, followed through Link headers
    assert issues["acme/web#231"].is_pull_request
    assert len(members(project, f"acme/web#{number}")) == 11
    shown = milestone_json(project, clock)
    assert (shown["done"], shown["total"], shown["key"]) == (4, 10, f"acme/web#{number}")
    assert shown["due"] == "2026-12-04"


def test_incremental_sync_sees_each_change_once_including_same_second_updates(
    sim: GitHubSim, project: Project, clock: FakeClock
) -> None:
    number = sim.add_milestone("acme/web", "Onboarding v2")
    first = sim.add_issue("acme/web", "First", milestone=number)
    sim.add_issue("acme/web", "Second", milestone=number)
    clock.tick(60)
    boundary = sim.add_issue("acme/web", "Updated at the boundary", milestone=number)
    assert not cycle(project, clock).failed

    # Same second as the cursor's high-water mark: an issue changed right after the poll read it.
    sim.close_issue("acme/web", first)  # stamped clock() == the boundary issue's updated_at
    late = sim.add_issue("acme/web", "Created in the same second", milestone=number)
    clock.tick(30)
    sim.update_issue("acme/web", boundary, title="Renamed")

    report = cycle(project, clock)

    assert not report.failed
    assert report.sources[0].changed == 3  # close, create, rename: each applied exactly once
    issues = stored(project)
    assert issues[f"acme/web#{first}"].status == "done"
    assert issues[f"acme/web#{boundary}"].title == "Renamed"
    assert f"acme/web#{late}" in issues
    again = cycle(project, clock)
    assert again.sources[0].changed == 0


def test_same_second_update_is_seen_even_without_overlap(
    sim: GitHubSim, tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    project = write_project(
        tmp_path,
        database_url=database_url,
        github_url=sim.url,
        token=TOKEN,
        extra="overlap_seconds = 0",
    )
    number = sim.add_milestone("acme/web", "Onboarding v2")
    sim.add_issue("acme/web", "Seen by the first poll", milestone=number)
    assert not cycle(project, clock).failed
    twin = sim.add_issue("acme/web", "Same second, after the poll", milestone=number)

    cycle(project, clock)

    assert f"acme/web#{twin}" in stored(project)


def test_a_deleted_issue_disappears(sim: GitHubSim, project: Project, clock: FakeClock) -> None:
    number = sim.add_milestone("acme/web", "Onboarding v2")
    keep = sim.add_issue("acme/web", "Keep", milestone=number)
    gone = sim.add_issue("acme/web", "Delete me", milestone=number)
    cycle(project, clock)
    clock.tick(120)
    sim.delete_issue("acme/web", gone)

    report = cycle(project, clock)

    assert not report.failed
    assert report.sources[0].removed == 1
    assert set(stored(project)) == {f"acme/web#{keep}"}
    assert members(project, f"acme/web#{number}") == {f"acme/web#{keep}"}


def test_a_poll_with_nothing_changed_makes_only_conditional_requests_answered_304(
    sim: GitHubSim, project: Project, clock: FakeClock
) -> None:
    number = sim.add_milestone("acme/web", "Onboarding v2")
    for index in range(3):
        sim.add_issue("acme/web", f"Task {index}", milestone=number)
    cycle(project, clock)
    clock.tick(300)
    cycle(project, clock)  # the cursor settles: the same URLs as the next poll
    remaining = sim.rate_remaining("okrsync")
    sim.clear_log()
    clock.tick(300)

    report = cycle(project, clock)

    log = sim.log()
    assert not report.failed
    assert log, "the poll made no request at all"
    assert all(r.status == 304 for r in log), [(r.path, r.status) for r in log]
    assert all("if-none-match" in r.headers for r in log)
    assert sim.rate_remaining("okrsync") == remaining


def test_a_source_failing_for_a_whole_cycle_keeps_its_cursor_and_catches_up(
    sim: GitHubSim, project: Project, clock: FakeClock
) -> None:
    number = sim.add_milestone("acme/web", "Onboarding v2")
    sim.add_issue("acme/web", "Before the outage", milestone=number)
    cycle(project, clock)
    with session(project.engine) as db:
        cursor_before = db.get(SourceState, "github").cursor
    clock.tick(60)
    during = sim.add_issue("acme/web", "Filed during the outage", milestone=number)
    sim.inject(Fault(status=500, body={"message": "Server Error"}))

    report = cycle(project, clock)

    assert [s.name for s in report.failed] == ["github"]
    assert "github" in (report.failed[0].error or "")
    with session(project.engine) as db:
        state = db.get(SourceState, "github")
        assert state.cursor == cursor_before
        assert state.last_error and "500" in state.last_error
    document = status_for(project.settings, project.okrs, project.engine, moment=clock(), cycle=None)
    assert document["sources"][0]["last_error"]
    assert f"acme/web#{during}" not in stored(project)

    sim.clear_faults()
    clock.tick(60)
    assert not cycle(project, clock).failed
    assert f"acme/web#{during}" in stored(project)
    with session(project.engine) as db:
        assert db.get(SourceState, "github").last_error is None


@pytest.mark.parametrize("secondary", [False, True])
def test_a_rate_limit_within_the_bound_is_waited_out(
    sim: GitHubSim, tmp_path: Path, database_url: str, clock: FakeClock, secondary: bool
) -> None:
    project = write_project(tmp_path, database_url=database_url, github_url=sim.url, token=TOKEN)
    sim.add_milestone("acme/web", "Onboarding v2")
    sim.add_issue("acme/web", "Task", milestone=1)
    sim.rate_limit(1, secondary=secondary, path="/issues", times=1)

    report = cycle(project, clock)

    assert not report.failed, report.failed
    assert "acme/web#1" in stored(project)
    assert [r.status for r in sim.log() if r.path.endswith("/issues")][:2] == [403, 200]


def test_a_rate_limit_beyond_the_bound_fails_the_source_clearly(
    sim: GitHubSim, tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    project = write_project(
        tmp_path, database_url=database_url, github_url=sim.url, token=TOKEN, extra="max_rate_limit_wait = 2"
    )
    sim.rate_limit(3600, secondary=True, path="/issues", times=None)

    report = cycle(project, clock)

    assert [s.name for s in report.failed] == ["github"]
    message = report.failed[0].error or ""
    assert "rate limit" in message.lower(), message
    assert TOKEN not in message


def test_a_transferred_issue_moves_to_its_new_repo(
    sim: GitHubSim, project: Project, clock: FakeClock
) -> None:
    sim.add_repo("acme/other")
    number = sim.add_milestone("acme/web", "Onboarding v2")
    keep = sim.add_issue("acme/web", "Stays", milestone=number)
    moving = sim.add_issue("acme/web", "Moves to another repo", milestone=number)
    cycle(project, clock)
    clock.tick(120)
    new_number = sim.transfer_issue("acme/web", moving, "acme/other")

    report = cycle(project, clock)

    assert not report.failed
    issues = stored(project)
    assert f"acme/web#{moving}" not in issues
    assert f"acme/other#{new_number}" in issues
    assert members(project, f"acme/web#{number}") == {f"acme/web#{keep}"}


def test_a_github_app_installation_token_is_fetched_and_used(
    sim: GitHubSim, tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    sim.add_app(4242, public_pem, installation_id=77)
    (tmp_path / "app.pem").write_text(private_pem)
    project = write_project(tmp_path, database_url=database_url, github_url=sim.url, token=TOKEN)
    text = project.config.read_text().replace(f'token = "{TOKEN}"\n', "")
    text += f'app_id = 4242\ninstallation_id = 77\napp_private_key_file = "{tmp_path / "app.pem"}"\n'
    project.config.write_text(text)
    project = Project(
        project.folder, project.config, load_settings(project.config), project.okrs, project.engine
    )
    sim.add_milestone("acme/web", "Onboarding v2")
    sim.add_issue("acme/web", "Task", milestone=1)

    report = cycle(project, clock)

    assert not report.failed, report.failed
    assert "acme/web#1" in stored(project)
    minted = [r for r in sim.log() if r.path == "/app/installations/77/access_tokens"]
    assert [(r.method, r.status, r.client) for r in minted] == [("POST", 201, "app-4242")]
    polls = [r for r in sim.log() if r.path.startswith("/repos/")]
    assert polls and {r.client for r in polls} == {"installation-77"}


def test_github_enterprise_is_reached_through_its_api_v3_base_url(
    tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    enterprise = GitHubSim(tokens={TOKEN: "okrsync"}, clock=clock, api_prefix="/api/v3")
    enterprise.add_repo("acme/web")
    number = enterprise.add_milestone("acme/web", "Onboarding v2")
    for index in range(120):
        enterprise.add_issue("acme/web", f"Task {index}", milestone=number)
    enterprise.start()
    try:
        project = write_project(
            tmp_path, database_url=database_url, github_url=f"{enterprise.url}/api/v3", token=TOKEN
        )
        report = cycle(project, clock)
        assert not report.failed, report.failed
        assert len(stored(project)) == 120  # two pages: the Link header kept the /api/v3 prefix
        paged = [r for r in enterprise.log() if r.path.endswith("/issues") and r.param("sort") == "updated"]
        assert len(paged) == 2
    finally:
        enterprise.stop()


def test_a_read_timeout_is_reported_as_one_with_the_path_not_as_a_connection_failure(
    sim: GitHubSim, tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    project = write_project(
        tmp_path, database_url=database_url, github_url=sim.url, token=TOKEN, extra="timeout = 1"
    )
    sim.inject(Fault(status=0, path="/issues", delay=1.5))  # answers, but after the timeout

    report = cycle(project, clock)

    error = report.failed[0].error or ""
    assert "timed out after 1 s waiting for 127.0.0.1/repos/acme/web/issues" in error, error
    assert "cannot connect" not in error and TOKEN not in error and "state=" not in error


def test_a_title_with_a_lone_surrogate_or_a_nul_is_stored_cleaned_and_the_source_keeps_syncing(
    sim: GitHubSim, project: Project, clock: FakeClock
) -> None:
    number = sim.add_milestone("acme/web", "Onboarding v2")
    surrogate = sim.add_issue("acme/web", "Fix \ud800 login", milestone=number)
    nul = sim.add_issue("acme/web", "Null\x00byte", milestone=number)
    clean = sim.add_issue("acme/web", "Plain", milestone=number)

    report = cycle(project, clock)

    assert not report.failed, report.failed[0].error
    titles = {key: issue.title for key, issue in stored(project).items()}
    assert titles == {
        f"acme/web#{surrogate}": "Fix \ufffd login",
        f"acme/web#{nul}": "Nullbyte",
        f"acme/web#{clean}": "Plain",
    }
