"""Chart geometry for the report: pure functions from days and values to SVG coordinates.

The report draws its charts as inline SVG (no script, no library, nothing fetched), so all the
arithmetic lives here, where a hand-computed point can test it: `Chart` is a plain description
(lines, vertical markers, dots, axis ticks in SVG units) that one template draws whatever the
chart is.

Time axis. A cycle runs from the start of its first day (x = left edge) to the end of its last
day (x = right edge), and a day's value is plotted at the *end* of that day. That is how
`rollup.expected_progress` counts (today counts as elapsed), so the ideal line passes through
the expected progress of every day: on a 30-day cycle, 50 % done at the end of day 15 sits
halfway across and halfway up, on the ideal line, and the ideal line reaches 100 % of the
scope at the end of the last day.

Coordinates are rounded to a tenth of a unit (a view box is some 600 units wide: invisible),
which keeps the pages small and lets the templates print them as they are.

Value axis: 0 to the largest value drawn (burn-up: the largest scope, so the current scope's
100 % is the top unless scope shrank), `1 .. 10` for confidence, and baseline to target (widened
to the values seen) for a metric.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

__all__ = [
    "Chart",
    "Count",
    "Dot",
    "Line",
    "Marker",
    "Plot",
    "Tick",
    "burn_up",
    "confidence_trend",
    "forecast_path",
    "metric_trend",
    "step_points",
]

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 22, 30  # margins for tick labels and marker labels


@dataclass(frozen=True)
class Tick:
    """An axis label at `at` (x for the time axis, y for the value axis)."""

    at: float
    label: str


@dataclass(frozen=True)
class Line:
    """A polyline: `kind` names its role (done, scope, ideal, forecast, ...) for style and legend."""

    kind: str
    label: str
    points: tuple[tuple[float, float], ...]

    @property
    def svg_points(self) -> str:
        return " ".join(f"{x},{y}" for x, y in self.points)


@dataclass(frozen=True)
class Marker:
    """A vertical line across the plot at `x` (today, a milestone's due day), with a short label."""

    kind: str
    x: float
    label: str
    title: str


@dataclass(frozen=True)
class Dot:
    """A point worth its own mark (a check-in), with the text a pointer or screen reader gets."""

    x: float
    y: float
    label: str


@dataclass(frozen=True)
class Chart:
    """Everything the SVG template draws, in SVG units of a `WIDTH` × `HEIGHT` view box."""

    title: str
    description: str
    width: int = WIDTH
    height: int = HEIGHT
    left: float = LEFT
    top: float = TOP
    right: float = WIDTH - RIGHT
    bottom: float = HEIGHT - BOTTOM
    lines: tuple[Line, ...] = ()
    markers: tuple[Marker, ...] = ()
    dots: tuple[Dot, ...] = ()
    x_ticks: tuple[Tick, ...] = ()
    y_ticks: tuple[Tick, ...] = ()
    bands: tuple[tuple[str, float, float], ...] = field(default=())  # (kind, y top, y bottom)


@dataclass(frozen=True)
class Plot:
    """Map (day, value) to SVG coordinates for one cycle and one value range."""

    start: date
    end: date
    low: float
    high: float
    _per_day: float = field(init=False, repr=False, compare=False)
    _per_value: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Scale factors, computed once: a report plots some 100,000 points.
        days = max(1, (self.end - self.start).days + 1)
        span = self.high - self.low
        object.__setattr__(self, "_per_day", (WIDTH - LEFT - RIGHT) / days)
        object.__setattr__(self, "_per_value", (HEIGHT - BOTTOM - TOP) / span if span else 0.0)

    @property
    def days(self) -> int:
        return max(1, (self.end - self.start).days + 1)

    def x_at(self, share: float) -> float:
        return round(LEFT + (WIDTH - LEFT - RIGHT) * min(1.0, max(0.0, share)), 1)

    def x_start_of(self, day: date) -> float:
        """The x of the first instant of `day` (the cycle's first day starts at the left edge)."""
        return round(min(WIDTH - RIGHT, max(LEFT, LEFT + self._per_day * (day - self.start).days)), 1)

    def x(self, day: date) -> float:
        """The x of the end of `day`, where that day's value is plotted."""
        return round(min(WIDTH - RIGHT, max(LEFT, LEFT + self._per_day * ((day - self.start).days + 1))), 1)

    def y(self, value: float) -> float:
        return round(
            min(HEIGHT - BOTTOM, max(TOP, (HEIGHT - BOTTOM) - self._per_value * (value - self.low))), 1
        )

    def inside(self, day: date) -> bool:
        return self.start <= day <= self.end

    def month_ticks(self) -> tuple[Tick, ...]:
        """Label the first day of each month (and the cycle's first day) where it starts."""
        ticks = [Tick(self.x_start_of(self.start), self.start.strftime("%d %b").lstrip("0"))]
        day = (self.start.replace(day=1) + timedelta(days=32)).replace(day=1)
        while day <= self.end:
            ticks.append(Tick(self.x_start_of(day), day.strftime("%b")))
            day = (day + timedelta(days=32)).replace(day=1)
        # A first-of-month right after the start would print over the start's label.
        min_gap = 28.0
        kept = [ticks[0]]
        for tick in ticks[1:]:
            if tick.at - kept[-1].at >= min_gap:
                kept.append(tick)
        return tuple(kept)


@dataclass(frozen=True)
class Count:
    """Done and total (in-scope) issues at the end of `day`."""

    day: date
    done: float
    total: float


def step_points(
    plot: Plot, values: Sequence[tuple[date, float]], *, until: date
) -> tuple[tuple[float, float], ...]:
    """Draw values recorded at the end of some days as a line that holds between changes.

    A value recorded on day d was reached some time during d: the line rises across day d
    from the previous value, then stays flat until the next change, and runs on to `until`.
    Days before the cycle are drawn at its left edge (the value the cycle started with).
    """
    points: list[tuple[float, float]] = []
    previous: tuple[date, float] | None = None
    for day, value in values:
        if previous is not None and (day - previous[0]).days > 1:
            points.append((plot.x(day - timedelta(days=1)), plot.y(previous[1])))
        if day < plot.start:
            points.append((plot.x_at(0.0), plot.y(value)))
        else:
            points.append((plot.x(day), plot.y(value)))
        previous = (day, value)
    if previous is not None and until > previous[0]:
        points.append((plot.x(min(until, plot.end)), plot.y(previous[1])))
    return tuple(points)


def forecast_path(
    done: float, remaining: Sequence[tuple[float, date | None]], *, today: date, until: date
) -> tuple[tuple[date, float], ...]:
    """Project done work from `today` to `until`: each milestone burns at its own forecast.

    `remaining` pairs each milestone's open work with the roll-up's forecast day for it (None
    when it has stalled, or nothing remains). A milestone adds its remaining work linearly from
    today until its forecast day, so the sum is a polyline that bends at each forecast day. The
    rate is never re-derived here: the roll-up's forecast (SPEC §2) is the only one.
    """
    if until <= today:
        return ()

    def at(day: date) -> float:
        value = done
        for work, finish in remaining:
            if finish is None or work <= 0:
                continue
            span = max(1, (finish - today).days)
            value += work * min(1.0, (day - today).days / span)
        return value

    bends = sorted({f for work, f in remaining if f is not None and work > 0 and today < f < until})
    return tuple((day, at(day)) for day in [today, *bends, until])


def burn_up(
    *,
    start: date,
    end: date,
    today: date,
    counts: Sequence[Count],
    forecast: Sequence[tuple[date, float]] = (),
    dues: Sequence[tuple[date, str, str]] = (),
    unit: str = "issues",
) -> Chart:
    """Build a burn-up: done and scope per day, the ideal line, the forecast, today and due days.

    `counts` are end-of-day values, oldest first (the last one is today's); `dues` are
    (day, short label, full title) of the milestones' due days. The ideal line runs from nothing
    at the cycle's start to the latest scope at its end.
    """
    scope = counts[-1].total if counts else 0.0
    high = max([1.0, *(c.total for c in counts), *(c.done for c in counts), *(v for _d, v in forecast)])
    plot = Plot(start, end, 0.0, high)
    shown_until = min(today, end)
    lines = [
        Line(
            "ideal",
            f"ideal: 0 to {scope:g} {unit} by {end.isoformat()}",
            ((plot.x_at(0), plot.y(0)), (plot.x_at(1), plot.y(scope))),
        ),
        Line(
            "scope",
            f"scope ({unit} in scope)",
            step_points(plot, [(c.day, c.total) for c in counts], until=shown_until),
        ),
        Line(
            "done", f"done ({unit})", step_points(plot, [(c.day, c.done) for c in counts], until=shown_until)
        ),
    ]
    if forecast:
        lines.append(
            Line(
                "forecast",
                f"forecast: {forecast[-1][1]:.3g} {unit} done by {forecast[-1][0].isoformat()}",
                tuple((plot.x(d), plot.y(v)) for d, v in forecast if plot.inside(d)),
            )
        )
    markers = [
        Marker("due", plot.x(day), label, f"{title}: due {day.isoformat()}")
        for day, label, title in dues
        if plot.inside(day)
    ]
    if plot.inside(today):
        markers.append(Marker("today", plot.x(today), "today", f"today, {today.isoformat()}"))
    done_now = counts[-1].done if counts else 0.0
    dots = (
        (
            Dot(
                plot.x(counts[-1].day),
                plot.y(done_now),
                f"{counts[-1].day.isoformat()}: {done_now:g} of {scope:g} {unit} done",
            ),
        )
        if counts
        else ()
    )
    return Chart(
        title="Burn-up",
        description=(
            f"Done {done_now:g} of {scope:g} {unit} on {today.isoformat()}; cycle {start.isoformat()} to {end.isoformat()}."
        ),
        lines=tuple(line for line in lines if line.points),
        markers=tuple(markers),
        dots=dots,
        x_ticks=plot.month_ticks(),
        y_ticks=(
            Tick(plot.y(0), "0"),
            Tick(plot.y(high / 2), f"{high / 2:g}"),
            Tick(plot.y(high), f"{high:g}"),
        ),
    )


def confidence_trend(
    *, start: date, end: date, today: date, checkins: Sequence[tuple[date, int]], at_risk: int
) -> Chart:
    """Plot check-in confidences (1–10) over the cycle, with the at-risk level as a band."""
    plot = Plot(start, end, 1.0, 10.0)
    inside = [(d, c) for d, c in checkins if d <= end]
    points = tuple((plot.x(max(d, start)), plot.y(c)) for d, c in inside)
    dots = tuple(
        Dot(x, y, f"{d.isoformat()}: confidence {c}/10")
        for (x, y), (d, c) in zip(points, inside, strict=True)
    )
    markers = (
        (Marker("today", plot.x(today), "today", f"today, {today.isoformat()}"),)
        if plot.inside(today)
        else ()
    )
    latest = f"latest {inside[-1][1]}/10 on {inside[-1][0].isoformat()}" if inside else "no check-ins yet"
    return Chart(
        title="Confidence",
        description=f"Confidence from check-ins, 1 to 10; {latest}. {at_risk} or less is at risk.",
        lines=(Line("confidence", "confidence", points),) if len(points) > 1 else (),
        dots=dots,
        markers=markers,
        x_ticks=plot.month_ticks(),
        y_ticks=tuple(Tick(plot.y(v), str(v)) for v in (1, at_risk, 7, 10)),
        bands=(("risk", plot.y(at_risk), plot.y(1)),),
    )


def metric_trend(
    *,
    start: date,
    end: date,
    today: date,
    values: Sequence[tuple[date, float]],
    baseline: float,
    target: float,
    unit: str = "",
) -> Chart:
    """Plot a metric KR's value over the cycle against its baseline, its target and the ideal line."""
    seen = [v for _d, v in values]
    low, high = min([baseline, target, *seen]), max([baseline, target, *seen])
    if low == high:
        low, high = low - 1, high + 1
    plot = Plot(start, end, low, high)
    suffix = f" {unit}" if unit else ""
    lines = [
        Line(
            "baseline",
            f"baseline {baseline:g}{suffix}",
            ((plot.x_at(0), plot.y(baseline)), (plot.x_at(1), plot.y(baseline))),
        ),
        Line(
            "target",
            f"target {target:g}{suffix}",
            ((plot.x_at(0), plot.y(target)), (plot.x_at(1), plot.y(target))),
        ),
        Line(
            "ideal",
            "ideal: baseline to target over the cycle",
            ((plot.x_at(0), plot.y(baseline)), (plot.x_at(1), plot.y(target))),
        ),
        Line("done", "value", step_points(plot, values, until=min(today, end))),
    ]
    latest = f"{values[-1][1]:g}{suffix} on {values[-1][0].isoformat()}" if values else "no value yet"
    markers = (
        (Marker("today", plot.x(today), "today", f"today, {today.isoformat()}"),)
        if plot.inside(today)
        else ()
    )
    return Chart(
        title="Value",
        description=f"Value over the cycle: {latest}; baseline {baseline:g}{suffix}, target {target:g}{suffix}.",
        lines=tuple(line for line in lines if line.points),
        dots=tuple(
            Dot(plot.x(max(d, start)), plot.y(v), f"{d.isoformat()}: {v:g}{suffix}") for d, v in values[-1:]
        ),
        markers=markers,
        x_ticks=plot.month_ticks(),
        y_ticks=tuple(Tick(plot.y(v), f"{v:g}") for v in sorted({low, baseline, target, high})),
    )
