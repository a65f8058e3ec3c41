"""Write-back to GitHub through the real PyGithub client against the simulator, on both databases.

Each test syncs first (the poll and the roll-up write-back reads), then writes back with a
fake sleep that advances a fake monotonic clock: pacing and `Retry-After` waits are asserted
as the waits asked for, and cost no wall time.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from okrsync.cli import app
from okrsync.daemon import Daemon
from okrsync.engine import run_cycle
from okrsync.leader import AlwaysLeader, make_elector
from okrsync.metrics import Metrics
from okrsync.sandbox.github import GitHubSim
from okrsync.sandbox.http import Fault
from okrsync.store import WritebackTarget, session
from okrsync.writeback import WritebackReport, run_writeback
from okrsync.writeback.github import GitHubWriter, make_client
from okrsync.writeback.markers import BEGIN, END
from okrsync.writeback.pacing import Pacer
from okrsync.writeback.plan import Target
from tests.helpers import FakeClock, Project, onboarding_sim, write_project

TOKEN = "ghp_writeback_token_42"
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
DUE = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)  # Pacific midnight: due 2026-11-28
ENABLED = "[sources.github.writeback]\nenabled = true\n"


class FakeTime:
    """A monotonic clock and a sleep that advances it, recording every wait asked for."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def sim(clock: FakeClock) -> Iterator[GitHubSim]:
    with onboarding_sim(clock, token=TOKEN, due=DUE) as simulator:
        yield simulator


@pytest.fixture
def project(sim: GitHubSim, tmp_path: Path, database_url: str) -> Project:
    return write_project(tmp_path, database_url=database_url, github_url=sim.url, token=TOKEN, extra=ENABLED)


def sync(project: Project, clock: FakeClock) -> None:
    report = run_cycle(project.settings, project.okrs, project.engine, now=clock(), write_back=False)
    assert not report.failed


def write_back(
    project: Project, clock: FakeClock, time: FakeTime | None = None, **kwargs: object
) -> WritebackReport:
    time = time or FakeTime()
    return run_writeback(
        project.settings,
        project.okrs,
        project.engine,
        now=clock(),
        monotonic=time.monotonic,
        sleep=time.sleep,
        **kwargs,  # type: ignore[arg-type]
    )


def writes(sim: GitHubSim) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in sim.log() if r.method != "GET"]


def dashboards(sim: GitHubSim) -> list[int]:
    return [n for n, issue in sim.repo("acme/web").issues.items() if "okrsync" in issue.labels]


def actions(report: WritebackReport) -> dict[str, str]:
    return {r.target.key: r.action for r in report.sources[0].results}


def test_a_first_write_back_creates_the_dashboard_and_the_milestone_section(
    sim: GitHubSim, project: Project, clock: FakeClock
) -> None:
    sim.update_milestone("acme/web", 1, description="Ship the new onboarding flow.")
    sync(project, clock)
    sim.clear_log()
    time = FakeTime()

    report = write_back(project, clock, time)

    assert actions(report) == {"dashboard:acme/web": "created", "milestone:acme/web#1": "updated"}
    assert writes(sim) == [("POST", "/repos/acme/web/issues"), ("PATCH", "/repos/acme/web/milestones/1")]
    [number] = dashboards(sim)
    issue = sim.issue("acme/web", number)
    assert issue.title == "OKR dashboard"
    assert issue.labels == ("okrsync",)
    body = issue.body or ""
    assert BEGIN in body and END in body
    assert (
        "| ENG-1 Remove friction from onboarding | ENG-1.1 Ship onboarding | bob | 25% (expected 58%) |"
        in body
    )
    assert "[Onboarding v2](https://github.com/acme/web/milestone/1): 1/4 done, due 2026-11-28" in body
    description = sim.milestone("acme/web", 1).description
    assert description.startswith("Ship the new onboarding flow.\n\n" + BEGIN)
    assert description.endswith(END)
    # The two writes were paced one second apart (GitHub's "one content write a second").
    assert time.sleeps == [1.0]
    with session(project.engine) as db:
        rows = {r.target: r for r in db.exec(select(WritebackTarget))}
    assert rows["dashboard:acme/web"].remote_id == str(number)
    assert rows["milestone:acme/web#1"].remote_id == "1"


def test_a_quiet_cycle_makes_no_request_and_a_change_one_write_per_target(
    sim: GitHubSim, project: Project, clock: FakeClock
) -> None:
    sync(project, clock)
    write_back(project, clock)
    sync(project, clock)  # the poll sees okrsync's own edits: nothing for the roll-up
    sim.clear_log()

    quiet = write_back(project, clock)

    assert set(actions(quiet).values()) == {"unchanged"}
    assert sim.log() == []

    sim.close_issue("acme/web", 2)
    sync(project, clock)
    sim.clear_log()
    changed = write_back(project, clock)

    assert actions(changed) == {"dashboard:acme/web": "updated", "milestone:acme/web#1": "updated"}
    [number] = dashboards(sim)
    assert writes(sim) == [
        ("PATCH", f"/repos/acme/web/issues/{number}"),
        ("PATCH", "/repos/acme/web/milestones/1"),
    ]
    assert "2/4 done" in (sim.issue("acme/web", number).body or "")
    sim.clear_log()
    assert set(actions(write_back(project, clock)).values()) == {"unchanged"}
    assert sim.log() == []


def test_text_outside_the_markers_is_kept(sim: GitHubSim, project: Project, clock: FakeClock) -> None:
    sync(project, clock)
    write_back(project, clock)
    [number] = dashboards(sim)
    before = sim.issue("acme/web", number).body or ""
    sim.update_issue(
        "acme/web", number, body="Team notes first.\n\n" + before + "\n\nAnd a footer by a person."
    )
    milestone = sim.milestone("acme/web", 1).description
    sim.update_milestone(
        "acme/web", 1, description="Intro by a person.\n\n" + milestone + "\n\nkr:ENG-1.1 stays."
    )
    sim.close_issue("acme/web", 2)
    sync(project, clock)

    write_back(project, clock)

    body = sim.issue("acme/web", number).body or ""
    assert body.startswith("Team notes first.\n\n")
    assert body.endswith("\n\nAnd a footer by a person.")
    assert "2/4 done" in body and body.count(BEGIN) == 1
    description = sim.milestone("acme/web", 1).description
    assert description.startswith("Intro by a person.\n\n" + BEGIN)
    assert description.endswith(END + "\n\nkr:ENG-1.1 stays.")
    assert "2/4 done" in description


def test_a_dry_run_reports_what_it_would_write_and_writes_nothing(
    sim: GitHubSim, project: Project, clock: FakeClock
) -> None:
    sync(project, clock)
    sim.clear_log()

    first = write_back(project, clock, dry_run=True)

    assert actions(first) == {"dashboard:acme/web": "created", "milestone:acme/web#1": "updated"}
    assert writes(sim) == []
    assert dashboards(sim) == []
    with session(project.engine) as db:
        assert list(db.exec(select(WritebackTarget))) == []
    write_back(project, clock)
    sim.close_issue("acme/web", 2)
    sync(project, clock)
    sim.clear_log()

    second = write_back(project, clock, dry_run=True)

    assert actions(second) == {"dashboard:acme/web": "updated", "milestone:acme/web#1": "updated"}
    assert writes(sim) == []
    diff = second.sources[0].results[0].diff()
    assert "-| ENG-1 Remove friction from onboarding | ENG-1.1 Ship onboarding | bob | 25%" in diff
    assert "+| ENG-1 Remove friction from onboarding | ENG-1.1 Ship onboarding | bob | 50%" in diff


def test_writeback_dry_run_command_prints_the_body_and_diffs(
    sim: GitHubSim, project: Project, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OKRSYNC_NOW", clock().isoformat())
    sync(project, clock)
    sim.clear_log()

    result = CliRunner().invoke(app, ["--config", str(project.config), "writeback", "--dry-run"])

    assert result.exit_code == 0, result.output
    assert "acme/web OKR dashboard: would be created" in result.output
    assert "### Key results fed by acme/web" in result.output
    assert "acme/web milestone 1 (Onboarding v2): would be updated" in result.output
    assert "+<!-- okrsync:begin -->" in result.output
    assert writes(sim) == []
    assert TOKEN not in result.output


def test_a_403_is_recorded_with_the_missing_permission_and_never_fails_the_poll(
    sim: GitHubSim, project: Project, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim.read_only.add("okrsync")

    report = run_cycle(project.settings, project.okrs, project.engine, now=clock())

    assert not report.failed
    assert report.writeback is not None
    [written] = report.writeback.sources
    assert not written.ok
    assert (
        "403" in written.errors[0] and "'Issues: read and write' permission on acme/web" in written.errors[0]
    )
    monkeypatch.setenv("OKRSYNC_NOW", clock().isoformat())
    status = CliRunner().invoke(app, ["--config", str(project.config), "status", "--json"])
    state = json.loads(status.stdout)["sources"][0]["writeback"]
    assert state["enabled"] is True and state["ok"] is False
    assert "Issues: read and write" in state["last_error"]
    assert TOKEN not in status.stdout

    sim.read_only.clear()  # the admin grants the permission: the next cycle writes
    retried = run_cycle(project.settings, project.okrs, project.engine, now=clock.tick(300))

    assert retried.writeback is not None and retried.writeback.sources[0].ok
    assert len(dashboards(sim)) == 1
    status = CliRunner().invoke(app, ["--config", str(project.config), "status", "--json"])
    assert json.loads(status.stdout)["sources"][0]["writeback"]["ok"] is True


def test_a_secondary_rate_limit_is_waited_out_as_retry_after_asks(
    sim: GitHubSim, project: Project, clock: FakeClock
) -> None:
    sync(project, clock)
    sim.rate_limit(7, secondary=True, path="/repos/acme/web/issues")  # hits the dashboard search
    time = FakeTime()

    report = write_back(project, clock, time)

    assert report.sources[0].ok, report.sources[0].errors
    assert time.sleeps == [7.0, 1.0]
    assert len(dashboards(sim)) == 1


def test_a_primary_rate_limit_is_waited_out_until_its_reset(
    sim: GitHubSim, project: Project, clock: FakeClock
) -> None:
    sync(project, clock)
    sim.rate_limit(20, path="/repos/acme/web/milestones/1")  # X-RateLimit-Remaining: 0, reset in 20 s
    time = FakeTime()
    writer = GitHubWriter(
        "github",
        make_client(project.settings.sources["github"]),
        pacer=Pacer(1.0, max_wait=60, monotonic=time.monotonic, sleep=time.sleep),
        label_prefix="kr:",
        wall_clock=lambda: clock().timestamp(),  # the reset is on the simulator's clock
    )
    target = Target("milestone", "acme/web", "1", "section", "acme/web milestone 1")

    result = writer.apply(target, None)

    assert result.action == "updated"
    assert time.sleeps == [21.0]  # until the reset, and a second more
    assert sim.milestone("acme/web", 1).description.endswith(f"{BEGIN}\nsection\n{END}")


def test_a_rate_limit_beyond_the_bound_stops_this_cycle_and_the_next_retries(
    sim: GitHubSim, project: Project, clock: FakeClock
) -> None:
    sync(project, clock)
    sim.inject(
        Fault(
            status=429, method="POST", times=1, headers={"Retry-After": "3600"}, body={"message": "slow down"}
        )
    )

    report = write_back(project, clock)

    assert not report.sources[0].ok
    assert "max_rate_limit_wait" in report.sources[0].errors[0]
    assert dashboards(sim) == []
    assert "milestone:acme/web#1" not in actions(report)  # the rest waits for the next cycle
    assert set(actions(write_back(project, clock)).values()) == {"created", "updated"}


def test_a_dashboard_closed_by_a_person_stays_closed_and_is_logged_once(
    sim: GitHubSim, project: Project, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    sync(project, clock)
    write_back(project, clock)
    [number] = dashboards(sim)
    sim.close_issue("acme/web", number, reason="not_planned")
    caplog.set_level(logging.WARNING)
    sim.close_issue("acme/web", 2)  # a change: the next write-back reads the dashboard, finds it closed
    for _cycle in range(3):
        sync(project, clock)
        report = write_back(project, clock)
        assert actions(report)["dashboard:acme/web"] == "closed"

    assert dashboards(sim) == [number]
    assert sim.issue("acme/web", number).state == "closed"
    assert len([r for r in caplog.records if "closed by a person" in r.getMessage()]) == 1

    sim.reopen_issue("acme/web", number)  # reopened: okrsync keeps it again
    sync(project, clock)
    assert actions(write_back(project, clock))["dashboard:acme/web"] == "updated"
    assert "2/4 done" in (sim.issue("acme/web", number).body or "")


def test_an_existing_dashboard_is_found_by_label_and_marker_instead_of_created(
    sim: GitHubSim, project: Project, clock: FakeClock
) -> None:
    sync(project, clock)
    write_back(project, clock)
    with session(project.engine) as db:  # as if the number had never been recorded
        for row in db.exec(select(WritebackTarget)):
            db.delete(row)
        db.commit()
    sim.clear_log()

    report = write_back(project, clock)

    assert actions(report) == {"dashboard:acme/web": "unchanged", "milestone:acme/web#1": "unchanged"}
    assert writes(sim) == []
    assert len(dashboards(sim)) == 1


def test_nothing_is_written_when_write_back_is_off(sim: GitHubSim, tmp_path: Path, database_url: str) -> None:
    project = write_project(tmp_path, database_url=database_url, github_url=sim.url, token=TOKEN)
    sim.clear_log()

    report = run_cycle(project.settings, project.okrs, project.engine, now=NOW)

    assert report.writeback is None
    assert writes(sim) == []


def test_only_the_leader_writes(sim: GitHubSim, project: Project, clock: FakeClock) -> None:
    elector = make_elector(project.settings.okrsync.database_url)  # a daemon leading elsewhere
    assert elector.acquire()
    try:
        report = run_cycle(project.settings, project.okrs, project.engine, now=clock())
        refused = CliRunner().invoke(app, ["--config", str(project.config), "writeback"])
    finally:
        elector.release()

    assert not report.failed
    assert report.writeback is None
    assert writes(sim) == []
    assert refused.exit_code == 1
    assert "another okrsync process leads" in refused.output


def test_a_repo_that_feeds_no_kr_gets_no_dashboard(sim: GitHubSim, tmp_path: Path, database_url: str) -> None:
    sim.add_repo("acme/docs")
    sim.add_issue("acme/docs", "Typos")
    project = write_project(
        tmp_path,
        database_url=database_url,
        github_url=sim.url,
        token=TOKEN,
        extra=ENABLED,
        repos=("acme/web", "acme/docs"),
    )
    sync(project, FakeClock(NOW))

    report = write_back(project, FakeClock(NOW))

    assert "dashboard:acme/docs" not in actions(report)
    assert [i for i in sim.repo("acme/docs").issues.values() if "okrsync" in i.labels] == []


def okrsync(config: Path, *args: str, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OKRSYNC_NOW": NOW.isoformat()}
    env.pop("OKRSYNC_CRASH_AT", None)
    if crash_at:
        env["OKRSYNC_CRASH_AT"] = crash_at
    return subprocess.run(
        [sys.executable, "-m", "okrsync.cli", "--config", str(config), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_process_killed_after_creating_the_dashboard_leaves_one_dashboard(
    sim: GitHubSim, project: Project
) -> None:
    assert okrsync(project.config, "sync").returncode == 0, "first sync"
    # The sync wrote back already; forget it, so the next run creates the dashboard again.
    for number in dashboards(sim):
        sim.delete_issue("acme/web", number)
    with session(project.engine) as db:
        for row in db.exec(select(WritebackTarget)):
            db.delete(row)
        db.commit()

    crashed = okrsync(project.config, "writeback", crash_at="writeback_dashboard_created")

    assert crashed.returncode == -signal.SIGKILL
    [number] = dashboards(sim)
    with session(project.engine) as db:
        assert db.get(WritebackTarget, ("github", "dashboard:acme/web")) is None  # killed before recording

    restarted = okrsync(project.config, "writeback")

    assert restarted.returncode == 0, restarted.stderr
    assert dashboards(sim) == [number]
    with session(project.engine) as db:
        row = db.get(WritebackTarget, ("github", "dashboard:acme/web"))
    assert row is not None and row.remote_id == str(number)
    assert f"acme/web OKR dashboard (#{number}): unchanged" in restarted.stdout


def test_the_demo_shows_the_github_dashboard_after_its_first_sync() -> None:
    result = CliRunner().invoke(app, ["demo"])

    assert result.exit_code == 0, result.output
    assert "Write-back: the 'OKR dashboard' issue" in result.output
    assert "### Key results fed by acme/web" in result.output
    assert "| Objective | Key result | Owner | Progress | Status | Milestones |" in result.output


class HeldElsewhere:
    """A leader lock another replica holds."""

    description = "held by another replica"

    def acquire(self) -> bool:
        return False

    def release(self) -> None:
        pass


def test_the_daemon_writes_back_after_its_cycle_only_while_it_leads(
    sim: GitHubSim, project: Project, clock: FakeClock
) -> None:
    time = FakeTime()

    def daemon(elector: Any) -> Daemon:
        return Daemon(
            project.settings,
            project.okrs,
            project.engine,
            elector=elector,
            metrics=Metrics(),
            clock=clock,
            monotonic=time.monotonic,
            sleep=time.sleep,
        )

    follower = daemon(HeldElsewhere())
    for _step in range(5):
        follower.step(time.monotonic())
    assert follower.cycles == 0 and writes(sim) == []

    leader = daemon(AlwaysLeader())
    while leader.cycles == 0:
        leader.step(time.monotonic())

    assert len(dashboards(sim)) == 1
    assert ("PATCH", "/repos/acme/web/milestones/1") in writes(sim)
    assert time.sleeps == [1.0]  # the daemon's own (here fake) sleep paced the two writes


def test_a_milestone_no_longer_linked_loses_okrsyncs_section_and_keeps_the_persons_text(
    sim: GitHubSim, project: Project, clock: FakeClock
) -> None:
    second = sim.add_milestone("acme/web", "Polish", description="Polish. kr:ENG-1.1")
    sync(project, clock)
    write_back(project, clock)
    description = sim.milestone("acme/web", second).description
    assert description.startswith("Polish. kr:ENG-1.1\n\n" + BEGIN)
    sim.update_milestone("acme/web", second, description=description.replace(" kr:ENG-1.1", ""))
    sync(project, clock)

    report = write_back(project, clock)

    assert actions(report)[f"milestone:acme/web#{second}"] == "updated"
    assert sim.milestone("acme/web", second).description == "Polish."
    with session(project.engine) as db:
        assert db.get(WritebackTarget, ("github", f"milestone:acme/web#{second}")) is None
    sim.clear_log()
    assert f"milestone:acme/web#{second}" not in actions(write_back(project, clock))
    assert writes(sim) == []


def test_writeback_before_any_sync_says_to_sync_first(
    sim: GitHubSim, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OKRSYNC_NOW", NOW.isoformat())

    result = CliRunner().invoke(app, ["--config", str(project.config), "writeback"])

    assert result.exit_code == 0, result.output
    assert "write-back github: skipped: never synced; run `okrsync sync` first" in result.output
    assert sim.log() == []
