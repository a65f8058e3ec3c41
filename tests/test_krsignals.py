"""kr.stale and kr.confidence_drop: pure rule tables, the compact history, and simulated weeks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from okrsync import checkins, history
from okrsync.checkins import CheckinRecord
from okrsync.engine import run_cycle
from okrsync.krsignals import confidence_drops, stale
from okrsync.okrs import Cycle, KeyResult, Objective, OkrSet
from okrsync.rollup import KrProgress, MilestoneProgress, Rollup
from okrsync.sandbox.github import GitHubSim
from okrsync.store import Event, ProgressPoint, session
from tests.helpers import FakeClock, Project, onboarding_sim, write_project

TOKEN = "ghp_signals_token"
START = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)  # a Monday, early in the quarter
TODAY = date(2026, 11, 20)

# --- kr.confidence_drop, pure -----------------------------------------------------------------


def _checkins(*entries: tuple[int, int]) -> list[CheckinRecord]:
    """Check-ins from (days before TODAY, confidence) pairs, ids in time order."""
    return [
        CheckinRecord(
            id=index + 1,
            kr_id="K",
            at=datetime.combine(TODAY - timedelta(days=ago), datetime.min.time(), tzinfo=UTC),
            day=TODAY - timedelta(days=ago),
            confidence=confidence,
        )
        for index, (ago, confidence) in enumerate(entries)
    ]


@pytest.mark.parametrize(
    ("entries", "raised"),
    [
        pytest.param([(7, 7), (0, 4)], [2], id="7 then 4 within a week"),
        pytest.param([(14, 7), (0, 4)], [2], id="7 then 4 exactly 14 days apart"),
        pytest.param([(15, 7), (0, 4)], [], id="7 then 4 more than 14 days apart"),
        pytest.param([(7, 7), (0, 5)], [], id="a fall of 2 is below the threshold"),
        pytest.param([(10, 7), (5, 6), (0, 4)], [3], id="a slow slide within the window"),
        pytest.param([(10, 7), (5, 4), (0, 3)], [2], id="a slide that continues is one signal"),
        pytest.param([(10, 7), (5, 4), (0, 1)], [2, 3], id="a second full fall is a second signal"),
        pytest.param([(10, 7), (5, 4), (0, 4)], [2], id="holding low does not raise again"),
        pytest.param([(30, 7), (20, 3)], [], id="a drop older than 14 days is not raised now"),
        pytest.param([(0, 4)], [], id="a first check-in has nothing to fall from"),
        pytest.param([(7, 4), (0, 7)], [], id="a rise is not a drop"),
    ],
)
def test_confidence_drop_rule(entries: list[tuple[int, int]], raised: list[int]) -> None:
    signals = confidence_drops({"K": _checkins(*entries)}, today=TODAY, drop=3)
    assert [s.checkin.id for s in signals if s.checkin] == raised
    for s in signals:
        assert s.dedupe_key == f"kr.confidence_drop|K|{s.checkin.id if s.checkin else ''}"
        assert s.before is not None and s.before.confidence - (s.checkin.confidence if s.checkin else 0) >= 3


# --- kr.stale, pure ---------------------------------------------------------------------------


def _okrs(start: date = date(2026, 10, 1), end: date = date(2026, 12, 31)) -> OkrSet:
    kr = KeyResult(id="K", title="A KR", owner="bob", objective_id="O")
    objective = Objective(id="O", title="An objective", owner="bob", cycle_id="C", key_results=(kr,))
    return OkrSet(cycles={"C": Cycle("C", start, end)}, objectives={"O": objective})


def _rollup(progress: float) -> Rollup:
    kr = KrProgress("K", progress, round(progress, 2), "on_track", 0.5, None, None, milestones=())
    return Rollup(objectives={}, key_results={"K": kr}, today=TODAY)


@pytest.mark.parametrize(
    ("unchanged_days", "progress", "judged", "cycle", "raised"),
    [
        (21, 0.3, True, None, True),
        (30, 0.3, True, None, True),
        (20, 0.3, True, None, False),
        (21, 1.0, True, None, False),  # done: nothing left to move
        (21, 0.3, False, None, False),  # a source feeding it failed this cycle
        (21, 0.3, True, "later", False),  # its cycle has not started
        (21, 0.3, True, "ended", False),
    ],
)
def test_stale_rule(
    unchanged_days: int, progress: float, judged: bool, cycle: str | None, raised: bool
) -> None:
    okrs = {
        None: _okrs(),
        "later": _okrs(date(2026, 12, 1), date(2026, 12, 31)),
        "ended": _okrs(date(2026, 7, 1), date(2026, 9, 30)),
    }[cycle]
    since = TODAY - timedelta(days=unchanged_days)
    signals = stale(
        _rollup(progress), okrs, {"K": since}, today=TODAY, after_days=21, judged={"K"} if judged else set()
    )
    assert bool(signals) is raised
    if raised:
        assert signals[0].dedupe_key == f"kr.stale|K|{since.isoformat()}"
        assert signals[0].onset == since + timedelta(days=21)


# --- the compact history ----------------------------------------------------------------------


def _one_milestone_rollup(progress: float, done: int, total: int, today: date) -> Rollup:
    m = MilestoneProgress(
        source="github",
        key="acme/web#1",
        title="Onboarding v2",
        url=None,
        due=None,
        state="open",
        progress=progress,
        done=done,
        total=total,
        excluded=0,
        done_weight=done,
        total_weight=total,
        unestimated=0,
        empty=False,
        missing=False,
        forecast=None,
        stalled=False,
        overdue=False,
        status="on_track",
        open_issues=(),
    )
    kr = KrProgress("K", progress, round(progress, 2), "on_track", 0.5, None, None, milestones=(m,))
    return Rollup(objectives={}, key_results={"K": kr}, today=today)


def test_history_keeps_one_row_per_subject_per_day_it_moved(database_url: str, tmp_path: Path) -> None:
    from okrsync.store import open_store

    engine = open_store(database_url)
    day1, day2 = date(2026, 11, 2), date(2026, 11, 3)
    at = datetime(2026, 11, 2, 9, tzinfo=UTC)
    steps = [
        (day1, 0.5, 1, 2),  # first sight: a row each for KR and milestone
        (day1, 0.5, 1, 2),  # unchanged: nothing
        (day1, 0.5, 1, 2),
        (day2, 0.75, 3, 4),  # moved: a row each
        (day2, 0.5, 2, 4),  # moved again the same day: that day's rows updated (milestone), kr back
    ]
    for day, progress, done, total in steps:
        with session(engine) as db:
            history.snapshot(db, _one_milestone_rollup(progress, done, total, day), now=at, today=day)
            db.commit()
    with session(engine) as db:
        rows = db.execute(select(ProgressPoint).order_by(ProgressPoint.id)).scalars().all()  # type: ignore[arg-type]
        kr_rows = [(r.day, r.progress) for r in rows if r.kind == "kr"]
        ms_rows = [(r.day, r.progress, r.done, r.total) for r in rows if r.kind == "milestone"]
        # The KR went 0.5 → 0.75 → 0.5 on day 2: no net change, so day 2 keeps no KR row.
        assert kr_rows == [(day1, 0.5)]
        # The milestone's scope grew (1/2 → 2/4) at equal progress: that is a change.
        assert ms_rows == [(day1, 0.5, 1, 2), (day2, 0.5, 2, 4)]
        assert history.last_changes(db) == {"K": day1}
        assert history.progress_as_of(db, day1) == {"K": 0.5}
    engine.dispose()


# --- simulated weeks through the real cycle ---------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def sim(clock: FakeClock) -> Iterator[GitHubSim]:
    due = datetime(2026, 12, 18, 8, tzinfo=UTC)
    with onboarding_sim(clock, token=TOKEN, due=due, done_at=START - timedelta(days=1)) as simulator:
        yield simulator


def events_of(project: Project, type_: str) -> list[Event]:
    with session(project.engine) as db:
        return list(db.execute(select(Event).where(Event.type == type_).order_by(Event.day)).scalars())


def test_a_kr_unchanged_for_21_days_raises_kr_stale_once(
    sim: GitHubSim, clock: FakeClock, tmp_path: Path, database_url: str
) -> None:
    project = write_project(tmp_path, database_url=database_url, github_url=sim.url, token=TOKEN)
    for _day in range(35):  # five weeks of daily cycles, nothing moving
        run_cycle(project.settings, project.okrs, project.engine, now=clock())
        clock.tick(24 * 3600)

    stale_events = events_of(project, "kr.stale")
    assert [(e.kr_id, e.dedupe_key, e.day) for e in stale_events] == [
        ("ENG-1.1", "kr.stale|ENG-1.1|2026-10-05", date(2026, 10, 26))
    ]
    payload = stale_events[0].payload
    assert set(payload) >= {"id", "type", "detected_at", "day", "owner", "objective", "key_result", "text"}
    assert payload["stale"]["since"] == "2026-10-05" and payload["stale"]["days"] == 21
    assert payload["text"].startswith(
        "KR ENG-1.1 (Ship onboarding) has not moved for 21 days: 25% since 5 Oct"
    )

    # Work moves, then stalls again: a new last-change day, so a new (single) signal 21 days on.
    sim.close_issue("acme/web", 2, at=clock())
    for _day in range(25):
        run_cycle(project.settings, project.okrs, project.engine, now=clock())
        clock.tick(24 * 3600)
    assert [e.dedupe_key for e in events_of(project, "kr.stale")] == [
        "kr.stale|ENG-1.1|2026-10-05",
        "kr.stale|ENG-1.1|2026-11-09",
    ]


def test_confidence_7_then_4_within_14_days_raises_kr_confidence_drop_once(
    sim: GitHubSim, clock: FakeClock, tmp_path: Path, database_url: str
) -> None:
    project = write_project(tmp_path, database_url=database_url, github_url=sim.url, token=TOKEN)
    tz = project.settings.okrsync.tz

    def checkin(confidence: int) -> None:
        with session(project.engine) as db:
            checkins.add(db, "ENG-1.1", confidence=confidence, now=clock(), tz=tz, blocker="vendor late")

    def cycle_days(days: int) -> None:
        for _ in range(days):
            run_cycle(project.settings, project.okrs, project.engine, now=clock())
            clock.tick(24 * 3600)

    checkin(7)
    cycle_days(7)
    checkin(4)  # a week later: fell by 3
    cycle_days(21)  # three more weeks of cycles: raised once, never again

    drops = events_of(project, "kr.confidence_drop")
    assert len(drops) == 1
    assert drops[0].dedupe_key == "kr.confidence_drop|ENG-1.1|2"
    assert drops[0].payload["confidence"] == {
        "before": 7,
        "before_day": "2026-10-05",
        "after": 4,
        "day": "2026-10-12",
        "drop": 3,
    }
    assert drops[0].payload["key_result"]["confidence"] == 4
    assert "fell from 7 (5 Oct) to 4 (12 Oct). Blocker: vendor late." in drops[0].payload["text"]
