"""The report's chart geometry, against points computed by hand.

The view box is 640 × 260 with margins left 48, right 16, top 22, bottom 30: the plot runs
from x = 48 to x = 624 (576 wide) and from y = 230 (the value axis's low end) up to y = 22
(208 high). A 30-day cycle (1–30 Nov) is 19.2 units a day, and a day's value sits at the
end of that day.
"""

from __future__ import annotations

from datetime import date, timedelta

from okrsync.history import Mark
from okrsync.okrs import Cycle
from okrsync.report.charts import (
    Count,
    Plot,
    burn_up,
    confidence_trend,
    forecast_path,
    metric_trend,
    step_points,
)
from okrsync.report.pages import kr_counts
from okrsync.rollup import MilestoneProgress, expected_progress

START, END = date(2026, 11, 1), date(2026, 11, 30)
MIDDLE = date(2026, 11, 15)  # the end of day 15 of 30: half the cycle has passed
LEFT, RIGHT, TOP, BOTTOM = 48.0, 624.0, 22.0, 230.0


def day(n: int) -> date:
    return START + timedelta(days=n - 1)


def test_fifty_percent_done_on_the_middle_day_sits_halfway_up_and_halfway_across() -> None:
    chart = burn_up(start=START, end=END, today=MIDDLE, counts=[Count(MIDDLE, 5, 10)])

    [dot] = chart.dots
    assert (dot.x, dot.y) == (336.0, 126.0)  # 48 + 576 / 2, 230 - 208 / 2
    assert (dot.x - LEFT) / (RIGHT - LEFT) == 0.5
    assert (BOTTOM - dot.y) / (BOTTOM - TOP) == 0.5


def test_the_ideal_line_runs_from_nothing_at_the_start_to_the_whole_scope_on_the_last_day() -> None:
    chart = burn_up(start=START, end=END, today=MIDDLE, counts=[Count(day(3), 0, 8), Count(MIDDLE, 5, 10)])

    [ideal] = [line for line in chart.lines if line.kind == "ideal"]
    assert ideal.points == ((LEFT, BOTTOM), (RIGHT, TOP))  # 0 at the start, 100 % of 10 at the end
    # ... and it passes through the roll-up's expected progress of the middle day (0.5).
    assert expected_progress(Cycle("C", START, END), MIDDLE) == 0.5


def test_done_and_scope_hold_between_changes_and_run_on_to_today() -> None:
    plot = Plot(START, END, 0, 10)

    points = step_points(plot, [(day(10), 2), (day(15), 5)], until=day(20))

    # end of day 10: x = 48 + 19.2 * 10 = 240; value 2: y = 230 - 20.8 * 2 = 188.4
    flat = [v for point in points for v in point]
    # day 10, day 14 (still 2), day 15 (5), day 20 (held)
    assert flat == [240.0, 188.4, 316.8, 188.4, 336.0, 126.0, 432.0, 126.0]


def test_a_value_from_before_the_cycle_starts_the_line_at_the_left_edge() -> None:
    plot = Plot(START, END, 0, 10)

    points = step_points(plot, [(START - timedelta(days=9), 4), (day(2), 6)], until=day(2))

    assert points[0] == (LEFT, 146.8)  # 230 - 20.8 * 4
    assert points[-1] == (86.4, 105.2)  # end of day 2, value 6


def test_today_and_each_due_day_inside_the_cycle_are_marked() -> None:
    chart = burn_up(
        start=START,
        end=END,
        today=MIDDLE,
        counts=[Count(MIDDLE, 1, 4)],
        dues=[(day(20), "1", "Onboarding v2"), (date(2027, 1, 5), "2", "After the cycle")],
    )

    assert [(m.kind, m.label, m.x) for m in chart.markers] == [("due", "1", 432.0), ("today", "today", 336.0)]
    assert "Onboarding v2: due 2026-11-20" in chart.markers[0].title


def test_the_forecast_burns_each_milestone_to_its_own_forecast_day() -> None:
    path = forecast_path(4, [(6, day(25)), (4, day(20)), (3, None)], today=MIDDLE, until=END)

    # day 20: 4 + 6 × 5/10 + 4 = 11; day 25: 4 + 6 + 4 = 14; the stalled 3 never arrive.
    assert path == ((MIDDLE, 4), (day(20), 11), (day(25), 14), (END, 14))


def test_no_forecast_once_the_cycle_is_over() -> None:
    assert forecast_path(4, [(6, day(25))], today=END, until=END) == ()


def test_confidence_sits_on_a_one_to_ten_scale_with_the_at_risk_band_below_four() -> None:
    chart = confidence_trend(
        start=START, end=END, today=MIDDLE, checkins=[(day(5), 7), (day(12), 4)], at_risk=4
    )

    assert [(d.x, d.y) for d in chart.dots] == [(144.0, 91.3), (278.4, 160.7)]
    [(kind, top, bottom)] = chart.bands
    assert (kind, top, bottom) == ("risk", 160.7, BOTTOM)  # 230 - 208 × 3/9, to a tenth


def test_a_falling_metric_halfway_to_its_target_on_the_middle_day_sits_halfway() -> None:
    chart = metric_trend(
        start=START, end=END, today=MIDDLE, values=[(MIDDLE, 2.75)], baseline=4.0, target=1.5, unit="s"
    )

    [dot] = chart.dots
    assert (dot.x, dot.y) == (336.0, 126.0)
    [ideal] = [line for line in chart.lines if line.kind == "ideal"]
    assert ideal.points == ((LEFT, TOP), (RIGHT, BOTTOM))  # 4 s at the top down to 1.5 s


def test_month_ticks_start_where_each_month_starts() -> None:
    plot = Plot(date(2026, 10, 1), date(2026, 12, 31), 0, 1)

    assert [(t.label, t.at) for t in plot.month_ticks()] == [
        ("1 Oct", 48.0),
        ("Nov", 242.1),  # 48 + 576 × 31/92
        ("Dec", 429.9),  # 48 + 576 × 61/92
    ]


def _point(on: date, done: int, total: int) -> Mark:
    return Mark(on, None, done, total)


def _milestone(key: str, *, missing: bool = False) -> MilestoneProgress:
    return MilestoneProgress(
        source="github", key=key, title=key, url=None, due=None, state="open", progress=0.0, done=0, total=0,
        excluded=0, done_weight=0.0, total_weight=0.0, unestimated=0, empty=False, missing=missing,
        forecast=None, stalled=False, overdue=False, status="on_track", open_issues=(),
    )  # fmt: skip


def test_a_krs_counts_sum_its_milestones_each_holding_its_last_recorded_counts() -> None:
    points = {
        ("github", "a#1"): [_point(day(1), 1, 4), _point(day(5), 3, 4)],
        ("github", "a#2"): [_point(day(3), 0, 6), _point(day(5), 2, 8)],
        ("github", "gone#9"): [_point(day(2), 5, 5)],
    }

    counts = kr_counts([_milestone("a#1"), _milestone("a#2"), _milestone("gone#9", missing=True)], points)

    assert counts == [Count(day(1), 1, 4), Count(day(3), 1, 10), Count(day(5), 5, 12)]
