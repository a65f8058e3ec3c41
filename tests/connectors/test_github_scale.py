"""GitHub at org scale: what a poll costs in requests, rate limit and statements, and its plans.

Guards, not timings (speed is measured in benchmarks/): the number of requests a change
costs, the rate-limit points of quiet polls, the number of SQL statements of the deleted-issue
check, and that the count query walks indexes on both engines.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select, text

from connectors.records import IssueRecord
from okrsync.bulk import Bulk
from okrsync.engine import poll_source, run_cycle
from okrsync.ingest import IssueWriter, StoredIssues, milestone_counts_sql
from okrsync.sandbox.github import GitHubSim
from okrsync.sandbox.http import Fault
from okrsync.sources import make_poller
from okrsync.store import IssueMilestone, SourceState, TrackerIssue, open_store, session
from tests.helpers import FakeClock, Project, write_project

TOKEN = "ghp_scaletoken_0123456789abcdef"
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


def seed(
    sim: GitHubSim, clock: FakeClock, *, issues: int, milestones: int = 1, repo: str = "acme/web"
) -> None:
    numbers = [sim.add_milestone(repo, "Onboarding v2" if m == 0 else f"M{m}") for m in range(milestones)]
    for index in range(issues):
        clock.tick(10)  # spread past the overlap window (300 s)
        sim.add_issue(repo, f"Task {index}", milestone=numbers[index % milestones])


def cycle(project: Project, clock: FakeClock) -> Any:
    return run_cycle(project.settings, project.okrs, project.engine, now=clock())


def issue_pages(sim: GitHubSim, repo: str = "acme/web") -> list[Any]:
    """The issue-list requests of the log (later pages are /repositories/{id}/issues)."""
    return [r for r in sim.log() if r.path.endswith("/issues") and "milestone" not in r.query]


def fetchers() -> list[Any]:
    """The poller's fetchers still alive: child processes, or threads where fork is missing
    (the simulator's own threads are not counted)."""
    threads = [t for t in threading.enumerate() if t.name.startswith("okrsync-github")]
    return threads + [p for p in multiprocessing.active_children() if p.name.startswith("okrsync-github")]


def stored_keys(project: Project) -> set[str]:
    with session(project.engine) as db:
        return {row[0] for row in db.execute(select(TrackerIssue.key))}


# --- rate limit and requests -------------------------------------------------------------------


def test_the_first_quiet_poll_after_a_change_costs_no_rate_limit(
    sim: GitHubSim, tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    seed(sim, clock, issues=5)
    project = write_project(tmp_path, database_url=database_url, github_url=sim.url, token=TOKEN)
    assert not cycle(project, clock).failed
    clock.tick(600)
    sim.update_issue("acme/web", 2, title="Renamed")
    assert cycle(project, clock).sources[0].changed == 1
    remaining = sim.rate_remaining("okrsync")
    sim.clear_log()
    clock.tick(600)

    report = cycle(project, clock)

    assert not report.failed
    assert report.sources[0].changed == 0
    assert sim.log() and all(r.status == 304 for r in sim.log()), [(r.path, r.status) for r in sim.log()]
    assert sim.rate_remaining("okrsync") == remaining


def test_a_change_costs_one_page_however_long_the_repos_list(
    sim: GitHubSim, tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    seed(sim, clock, issues=250)
    project = write_project(tmp_path, database_url=database_url, github_url=sim.url, token=TOKEN)
    sim.clear_log()
    assert not cycle(project, clock).failed
    assert len(issue_pages(sim)) == 3  # 250 issues, 100 a page
    clock.tick(600)
    sim.update_issue("acme/web", 7, title="Edited")
    sim.clear_log()

    report = cycle(project, clock)

    assert report.sources[0].changed == 1
    assert [r.status for r in issue_pages(sim)] == [200]  # page 1 reaches below the cursor: stop
    assert len(stored_keys(project)) == 250


def test_a_burst_of_changes_pages_on_and_then_moves_since_up(
    sim: GitHubSim, tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    seed(sim, clock, issues=250)
    project = write_project(tmp_path, database_url=database_url, github_url=sim.url, token=TOKEN)
    assert not cycle(project, clock).failed
    clock.tick(600)
    for number in range(1, 151):
        clock.tick(1)
        sim.update_issue("acme/web", number, title=f"Burst {number}")
    clock.tick(600)
    sim.clear_log()

    report = cycle(project, clock)

    assert report.sources[0].changed == 150  # every change seen exactly once
    assert len(issue_pages(sim)) == 2
    assert "since" not in issue_pages(sim)[0].query  # the pinned list of the first sync
    clock.tick(600)
    sim.clear_log()
    assert cycle(project, clock).sources[0].changed == 0
    first = issue_pages(sim)[0]
    assert "since" in first.query  # a burst moved the pinned `since` up to the cursor
    with session(project.engine) as db:
        state = db.get(SourceState, "github")
        assert state is not None
        since = state.cursor["repos"]["acme/web"]["since"]
    assert since < state.cursor["repos"]["acme/web"]["high_water"]


# --- fetching ahead on threads -----------------------------------------------------------------


@pytest.mark.parametrize("concurrency", [1, 4])
def test_fetching_repos_ahead_stores_what_a_serial_poll_stores(
    sim: GitHubSim, tmp_path: Path, database_url: str, clock: FakeClock, concurrency: int
) -> None:
    for repo in ("acme/api", "acme/ops", "acme/www"):
        sim.add_repo(repo)
        seed(sim, clock, issues=120, repo=repo)
    seed(sim, clock, issues=30)
    project = write_project(
        tmp_path,
        database_url=database_url,
        github_url=sim.url,
        token=TOKEN,
        repos=("acme/web", "acme/api", "acme/ops", "acme/www"),
        extra=f"concurrency = {concurrency}",
    )

    report = cycle(project, clock)

    assert not report.failed
    assert report.sources[0].issues == 3 * 120 + 30
    assert len(stored_keys(project)) == 3 * 120 + 30
    with session(project.engine) as db:
        memberships = db.execute(select(IssueMilestone)).all()
        repos = db.get(SourceState, "github").cursor["repos"]  # type: ignore[union-attr]
    assert len(memberships) == 3 * 120 + 30
    assert sorted(repos) == ["acme/api", "acme/ops", "acme/web", "acme/www"]
    assert all(state["high_water"] and state["issues_etag"]["etag"] for state in repos.values())
    assert report.sources[0].requests == len(sim.log())


def test_a_failure_on_a_fetched_ahead_repo_fails_the_source_and_stops_its_threads(
    sim: GitHubSim, tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    for repo in ("acme/api", "acme/ops", "acme/www"):
        sim.add_repo(repo)
        seed(sim, clock, issues=150, repo=repo)
    project = write_project(
        tmp_path,
        database_url=database_url,
        github_url=sim.url,
        token=TOKEN,
        repos=("acme/web", "acme/api", "acme/ops", "acme/www"),
        extra="concurrency = 3",
    )
    sim.inject(Fault(status=500, path="/repos/acme/www/milestones", body={"message": "Server Error"}))

    report = cycle(project, clock)

    assert report.failed and "github" in (report.failed[0].error or "") + report.failed[0].name
    assert stored_keys(project) == set()  # nothing of the failed poll was committed
    with session(project.engine) as db:
        state = db.get(SourceState, "github")
    assert state is not None and state.cursor == {} and state.last_error
    for _ in range(100):
        if not fetchers():
            break
        threading.Event().wait(0.1)
    assert not fetchers()


# --- statements and plans -----------------------------------------------------------------------


def test_the_deleted_issue_check_runs_as_many_statements_for_2_as_for_12_milestones(
    tmp_path: Path, clock: FakeClock
) -> None:
    selects = []
    for milestones in (2, 12):
        simulator = GitHubSim(tokens={TOKEN: "okrsync"}, clock=clock)
        simulator.add_repo("acme/web")
        seed(simulator, clock, issues=3 * milestones, milestones=milestones)
        simulator.start()
        try:
            folder = tmp_path / str(milestones)
            url = f"sqlite:///{folder / 'okrsync.db'}"
            project = write_project(folder, database_url=url, github_url=simulator.url, token=TOKEN)
            assert not cycle(project, clock).failed
            clock.tick(600)
            simulator.delete_issue("acme/web", 1)  # only the milestone counts show it
            statements: list[str] = []
            project.engine.dispose()
            event.listen(project.engine, "connect", partial(_trace_into, statements))
            source = project.settings.sources["github"]
            outcome = poll_source(
                make_poller(source, project.okrs),
                project.engine,
                kind="github",
                now=clock(),
                settings=project.settings,
            )
            assert outcome.ok and outcome.removed == 1
            assert "acme/web#1" not in stored_keys(project)
            selects.append(sum(1 for s in statements if s.lstrip().upper().startswith("SELECT")))
        finally:
            simulator.stop()
    assert selects[0] == selects[1], selects


def _trace_into(statements: list[str], connection: Any, _record: Any) -> None:
    connection.set_trace_callback(statements.append)


def _records(repos: int, per_repo: int) -> list[IssueRecord]:
    moment = datetime(2026, 11, 1, tzinfo=UTC)
    return [
        IssueRecord(
            key=f"acme/r{r}#{n}",
            container=f"acme/r{r}",
            number=n,
            title=f"Issue {n}",
            status="done" if n % 3 == 0 else "open",
            updated_at=moment + timedelta(seconds=n),
            milestone_keys=(f"acme/r{r}#{n % 10}",),
        )
        for r in range(repos)
        for n in range(per_repo)
    ]


def test_the_milestone_count_query_walks_indexes_on_both_engines(database_url: str) -> None:
    engine = open_store(database_url)
    with session(engine) as db:
        IssueWriter(db, "github", label_prefix="kr:").save(_records(40, 200))
        db.commit()
        if db.get_bind().dialect.name == "postgresql":
            db.execute(text("ANALYZE issue"))
            db.execute(text("ANALYZE issue_milestone"))
        known = StoredIssues(db, "github")
        keys = [f"acme/r3#{m}" for m in range(10)] + ["acme/r3#99"]
        for _ in range(7):  # past psycopg's prepare threshold (5)
            counts = known.milestone_counts("acme/r3", keys)
        # 200 issues over 10 milestones, done when n % 3 == 0: #0 holds n = 0, 10, …, 190, of
        # which 0, 30, …, 180 are done (7); #1 holds 1, 11, …, 191 (21, 51, …, 171 done: 6).
        assert counts["acme/r3#0"] == (13, 7)
        assert counts["acme/r3#1"] == (14, 6)
        assert counts["acme/r3#2"] == (13, 7)
        assert counts["acme/r3#99"] == (0, 0)
        bulk = Bulk(db)
        sql = milestone_counts_sql(bulk, len(keys))
        prefix = "EXPLAIN QUERY PLAN " if bulk.sqlite else "EXPLAIN "
        plan = "\n".join(str(row[-1]) for row in bulk.execute(prefix + sql, ("github", *keys, "acme/r3")))
    if bulk.sqlite:
        assert "USING INDEX ix_issue_milestone_milestone (source=? AND milestone_key=?)" in plan, plan
        assert "SEARCH i USING INDEX sqlite_autoindex_issue_1 (source=? AND key=?)" in plan, plan
        assert "SCAN" not in plan, plan
    else:
        assert "ix_issue_milestone_milestone" in plan, plan
        assert "ix_issue_container" in plan or "issue_pkey" in plan, plan
        assert "Seq Scan" not in plan, plan
