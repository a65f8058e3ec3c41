"""Jira failures: rate limits waited out within a bound, everything else a clean SourceError.

The jira client's own retry is off (it crashes on an HTTP-date `Retry-After`); the connector
waits through an injected sleep that records the wait and moves the fake clock, so these
tests cost no wall time. The database is not what is tested here, so SQLite only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from connectors.jira import JiraPoller, retry_after_seconds
from okrsync.cli import app
from okrsync.engine import CycleReport, run_cycle
from okrsync.sandbox.http import Fault
from okrsync.sandbox.jira import JiraSim
from okrsync.sources import make_poller
from okrsync.store import SourceState, TrackerIssue, session
from tests.helpers import JIRA_MAPPING, FakeClock, Project, write_jira_project

EMAIL = "okrsync@acme.com"
TOKEN = "atl-SECRET-api-token-77aa"
PAT = "pat-SECRET-0b3e51"
START = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
# One version link: the first search of a poll is then the main issue search.
MAPPING = (
    JIRA_MAPPING.split("[[objective.key_result.link]]")[0]
    + """[[objective.key_result.link]]
source = "jira"
version = "ONB/2.0"
"""
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture(params=["cloud", "datacenter"])
def sim(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[JiraSim]:
    mode = request.param
    users = {f"{EMAIL}:{TOKEN}": "okrsync"} if mode == "cloud" else {PAT: "okrsync"}
    simulator = JiraSim(mode, users=users, clock=clock)
    simulator.add_project("ONB")
    simulator.add_version("ONB", "2.0")
    simulator.add_issue("ONB", "Epic", issuetype="Epic")
    simulator.add_issue("ONB", "A task", fix_versions=["2.0"])
    simulator.start()
    yield simulator
    simulator.stop()


def make_project(sim: JiraSim, tmp_path: Path, *, extra: str = "max_rate_limit_wait = 10") -> Project:
    url = f"sqlite:///{tmp_path / 'okrsync.db'}"
    if sim.mode == "cloud":
        return write_jira_project(
            tmp_path,
            database_url=url,
            jira_url=sim.url,
            token=TOKEN,
            email=EMAIL,
            extra=extra,
            mapping=MAPPING,
        )
    return write_jira_project(
        tmp_path, database_url=url, jira_url=sim.url, token=PAT, extra=extra, mapping=MAPPING
    )


class Sleeper:
    """Record each wait and move the fake clock by it, instead of sleeping."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.tick(seconds)


def cycle(project: Project, clock: FakeClock, sleeper: Sleeper) -> CycleReport:
    """Run a cycle with the factory's poller, its sleep and clock swapped for the fakes."""
    poller = make_poller(project.settings.sources["jira"], project.okrs)
    assert isinstance(poller, JiraPoller)
    poller.sleep, poller.clock = sleeper, clock
    return run_cycle(project.settings, project.okrs, project.engine, now=clock(), pollers={"jira": poller})


def stored_keys(project: Project) -> set[str]:
    with session(project.engine) as db:
        return set(db.execute(select(TrackerIssue.key)).scalars())


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [("2", 2.0), ("http-date+3", 3.0)],
    ids=["seconds", "http-date"],
)
def test_a_rate_limited_search_is_waited_out_and_the_cycle_completes(
    sim: JiraSim, tmp_path: Path, clock: FakeClock, retry_after: str, expected: float
) -> None:
    project = make_project(sim, tmp_path)
    if retry_after.startswith("http-date"):
        retry_after = format_datetime(clock() + timedelta(seconds=3), usegmt=True)
    sim.throttle(retry_after, path="/search")
    sleeper = Sleeper(clock)

    report = cycle(project, clock, sleeper)

    assert not report.failed, report.failed[0].error
    assert sleeper.waits == [expected]
    assert stored_keys(project) == {"ONB-2"}
    throttled = [r for r in sim.log() if r.status == 429]
    assert len(throttled) == 1


def test_a_503_with_retry_after_is_waited_out_too(sim: JiraSim, tmp_path: Path, clock: FakeClock) -> None:
    project = make_project(sim, tmp_path)
    sim.throttle("1", status=503, path="/versions")
    sleeper = Sleeper(clock)

    report = cycle(project, clock, sleeper)

    assert not report.failed
    assert sleeper.waits == [1.0]


def test_a_wait_beyond_the_bound_fails_the_source_cleanly_and_keeps_its_cursor(
    sim: JiraSim, tmp_path: Path, clock: FakeClock
) -> None:
    project = make_project(sim, tmp_path)
    sleeper = Sleeper(clock)
    assert not cycle(project, clock, sleeper).failed
    with session(project.engine) as db:
        cursor_before = db.get(SourceState, "jira").cursor
    clock.tick(60)
    sim.throttle("120", path="/search")

    report = cycle(project, clock, sleeper)

    assert [s.name for s in report.failed] == ["jira"]
    error = report.failed[0].error or ""
    assert error.startswith("source 'jira': searching updated issues: Jira answered 429 (rate limited)")
    assert "max_rate_limit_wait = 10 s" in error
    assert sleeper.waits == []  # no point waiting when the wait asked for is over the bound
    with session(project.engine) as db:
        state = db.get(SourceState, "jira")
        assert state.cursor == cursor_before
        assert state.last_error == error


def test_waits_add_up_against_the_bound(sim: JiraSim, tmp_path: Path, clock: FakeClock) -> None:
    project = make_project(sim, tmp_path, extra="max_rate_limit_wait = 5")
    sim.throttle("2", path="/search", times=3)
    sleeper = Sleeper(clock)

    report = cycle(project, clock, sleeper)

    assert sleeper.waits == [2.0, 2.0]
    assert "after waiting 4 s" in (report.failed[0].error or "")


def test_sync_exits_1_naming_the_source_without_a_traceback(
    sim: JiraSim, tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(sim, tmp_path, extra="max_rate_limit_wait = 5")
    # The command uses the wall clock (it has no seam): the date is ten minutes from now.
    sim.throttle(format_datetime(datetime.now(UTC) + timedelta(minutes=10), usegmt=True), times=None)
    monkeypatch.setenv("OKRSYNC_NOW", clock().isoformat())

    result = CliRunner().invoke(app, ["--config", str(project.config), "sync"])

    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())
    assert "source 'jira'" in output and "429 (rate limited)" in output
    assert re.search(r"asks to wait (599|600) s more, beyond max_rate_limit_wait = 5 s", output), output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert TOKEN not in result.output and PAT not in result.output


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (
            Fault(status=500, body={"errorMessages": ["Internal server error"], "errors": {}}),
            "500: Internal server error",
        ),
        (
            Fault(status=400, body={"errorMessages": ["Field 'x' does not exist"], "errors": {}}),
            "400: Field 'x' does not exist",
        ),
        (Fault(status=200, raw=b"{not json"), "not JSON"),
    ],
    ids=["500", "400", "malformed"],
)
def test_other_failures_are_source_errors_with_jiras_messages(
    sim: JiraSim, tmp_path: Path, clock: FakeClock, fault: Fault, expected: str
) -> None:
    project = make_project(sim, tmp_path)
    fault.path = "/search"
    sim.inject(fault)

    report = cycle(project, clock, Sleeper(clock))

    error = report.failed[0].error or ""
    assert error.startswith("source 'jira': searching updated issues") and expected in error, error


def test_a_wrong_token_says_401_and_never_shows_the_token(
    sim: JiraSim, tmp_path: Path, clock: FakeClock
) -> None:
    url = f"sqlite:///{tmp_path / 'okrsync.db'}"
    wrong = "atl-SECRET-wrong-token"
    email = EMAIL if sim.mode == "cloud" else None
    project = write_jira_project(tmp_path, database_url=url, jira_url=sim.url, token=wrong, email=email)

    report = cycle(project, clock, Sleeper(clock))

    error = report.failed[0].error or ""
    assert "answered 401" in error and "check the source's email and token" in error
    assert wrong not in error and "Authorization" not in error


def test_an_unreachable_site_is_a_source_error(sim: JiraSim, tmp_path: Path, clock: FakeClock) -> None:
    project = make_project(sim, tmp_path)
    sim.stop()

    report = cycle(project, clock, Sleeper(clock))

    error = report.failed[0].error or ""
    assert error.startswith("source 'jira': connecting to") and "connection refused" in error


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("2", 2.0),
        (" 0 ", 0.0),
        ("1.5", 1.5),
        ("Sun, 22 Nov 2026 10:00:30 GMT", 30.0),
        ("Sun, 22 Nov 2026 09:59:00 GMT", 0.0),  # already past
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value, now=START) == seconds
