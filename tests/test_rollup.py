"""SPEC §2 arithmetic: every expected number below is worked out by hand in the comment beside it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from okrsync.okrs import Cycle, KeyResult, Objective, OkrSet, Weighting
from okrsync.rollup import (
    IssueFacts,
    MilestoneFacts,
    MilestoneProgress,
    RollupInputs,
    expected_progress,
    forecast,
    kr_progress,
    milestone_progress,
    roll_up,
    two_decimals,
)
from okrsync.scoring import band

TODAY = date(2026, 11, 20)  # trailing 14-day window: 2026-11-07 .. 2026-11-20
RECENT = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
LONG_AGO = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)

_counter = iter(range(1, 10_000))


def issue(
    status: str = "open",
    *,
    points: float | None = None,
    done_at: datetime | None = None,
    pr: bool = False,
) -> IssueFacts:
    n = next(_counter)
    return IssueFacts(
        key=f"acme/web#{n}",
        title=f"issue {n}",
        status=status,  # type: ignore[arg-type]
        points=points,
        done_at=done_at,
        is_pull_request=pr,
        assignee="carol",
    )


def done(points: float | None = None, *, at: datetime | None = LONG_AGO, pr: bool = False) -> IssueFacts:
    return issue("done", points=points, done_at=at, pr=pr)


def milestone(
    *issues: IssueFacts,
    state: str = "open",
    due: date | None = None,
    found: bool = True,
    source: str = "github",
    key: str = "acme/web#12",
) -> MilestoneFacts:
    return MilestoneFacts(
        source=source,
        key=key,
        title="Onboarding v2",
        state=state,  # type: ignore[arg-type]
        due=due,
        issues=tuple(issues),
        found=found,
    )


# --- milestone progress: scope and weights ------------------------------------------------


@pytest.mark.parametrize(
    ("m", "weighting", "include_prs", "progress", "counts", "weights", "unestimated", "empty"),
    [
        pytest.param(
            # 2 done of 3 in scope; the excluded one is out of scope
            milestone(done(), done(), issue("open"), issue("excluded")),
            "count",
            False,
            2 / 3,
            (2, 3, 1),
            (2.0, 3.0),
            0,
            False,
            id="done-open-excluded",
        ),
        pytest.param(
            # the pull request is left out: 1 done of 2
            milestone(done(), issue("open"), done(pr=True)),
            "count",
            False,
            0.5,
            (1, 2, 0),
            (1.0, 2.0),
            0,
            False,
            id="pull-request-left-out",
        ),
        pytest.param(
            # the source includes pull requests: 2 done of 3
            milestone(done(), issue("open"), done(pr=True)),
            "count",
            True,
            2 / 3,
            (2, 3, 0),
            (2.0, 3.0),
            0,
            False,
            id="pull-request-included",
        ),
        pytest.param(
            # a left-out pull request closed as not planned is not counted as excluded either
            milestone(done(), issue("open"), issue("excluded", pr=True)),
            "count",
            False,
            0.5,
            (1, 2, 0),
            (1.0, 2.0),
            0,
            False,
            id="left-out-pull-request-not-counted-excluded",
        ),
        pytest.param(
            # count weighting ignores points: 1 of 2
            milestone(done(8), issue("open", points=1)),
            "count",
            False,
            0.5,
            (1, 2, 0),
            (1.0, 2.0),
            0,
            False,
            id="count-ignores-points",
        ),
        pytest.param(
            # estimated 3, 5, 2 -> median 3 for the unestimated done one;
            # done 3 + 3 = 6, total 3 + 5 + 3 + 2 = 13
            milestone(done(3), issue("open", points=5), done(None), issue("open", points=2)),
            "points",
            False,
            6 / 13,
            (2, 4, 0),
            (6.0, 13.0),
            1,
            False,
            id="points-median-odd",
        ),
        pytest.param(
            # estimated 2, 4 -> median 3 for the unestimated open one; done 2, total 2 + 4 + 3 = 9
            milestone(done(2), issue("open", points=4), issue("open")),
            "points",
            False,
            2 / 9,
            (1, 3, 0),
            (2.0, 9.0),
            1,
            False,
            id="points-median-even",
        ),
        pytest.param(
            # the excluded 100-pointer is not in the median: median(1, 1) = 1; 1 done of 1 + 1 + 1
            milestone(done(1), issue("open", points=1), issue("excluded", points=100), issue("open")),
            "points",
            False,
            1 / 3,
            (1, 3, 1),
            (1.0, 3.0),
            1,
            False,
            id="points-median-in-scope-only",
        ),
        pytest.param(
            # nothing estimated: each weighs 1
            milestone(done(None), issue("open")),
            "points",
            False,
            0.5,
            (1, 2, 0),
            (1.0, 2.0),
            2,
            False,
            id="points-none-estimated",
        ),
        pytest.param(
            # every issue estimated at 0 points: fall back to counting, 1 of 2
            milestone(done(0), issue("open", points=0)),
            "points",
            False,
            0.5,
            (1, 2, 0),
            (0.0, 0.0),
            0,
            False,
            id="points-all-zero",
        ),
        pytest.param(
            milestone(state="open"),
            "count",
            False,
            0.0,
            (0, 0, 0),
            (0.0, 0.0),
            0,
            True,
            id="empty-open",
        ),
        pytest.param(
            milestone(state="closed"),
            "count",
            False,
            1.0,
            (0, 0, 0),
            (0.0, 0.0),
            0,
            True,
            id="empty-closed",
        ),
        pytest.param(
            # only excluded work: empty, and complete because closed
            milestone(issue("excluded"), state="closed"),
            "count",
            False,
            1.0,
            (0, 0, 1),
            (0.0, 0.0),
            0,
            True,
            id="only-excluded-closed",
        ),
    ],
)
def test_milestone_progress_scope_and_weights(
    m: MilestoneFacts,
    weighting: Weighting,
    include_prs: bool,
    progress: float,
    counts: tuple[int, int, int],
    weights: tuple[float, float],
    unestimated: int,
    empty: bool,
) -> None:
    p = milestone_progress(m, weighting=weighting, today=TODAY, include_pull_requests=include_prs)
    assert p.progress == pytest.approx(progress)
    assert (p.done, p.total, p.excluded) == counts
    assert (p.done_weight, p.total_weight) == pytest.approx(weights)
    assert p.unestimated == unestimated
    assert p.empty is empty
    assert p.missing is False


def test_open_issues_are_the_in_scope_open_ones() -> None:
    a, b = issue("open"), issue("open", pr=True)
    p = milestone_progress(milestone(done(), a, b, issue("excluded")), weighting="count", today=TODAY)
    assert p.open_issues == (a,)


def test_missing_milestone_has_no_progress_and_is_at_risk() -> None:
    p = milestone_progress(milestone(found=False, due=date(2026, 11, 1)), weighting="count", today=TODAY)
    assert (p.progress, p.missing, p.empty, p.status, p.overdue) == (0.0, True, False, "at_risk", False)


def test_naive_done_at_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        done(at=datetime(2026, 11, 18, 12, 0))  # noqa: DTZ001


# --- milestone forecast and status (today 2026-11-20) ------------------------------------

SEVEN_RECENT = tuple(done(at=RECENT) for _ in range(7))  # rate 7 / 14 = 0.5 a day


@pytest.mark.parametrize(
    ("m", "weighting", "fc", "stalled", "overdue", "status"),
    [
        pytest.param(
            # due yesterday, work open
            milestone(done(), issue("open"), due=date(2026, 11, 19)),
            "count",
            None,
            True,
            True,
            "off_track",
            id="overdue-with-open-work",
        ),
        pytest.param(
            # due yesterday, everything done (the excluded one does not count as open)
            milestone(done(), done(), issue("excluded"), due=date(2026, 11, 19)),
            "count",
            None,
            False,
            False,
            "done",
            id="overdue-all-done",
        ),
        pytest.param(
            # closed with open issues past due is still overdue work
            milestone(done(at=RECENT), issue("open"), state="closed", due=date(2026, 11, 19)),
            "count",
            date(2026, 12, 4),
            False,
            True,
            "off_track",
            id="closed-with-open-work-overdue",
        ),
        pytest.param(
            # rate 0.5/day, 3 open -> 6 days -> 11-26; due 11-30
            milestone(*SEVEN_RECENT, issue(), issue(), issue(), due=date(2026, 11, 30)),
            "count",
            date(2026, 11, 26),
            False,
            False,
            "on_track",
            id="forecast-before-due",
        ),
        pytest.param(
            # the same forecast landing exactly on the due day is fine
            milestone(*SEVEN_RECENT, issue(), issue(), issue(), due=date(2026, 11, 26)),
            "count",
            date(2026, 11, 26),
            False,
            False,
            "on_track",
            id="forecast-on-due-day",
        ),
        pytest.param(
            # ... and one day after it is at risk
            milestone(*SEVEN_RECENT, issue(), issue(), issue(), due=date(2026, 11, 25)),
            "count",
            date(2026, 11, 26),
            False,
            False,
            "at_risk",
            id="forecast-late",
        ),
        pytest.param(
            # due today with work open is not yet overdue: 11-26 forecast > due 11-20
            milestone(*SEVEN_RECENT, issue(), issue(), issue(), due=TODAY),
            "count",
            date(2026, 11, 26),
            False,
            False,
            "at_risk",
            id="due-today-not-overdue",
        ),
        pytest.param(
            # nothing done in the window, work open, due ahead: stalled
            milestone(done(), issue(), due=date(2026, 12, 15)),
            "count",
            None,
            True,
            False,
            "at_risk",
            id="stalled-before-due",
        ),
        pytest.param(
            # stalled without a due day has nothing to slip against
            milestone(done(), issue()),
            "count",
            None,
            True,
            False,
            "on_track",
            id="stalled-no-due",
        ),
        pytest.param(
            # a done issue without a done date counts as done but not towards the rate
            milestone(done(at=None), issue(), due=date(2026, 12, 15)),
            "count",
            None,
            True,
            False,
            "at_risk",
            id="done-without-date-stalls",
        ),
        pytest.param(
            # window edge: 11-07T00:00Z is inside, 11-06T23:59Z outside (a Berlin 00:30 on
            # 11-07 is 11-06T23:30Z, outside): rate 1/14, 1 open -> 14 days -> 12-04
            milestone(
                done(at=datetime(2026, 11, 7, 0, 0, tzinfo=UTC)),
                done(at=datetime(2026, 11, 6, 23, 59, tzinfo=UTC)),
                done(at=datetime(2026, 11, 7, 0, 30, tzinfo=ZoneInfo("Europe/Berlin"))),
                issue(),
                due=date(2026, 12, 31),
            ),
            "count",
            date(2026, 12, 4),
            False,
            False,
            "on_track",
            id="window-edges",
        ),
        pytest.param(
            # 3 recent done -> rate 3/14; 1 open -> 4.67 days, rounded up to 5 -> 11-25
            milestone(done(at=RECENT), done(at=RECENT), done(at=RECENT), issue(), due=date(2026, 12, 31)),
            "count",
            date(2026, 11, 25),
            False,
            False,
            "on_track",
            id="forecast-rounds-up",
        ),
        pytest.param(
            # points: 7 recent points -> rate 0.5/day; 14 open points -> 28 days -> 12-18
            milestone(done(7, at=RECENT), issue(points=14), due=date(2026, 12, 17)),
            "points",
            date(2026, 12, 18),
            False,
            False,
            "at_risk",
            id="forecast-by-points",
        ),
        pytest.param(
            # nothing remains: no forecast, not stalled
            milestone(done(), done(), due=date(2026, 12, 15)),
            "count",
            None,
            False,
            False,
            "done",
            id="nothing-remaining",
        ),
        pytest.param(
            # an open empty milestone has no work to forecast
            milestone(due=date(2026, 12, 15)),
            "count",
            None,
            False,
            False,
            "on_track",
            id="empty-open-not-stalled",
        ),
    ],
)
def test_milestone_forecast_and_status(
    m: MilestoneFacts, weighting: Weighting, fc: date | None, stalled: bool, overdue: bool, status: str
) -> None:
    p = milestone_progress(m, weighting=weighting, today=TODAY)
    assert p.forecast == fc
    assert p.stalled is stalled
    assert p.overdue is overdue
    assert p.status == status


def test_forecast_reports_the_rate() -> None:
    # 3 weight in the window -> 3/14 a day; 6 remaining -> 28 days
    fc = forecast(6.0, done=[(RECENT, 2.0), (RECENT, 1.0), (LONG_AGO, 5.0)], today=TODAY)
    assert fc.rate == pytest.approx(3 / 14)
    assert fc.day == date(2026, 12, 18)
    assert fc.stalled is False


# --- key results -------------------------------------------------------------------------


def metric_kr(baseline: float | None, target: float | None) -> KeyResult:
    return KeyResult(
        id="ENG-1.2",
        title="p95 login",
        owner="bob",
        objective_id="ENG-1",
        kind="metric",
        baseline=baseline,
        target=target,
        unit="s",
    )


MILESTONES_KR = KeyResult(id="ENG-1.1", title="Onboarding", owner="bob", objective_id="ENG-1")


@pytest.mark.parametrize(
    ("baseline", "target", "value", "progress"),
    [
        (4, 1.5, 2.75, 0.5),  # falling target: (2.75 - 4) / (1.5 - 4) = -1.25 / -2.5
        (4, 1.5, 1, 1.0),  # beyond the target: 1.2 clamped
        (4, 1.5, 5, 0.0),  # worse than the baseline: -0.4 clamped
        (4, 1.5, None, 0.0),  # no value yet
        (0, 100, 25, 0.25),
        (None, 100, 25, 0.25),  # missing baseline reads as 0
        (0, None, 25, 0.0),  # missing target: unknowable
        (5, 5, 5, 1.0),  # baseline == target: done only on the target
        (5, 5, 4, 0.0),
    ],
)
def test_metric_kr_progress(
    baseline: float | None, target: float | None, value: float | None, progress: float
) -> None:
    kr = kr_progress(metric_kr(baseline, target), [], value=value, confidence=None, expected=0.0)
    assert kr.progress == pytest.approx(progress)
    assert kr.value == value


def ms(progress: float, status: str = "on_track") -> MilestoneProgress:
    """A computed milestone with only the fields a KR reads set meaningfully."""
    return MilestoneProgress(
        source="github",
        key="acme/web#1",
        title="m",
        url=None,
        due=None,
        state="open",
        progress=progress,
        done=0,
        total=0,
        excluded=0,
        done_weight=0.0,
        total_weight=0.0,
        unestimated=0,
        empty=False,
        missing=False,
        forecast=None,
        stalled=False,
        overdue=status == "off_track",
        status=status,
        open_issues=(),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("milestones", "progress", "score"),
    [
        ([(ms(0.5), 2.0), (ms(1.0), 1.0)], 2 / 3, 0.67),  # (0.5*2 + 1*1) / 3
        ([(ms(0.25), 1.0), (ms(0.75), 3.0)], 0.625, 0.63),  # (0.25 + 2.25) / 4; half up, not half even
        ([(ms(0.4), 1.0)], 0.4, 0.4),
        ([], 0.0, 0.0),  # no milestones
        ([(ms(0.4), 0.0)], 0.0, 0.0),  # only zero link weights
    ],
)
def test_milestones_kr_is_the_link_weighted_mean(
    milestones: list[tuple[MilestoneProgress, float]], progress: float, score: float
) -> None:
    kr = kr_progress(MILESTONES_KR, milestones, value=None, confidence=None, expected=0.0)
    assert kr.progress == pytest.approx(progress)
    assert kr.score == score


@pytest.mark.parametrize(
    ("done_count", "total", "score", "graded"),
    [
        (139, 200, 0.70, "strong"),  # 0.695: round() on the binary float gave 0.69, partial
        (69, 200, 0.35, "missed"),  # 0.345 (0.34499… in binary): 0.35 is still missed
        (1, 200, 0.01, "missed"),  # 0.005
        (13, 20, 0.65, "partial"),  # 0.65 exactly: partial (README)
        (1389, 2000, 0.69, "partial"),  # 0.6945: below the half
        (2, 3, 0.67, "partial"),
    ],
)
def test_a_score_is_progress_rounded_half_up_to_2_decimals(
    done_count: int, total: int, score: float, graded: str
) -> None:
    issues = [done() for _ in range(done_count)] + [issue() for _ in range(total - done_count)]
    progress = milestone_progress(milestone(*issues), weighting="count", today=TODAY)
    kr = kr_progress(MILESTONES_KR, [(progress, 1.0)], value=None, confidence=None, expected=0.0)

    assert kr.progress == done_count / total
    assert kr.score == score
    assert band(kr.score) == band(kr.progress) == graded


@pytest.mark.parametrize(
    ("value", "rounded"), [(0.695, 0.70), (0.345, 0.35), (0.005, 0.01), (0.6949999, 0.69), (1.0, 1.0)]
)
def test_two_decimals_rounds_the_written_value_half_up(value: float, rounded: float) -> None:
    assert two_decimals(value) == rounded


@pytest.mark.parametrize(
    ("value", "expected", "confidence", "milestone_status", "status"),
    [
        # metric KR 0 -> 10, so progress = value / 10
        (10, 1.0, 1, "off_track", "done"),  # done wins over everything
        (2.4, 0.5, None, None, "off_track"),  # 0.24 < 0.5 - 0.25
        (2.5, 0.5, None, None, "at_risk"),  # exactly expected - 0.25: not off track, < 0.4
        (3.9, 0.5, None, None, "at_risk"),  # 0.39 < 0.5 - 0.10
        (4, 0.5, None, None, "on_track"),  # exactly expected - 0.10
        (7, 0.8, None, None, "on_track"),  # 0.8 - 0.1 is 0.7000000000000001 in floats
        (3.5, 0.6, None, None, "at_risk"),  # 0.6 - 0.25 boundary, then < 0.5
        (9, 0.5, 4, None, "at_risk"),  # confidence 4
        (9, 0.5, 5, None, "on_track"),  # confidence 5
        (9, 0.5, None, "off_track", "off_track"),  # a milestone overdue with open work
        (9, 0.5, None, "done", "on_track"),  # an overdue milestone with all work done
        (9, 0.5, None, "at_risk", "at_risk"),  # a milestone forecast late
    ],
)
def test_kr_status_thresholds(
    value: float, expected: float, confidence: int | None, milestone_status: str | None, status: str
) -> None:
    links = []
    if milestone_status is not None:
        links = [(ms(1.0 if milestone_status == "done" else 0.5, milestone_status), 1.0)]
    kr = kr_progress(metric_kr(0, 10), links, value=value, confidence=confidence, expected=expected)
    assert kr.status == status
    assert kr.expected == expected
    assert kr.confidence == confidence


def test_kr_off_track_through_a_real_overdue_milestone() -> None:
    overdue = milestone_progress(
        milestone(done(), done(), done(), issue(), due=date(2026, 11, 19)), weighting="count", today=TODAY
    )
    kr = kr_progress(MILESTONES_KR, [(overdue, 1.0)], value=None, confidence=None, expected=0.5)
    assert (kr.progress, kr.status) == (0.75, "off_track")


# --- expected progress -------------------------------------------------------------------

Q4 = Cycle(id="2026-Q4", start=date(2026, 10, 1), end=date(2026, 12, 31))  # 92 days


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 9, 30), 0.0),  # before the cycle
        (date(2026, 10, 1), 1 / 92),  # the first day counts as elapsed
        (date(2026, 11, 15), 0.5),  # 46 of 92 days
        (date(2026, 12, 31), 1.0),  # the last day
        (date(2027, 1, 5), 1.0),  # after the cycle
    ],
)
def test_expected_progress_is_the_elapsed_share(today: date, expected: float) -> None:
    assert expected_progress(Q4, today) == pytest.approx(expected)


# --- objectives --------------------------------------------------------------------------

YEAR = Cycle(id="2026", start=date(2026, 1, 1), end=date(2026, 12, 31))  # 365 days


def mkr(kr_id: str, objective_id: str, *, weight: float = 1.0, kind: str = "metric") -> KeyResult:
    return KeyResult(
        id=kr_id,
        title=kr_id,
        owner="bob",
        objective_id=objective_id,
        kind=kind,  # type: ignore[arg-type]
        baseline=0,
        target=1,
        weight=weight,
    )


def obj(oid: str, cycle: str, *krs: KeyResult, parent: str | None = None, weight: float = 1.0) -> Objective:
    return Objective(
        id=oid, title=oid, owner="alice", cycle_id=cycle, parent=parent, weight=weight, key_results=krs
    )


def test_objective_is_the_weighted_mean_of_krs_and_children() -> None:
    okrs = OkrSet(
        cycles={"2026": YEAR, "2026-Q4": Q4},
        objectives={
            "CO-1": obj("CO-1", "2026", mkr("CO-1.1", "CO-1")),
            "ENG-1": obj(
                "ENG-1",
                "2026-Q4",
                mkr("ENG-1.1", "ENG-1", weight=3),
                mkr("ENG-1.2", "ENG-1", weight=1),
                parent="CO-1",
                weight=2,
            ),
        },
    )
    inputs = RollupInputs(values={"CO-1.1": 0.3, "ENG-1.1": 0.5, "ENG-1.2": 0.9})
    r = roll_up(okrs, inputs, today=date(2026, 11, 15))

    eng = r.objectives["ENG-1"]
    # (3 * 0.5 + 1 * 0.9) / 4 = 2.4 / 4
    assert eng.progress == pytest.approx(0.6)
    assert eng.score == 0.6
    assert eng.expected == pytest.approx(0.5)  # 46 / 92
    assert eng.status == "on_track"  # ENG-1.1 0.5 vs 0.5 expected; ENG-1.2 ahead

    co = r.objectives["CO-1"]
    # KR weight 1 at 0.3, child weight 2 at 0.6: (0.3 + 1.2) / 3
    assert co.progress == pytest.approx(0.5)
    assert co.score == 0.5
    assert co.expected == pytest.approx(319 / 365)  # 2026-11-15 is day 319 of 365
    # its own KR: 0.3 < 0.874 - 0.25 -> off track, whatever the child says
    assert co.status == "off_track"
    assert r.key_results["CO-1.1"].status == "off_track"
    assert r.today == date(2026, 11, 15)


def test_objective_without_krs_takes_its_worst_child_status() -> None:
    okrs = OkrSet(
        cycles={"2026-Q4": Q4},
        objectives={
            "CO-2": obj("CO-2", "2026-Q4"),
            "ENG-2": obj("ENG-2", "2026-Q4", mkr("ENG-2.1", "ENG-2"), parent="CO-2"),
            "ENG-3": obj("ENG-3", "2026-Q4", mkr("ENG-3.1", "ENG-3"), parent="CO-2", weight=3),
            "EMPTY": obj("EMPTY", "2026-Q4"),
        },
    )
    # expected 0.5: ENG-2.1 at 0.35 is at risk (< 0.4), ENG-3.1 at 0.5 on track
    inputs = RollupInputs(values={"ENG-2.1": 0.35, "ENG-3.1": 0.5}, confidences={"ENG-3.1": 7})
    r = roll_up(okrs, inputs, today=date(2026, 11, 15))
    # (1 * 0.35 + 3 * 0.5) / 4 = 1.85 / 4
    assert r.objectives["CO-2"].progress == pytest.approx(0.4625)
    assert r.objectives["CO-2"].status == "at_risk"
    assert (r.objectives["EMPTY"].progress, r.objectives["EMPTY"].status) == (0.0, "on_track")
    assert r.key_results["ENG-3.1"].confidence == 7


def test_a_parent_loop_terminates() -> None:
    okrs = OkrSet(
        cycles={"2026-Q4": Q4},
        objectives={
            "A": obj("A", "2026-Q4", mkr("A.1", "A"), parent="B"),
            "B": obj("B", "2026-Q4", mkr("B.1", "B"), parent="A"),
        },
    )
    r = roll_up(okrs, RollupInputs(values={"A.1": 0.2, "B.1": 0.6}), today=date(2026, 11, 15))
    # A is visited first: B sees A in progress and counts only B.1; A = (0.2 + 0.6) / 2
    assert r.objectives["B"].progress == pytest.approx(0.6)
    assert r.objectives["A"].progress == pytest.approx(0.4)


def test_roll_up_uses_kr_weighting_link_weights_and_source_pull_request_setting() -> None:
    kr = KeyResult(id="ENG-4.1", title="t", owner="bob", objective_id="ENG-4", weighting="points")
    okrs = OkrSet(cycles={"2026-Q4": Q4}, objectives={"ENG-4": obj("ENG-4", "2026-Q4", kr)})
    github = milestone(done(3), issue(points=1), done(4, pr=True), source="github")
    jira = milestone(done(2), issue(points=2), done(6, pr=True), source="jira", key="jira:ONB/2.0")
    inputs = RollupInputs(
        milestones={"ENG-4.1": [(github, 2.0), (jira, 1.0)]},
        include_pull_requests={"github": True},
    )
    r = roll_up(okrs, inputs, today=TODAY)
    g, j = r.key_results["ENG-4.1"].milestones
    assert g.progress == pytest.approx(0.875)  # github counts its PR: (3 + 4) / (3 + 1 + 4)
    assert j.progress == pytest.approx(0.5)  # jira (not listed) leaves it out: 2 / (2 + 2)
    # (2 * 0.875 + 1 * 0.5) / 3 = 2.25 / 3
    assert r.key_results["ENG-4.1"].progress == pytest.approx(0.75)
    assert r.objectives["ENG-4"].progress == pytest.approx(0.75)
