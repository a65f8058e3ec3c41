"""The roll-up read from the store: per-milestone aggregates in SQL, on SQLite and PostgreSQL.

The aggregated roll-up must give exactly the numbers the per-issue one gives (the same store,
every issue loaded as `IssueFacts`, grouped in Python), use the membership index, and build
as many objects for 10 issues a milestone as for 100.
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from sqlalchemy import Engine, event, insert, select, text
from sqlmodel import Session, col

from okrsync.alerts import MAX_OPEN_ISSUES
from okrsync.channels import Alert
from okrsync.channels.text import describe
from okrsync.engine import run_cycle
from okrsync.progress import compute, issue_groups, open_issues
from okrsync.rollup import IssueFacts, KrProgress, MilestoneProgress, Rollup, RollupInputs, roll_up
from okrsync.sandbox.github import GitHubSim
from okrsync.store import Event, IssueMilestone, TrackerIssue, TrackerMilestone, open_store, session
from tests.helpers import FakeClock, Project, write_project

TOKEN = "ghp_progress_token"
CREATED = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # the sync; the roll-up below is for TODAY
TODAY = date(2026, 11, 20)  # burn-up window: UTC dates 2026-11-07 .. 2026-11-20

# Done instants around the window's edges (the per-issue rule reads the UTC date).
DONE_AT = [
    datetime(2026, 11, 7, 0, 0, tzinfo=UTC),  # first instant inside
    datetime(2026, 11, 6, 23, 59, 59, tzinfo=UTC),  # last instant before
    datetime(2026, 11, 20, 23, 59, 59, tzinfo=UTC),  # last instant of today: inside
    datetime(2026, 11, 21, 0, 0, tzinfo=UTC),  # after today: outside
    datetime(2026, 11, 15, 12, 0, tzinfo=UTC),  # inside
    datetime(2026, 10, 2, 12, 0, tzinfo=UTC),  # long ago
    datetime(2026, 11, 7, 0, 30, tzinfo=ZoneInfo("Europe/Berlin")),  # 11-06 23:30 UTC: before
]
POINTS = [None, 1, 2, 3, 5, 8, None, 13, 0.5]


def seed_varied(sim: GitHubSim, repo: str, milestone: int, count: int, *, offset: int = 0) -> None:
    """Add `count` issues mixing open/done/excluded, pull requests, estimates and done instants."""
    for n in range(offset, offset + count):
        points = POINTS[n % len(POINTS)]
        labels = [] if points is None else [f"points:{points:g}"]
        number = sim.add_issue(
            repo,
            f"Issue {n}",
            milestone=milestone,
            labels=labels,
            assignee=f"dev{n % 3}",
            pull_request=n % 4 == 3,
        )
        kind = n % 5
        if kind in (1, 2, 3):  # done, three times in five
            sim.close_issue(repo, number, at=DONE_AT[n % len(DONE_AT)])
        elif kind == 4:  # excluded
            sim.close_issue(repo, number, reason="not_planned", at=DONE_AT[n % len(DONE_AT)])


MAPPING = """
[cycle]
id = "2026-Q4"
start = 2026-10-01
end = 2026-12-31

[[objective]]
id = "ENG-1"
title = "Ship the platform"
owner = "bob"

[[objective.key_result]]
id = "ENG-1.1"
title = "Counted by issues"
owner = "bob"
kind = "milestones"
baseline = 0
target = 100
unit = "%"

[[objective.key_result.link]]
source = "github"
repo = "acme/web"
milestone = "Onboarding v2"

[[objective.key_result.link]]
source = "github"
repo = "acme/web"
milestone = "Billing"
weight = 2

[[objective.key_result.link]]
source = "ghe"
repo = "acme/web"
milestone = "Onboarding v2"

[[objective.key_result.link]]
source = "github"
repo = "acme/web"
milestone = "Renamed away"

[[objective.key_result]]
id = "ENG-1.2"
title = "Weighed by points"
owner = "bob"
kind = "milestones"
baseline = 0
target = 100
unit = "%"
weighting = "points"

[[objective.key_result.link]]
source = "github"
repo = "acme/web"
milestone = "Onboarding v2"

[[objective.key_result.link]]
source = "ghe"
repo = "acme/web"
milestone = "Billing"

[[objective.key_result.link]]
source = "github"
repo = "acme/web"
milestone = "Shipped"
"""

# The same repo through two sources: one counts pull requests, the other leaves them out, and
# both store a milestone `acme/web#1`, which the aggregate must keep apart by source.
SECOND_SOURCE = f"""include_pull_requests = true

[sources.ghe]
kind = "github"
token = "{TOKEN}"
repos = ["acme/web"]
"""


@pytest.fixture
def varied(tmp_path: Path, database_url: str) -> Iterator[Project]:
    """Sync a varied org into the store through the simulator and the real PyGithub client."""
    clock = FakeClock(CREATED)
    sim = GitHubSim(tokens={TOKEN: "okrsync"}, clock=clock)
    sim.add_repo("acme/web")
    onboarding = sim.add_milestone("acme/web", "Onboarding v2", due_on=datetime(2026, 11, 30, 8, tzinfo=UTC))
    billing = sim.add_milestone("acme/web", "Billing", due_on=datetime(2026, 12, 15, 8, tzinfo=UTC))
    shipped = sim.add_milestone("acme/web", "Shipped", due_on=datetime(2026, 10, 30, 8, tzinfo=UTC))
    sim.close_milestone("acme/web", shipped, at=CREATED)  # closed and empty: complete
    seed_varied(sim, "acme/web", onboarding, 63)
    seed_varied(sim, "acme/web", billing, 29, offset=1)
    for n in range(4):  # direct work of ENG-1.2 through labels, with estimates
        number = sim.add_issue("acme/web", f"Direct {n}", labels=["kr:ENG-1.2", f"points:{n + 1}"])
        if n % 2:
            sim.close_issue("acme/web", number, at=DONE_AT[n])
    sim.start()
    try:
        project = write_project(
            tmp_path,
            database_url=database_url,
            github_url=sim.url,
            token=TOKEN,
            mapping=MAPPING,
            extra=SECOND_SOURCE.replace("[sources.ghe]", f'[sources.ghe]\nbase_url = "{sim.url}"'),
        )
        clock.now = NOW
        report = run_cycle(project.settings, project.okrs, project.engine, now=NOW, deliver=False)
        assert [s.ok for s in report.sources] == [True, True], report.sources
        yield project
    finally:
        sim.stop()


def per_issue(db: Session, inputs: RollupInputs) -> RollupInputs:
    """The same milestones with every issue loaded, as the roll-up read them before aggregates."""
    issues: dict[tuple[str, str], list[IssueFacts]] = defaultdict(list)
    rows = db.execute(
        select(col(IssueMilestone.source), col(IssueMilestone.milestone_key), TrackerIssue).join(
            TrackerIssue,
            (col(TrackerIssue.source) == col(IssueMilestone.source))
            & (col(TrackerIssue.key) == col(IssueMilestone.issue_key)),
        )
    )
    for source, key, i in rows:
        issues[(source, key)].append(
            IssueFacts(i.key, i.title, i.status, i.url, i.assignee, i.points, i.done_at, i.is_pull_request)
        )
    milestones = {
        kr_id: [
            (
                m
                if m.groups is None
                else dataclasses.replace(m, groups=None, issues=tuple(issues[(m.source, m.key)])),
                w,
            )
            for m, w in pairs
        ]
        for kr_id, pairs in inputs.milestones.items()
    }
    return dataclasses.replace(inputs, milestones=milestones)


def numbers(m: MilestoneProgress) -> MilestoneProgress:
    """Everything a roll-up computes for a milestone, without the detail-only issue list."""
    return dataclasses.replace(m, open_issues=())


def milestones_of(rollup: Rollup) -> list[MilestoneProgress]:
    return [m for kr in rollup.key_results.values() for m in kr.milestones]


def krs(rollup: Rollup) -> dict[str, KrProgress]:
    return {
        kr_id: dataclasses.replace(kr, milestones=tuple(numbers(m) for m in kr.milestones))
        for kr_id, kr in rollup.key_results.items()
    }


# A day either side moves the window across the edge instants of DONE_AT.
@pytest.mark.parametrize("today", [TODAY - timedelta(days=1), TODAY, TODAY + timedelta(days=1)])
def test_aggregated_rollup_gives_exactly_the_per_issue_numbers(varied: Project, today: date) -> None:
    with session(varied.engine) as db:
        aggregated, gathered = compute(db, varied.okrs, varied.settings, today=today)
        by_issue = roll_up(varied.okrs, per_issue(db, gathered.inputs), today=today)

    assert [numbers(m) for m in milestones_of(aggregated)] == [numbers(m) for m in milestones_of(by_issue)]
    assert krs(aggregated) == krs(by_issue)
    assert aggregated.objectives == by_issue.objectives

    # The data set reaches every rule the aggregate has to reproduce.
    ms = {(m.source, m.key, m.implicit, m.missing): m for m in milestones_of(aggregated)}
    github_1, ghe_1 = ms[("github", "acme/web#1", False, False)], ms[("ghe", "acme/web#1", False, False)]
    assert github_1.total > ghe_1.total  # pull requests counted by one source only
    assert any(m.unestimated and m.total_weight != m.total for m in ms.values())  # median weights
    assert any(m.excluded for m in ms.values())
    assert any(m.forecast is not None for m in ms.values())  # done inside the window
    assert any(m.implicit and m.done and m.total > m.done for m in ms.values())  # kr: labels
    assert any(m.missing for m in ms.values()) and any(m.empty and m.progress == 1 for m in ms.values())
    assert all(m.open_count == m.total - m.done for m in ms.values())


def test_open_issues_are_listed_only_for_the_krs_asked_in_detail(varied: Project) -> None:
    with session(varied.engine) as db:
        plain, gathered = compute(db, varied.okrs, varied.settings, today=TODAY)
        detailed, _ = compute(db, varied.okrs, varied.settings, today=TODAY, detail={"ENG-1.1"})
        by_issue = roll_up(varied.okrs, per_issue(db, gathered.inputs), today=TODAY)

    assert all(m.open_issues == () for m in milestones_of(plain) if not m.implicit)
    assert any(m.open_count for m in milestones_of(plain))
    for got, want in zip(
        detailed.key_results["ENG-1.1"].milestones, by_issue.key_results["ENG-1.1"].milestones, strict=True
    ):
        assert sorted(i.key for i in got.open_issues) == sorted(i.key for i in want.open_issues)
        assert len(got.open_issues) == got.open_count
    # A milestone of ENG-1.2 lists its issues only when ENG-1.1 shares it.
    shared = {(m.source, m.key) for m in detailed.key_results["ENG-1.1"].milestones}
    assert [bool(m.open_issues) for m in detailed.key_results["ENG-1.2"].milestones if not m.implicit] == [
        (m.source, m.key) in shared and m.open_count > 0
        for m in detailed.key_results["ENG-1.2"].milestones
        if not m.implicit
    ]


# --- objects built do not grow with the number of issues --------------------------------------


def test_the_aggregate_builds_as_many_objects_for_ten_times_the_issues(
    tmp_path: Path, database_url: str
) -> None:
    clock = FakeClock(CREATED)
    sim = GitHubSim(tokens={TOKEN: "okrsync"}, clock=clock)
    sim.add_repo("acme/web")  # the project's label repo
    sizes = {"acme/small": 10, "acme/large": 100}
    keys: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for repo, per_milestone in sizes.items():
        sim.add_repo(repo)
        for m in range(3):
            number = sim.add_milestone(repo, f"M{m}", due_on=datetime(2026, 12, 1, 8, tzinfo=UTC))
            keys[repo].add(("github", f"{repo}#{number}"))
            # Period 10: both sizes hold the same kinds of issue, the large one ten of each.
            for n in range(per_milestone):
                seed_varied(sim, repo, number, 1, offset=n % 10)
    mapping = "\n".join(
        [MAPPING.split("[[objective.key_result]]")[0]]
        + [
            f'[[objective.key_result]]\nid = "ENG-1.{k}"\ntitle = "{repo}"\nowner = "bob"\nkind = "milestones"\n'
            'weighting = "points"\n'
            + "".join(
                f'[[objective.key_result.link]]\nsource = "github"\nrepo = "{repo}"\nmilestone = "M{m}"\n'
                for m in range(3)
            )
            for k, repo in enumerate(sizes, start=1)
        ]
    )
    sim.start()
    try:
        project = write_project(
            tmp_path, database_url=database_url, github_url=sim.url, token=TOKEN, mapping=mapping
        )
        clock.now = NOW
        report = run_cycle(project.settings, project.okrs, project.engine, now=NOW, deliver=False)
        assert [s.ok for s in report.sources] == [True], report.sources
    finally:
        sim.stop()

    with session(project.engine) as db:
        small = issue_groups(db, keys["acme/small"], today=TODAY)
        large = issue_groups(db, keys["acme/large"], today=TODAY)
        _, gathered = compute(db, project.okrs, project.settings, today=TODAY)

    assert sum(g.count for groups in small.values() for g in groups) == 30
    assert sum(g.count for groups in large.values() for g in groups) == 300
    assert sum(map(len, small.values())) == sum(map(len, large.values())) > 3  # rows fetched
    built = {
        kr_id: (sum(len(m.groups or ()) for m, _ in pairs), sum(len(m.issues) for m, _ in pairs))
        for kr_id, pairs in gathered.inputs.milestones.items()
    }
    assert built["ENG-1.1"] == built["ENG-1.2"]  # the same groups, and no issue loaded
    assert built["ENG-1.1"][1] == 0


# --- the queries use the membership index --------------------------------------------------------


def seed_many(engine: Engine, *, milestones: int, per_milestone: int) -> list[str]:
    """Write many small milestones straight into the store, for the planner to choose an index."""
    keys = [f"acme/web#{m}" for m in range(1, milestones + 1)]
    issues, members = [], []
    for m, key in enumerate(keys):
        for n in range(per_milestone):
            issue_key = f"acme/web#{1000 + m * per_milestone + n}"
            done = n % 2 == 0
            issues.append(
                {
                    "source": "github",
                    "key": issue_key,
                    "container": "acme/web",
                    "number": 1000 + m * per_milestone + n,
                    "title": f"Issue {n}",
                    "status": "done" if done else "open",
                    "is_pull_request": n % 5 == 0,
                    "is_subtask": False,
                    "labels": [],
                    "kr_ids": [],
                    "has_kr_label": False,
                    "points": float(n % 3) if n % 4 else None,
                    "done_at": DONE_AT[n % len(DONE_AT)] if done else None,
                }
            )
            members.append({"source": "github", "issue_key": issue_key, "milestone_key": key})
    with engine.begin() as connection:
        connection.execute(
            insert(TrackerMilestone),
            [
                {"source": "github", "key": key, "kind": "github_milestone", "container": "acme/web"}
                | {"number": m + 1, "title": key, "state": "open", "labels": []}
                for m, key in enumerate(keys)
            ],
        )
        connection.execute(insert(TrackerIssue), issues)
        connection.execute(insert(IssueMilestone), members)
        if engine.dialect.name == "postgresql":
            connection.execute(text("ANALYZE"))
    return keys


def captured(engine: Engine, run: Any) -> list[tuple[str, Any]]:
    """Run `run()` and return the (statement, parameters) the engine sent to the database."""
    seen: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    return seen


QUERIES = {
    "issue_groups": lambda db, wanted: issue_groups(db, wanted, today=TODAY),
    "open_issues": lambda db, wanted: open_issues(
        db, wanted, include_pull_requests={}, limit=MAX_OPEN_ISSUES
    ),
}


@pytest.mark.parametrize("query", QUERIES)
def test_the_aggregate_and_open_issue_queries_seek_the_membership_index(
    database_url: str, query: str
) -> None:
    engine = open_store(database_url)
    # 20,000 issues, 2 milestones wanted: the proportion where a seek beats a scan.
    keys = seed_many(engine, milestones=1000, per_milestone=20)
    wanted = {("github", key) for key in keys[:2]}
    with session(engine) as db:
        found = QUERIES[query](db, wanted)
        assert len(found) == 2  # the query answers, before its plan is looked at
        if engine.dialect.name == "sqlite":
            [(statement, parameters)] = captured(engine, lambda: QUERIES[query](db, wanted))
            plan = [
                row[-1]
                for row in db.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            ]
            assert "SEARCH im USING INDEX ix_issue_milestone_milestone (source=? AND milestone_key=?)" in plan
            assert "SEARCH i USING INDEX sqlite_autoindex_issue_1 (source=? AND key=?)" in plan
            return
        plan = postgresql_plan(db, engine, lambda: QUERIES[query](db, wanted))
    assert "ix_issue_milestone_milestone" in plan and "issue_pkey" in plan, plan
    assert "Seq Scan" not in plan, plan


def postgresql_plan(db: Session, engine: Engine, run: Any) -> str:
    """Return the plan PostgreSQL uses for the statement `run` sends, once psycopg prepared it.

    psycopg prepares a statement on the server once it has run it 5 times (its
    `prepare_threshold`); PostgreSQL plans the first 5 executions of a prepared statement with
    the actual parameters and may then switch to a generic plan, made for an array of unknown
    length (here: a hash join over all of `issue` for 2 milestones). okrsync's connections forbid
    that (`plan_cache_mode = force_custom_plan`, see `store.make_engine`), so after 7 more runs
    the plan is explained under the session's own setting.
    """
    [(statement, parameters)] = [(s, p) for s, p in captured(engine, run) if "issue_milestone AS im" in s]
    for _ in range(7):
        run()
    prepared = db.execute(text("SELECT name, statement FROM pg_prepared_statements")).all()
    name = next(n for n, s in prepared if "issue_milestone AS im" in s and "$1" in s)
    assert db.execute(text("SHOW plan_cache_mode")).scalar() == "force_custom_plan"
    # psycopg numbers the named placeholders in the order they first appear.
    order = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", statement)))
    raw = db.connection().connection.dbapi_connection
    with psycopg.ClientCursor(raw) as cursor:  # type: ignore[arg-type]
        cursor.execute(
            f"EXPLAIN EXECUTE {name}({', '.join(['%s'] * len(order))})", [parameters[p] for p in order]
        )
        return "\n".join(row[0] for row in cursor.fetchall())


# --- alerts list the first open issues and count them all -----------------------------------------

ALERT_MAPPING = MAPPING.split("[[objective.key_result.link]]")[0] + "".join(
    f'[[objective.key_result.link]]\nsource = "github"\nrepo = "acme/web"\nmilestone = "{title}"\n'
    for title in ("Onboarding v2", "Small")
)


def test_an_alert_lists_the_first_open_issues_by_number_and_counts_every_one(
    tmp_path: Path, database_url: str
) -> None:
    clock = FakeClock(CREATED)
    sim = GitHubSim(tokens={TOKEN: "okrsync"}, clock=clock)
    sim.add_repo("acme/web")
    due = datetime(2026, 11, 20, 8, tzinfo=UTC)
    big = sim.add_milestone("acme/web", "Onboarding v2", due_on=due)
    small = sim.add_milestone("acme/web", "Small", due_on=due)
    for n in range(3):
        sim.close_issue("acme/web", sim.add_issue("acme/web", f"Done {n}", milestone=big), at=CREATED)
    sim.close_issue("acme/web", sim.add_issue("acme/web", "Dropped", milestone=big), reason="not_planned")
    sim.add_issue("acme/web", "A pull request", milestone=big, pull_request=True)  # left out
    open_big = [sim.add_issue("acme/web", f"Open {n}", milestone=big, assignee="carol") for n in range(60)]
    open_small = [
        sim.add_issue("acme/web", f"Small {n}", milestone=small, assignee="frank") for n in range(2)
    ]
    sim.close_issue("acme/web", sim.add_issue("acme/web", "Small done", milestone=small), at=CREATED)
    sim.start()
    try:
        project = write_project(
            tmp_path, database_url=database_url, github_url=sim.url, token=TOKEN, mapping=ALERT_MAPPING
        )
        clock.now = NOW
        run_cycle(project.settings, project.okrs, project.engine, now=NOW, deliver=False)
    finally:
        sim.stop()

    with session(project.engine) as db:
        payloads = {
            e.payload["milestone"]["title"]: e.payload
            for e in db.execute(select(Event).where(col(Event.type) == "milestone.overdue")).scalars()
        }
    big_payload = payloads["Onboarding v2"]["milestone"]
    assert big_payload["open_count"] == 60
    assert [i["key"] for i in big_payload["open_issues"]] == [
        f"acme/web#{n}" for n in open_big[:MAX_OPEN_ISSUES]
    ]
    assert payloads["Onboarding v2"]["text"].startswith("Onboarding v2 (acme/web) was due 20 Nov")
    assert "60 of 63 issues open" in payloads["Onboarding v2"]["text"]
    words = describe(Alert("e", "milestone.overdue", payloads["Onboarding v2"], recipient=None))
    assert words.open_issues == 60 and words.more_issues == 60 - len(words.issues)

    small_payload = payloads["Small"]["milestone"]
    assert [(i["key"], i["assignee"]) for i in small_payload["open_issues"]] == [
        (f"acme/web#{n}", "frank") for n in open_small
    ]
    assert small_payload["open_count"] == 2
