"""Roll issue completion up into milestone, key-result and objective progress (SPEC §2).

Everything here is pure: the facts come in as frozen records, `today` comes in as a keyword
argument, and nothing touches the database, a tracker or the clock. That keeps every rule a
one-line case in a parametrised test, and lets `status`, `score`, the report and the slip
detector all read the same numbers.

Flow: `milestone_progress` (issues → one milestone) → `kr_progress` (milestones or a metric
value → one KR) → `roll_up` (KRs and child objectives → objectives, for a whole `OkrSet`).

A milestone's numbers depend on its issues only through a few facts per issue (status, pull
request or not, estimate, done inside the burn-up window or not), so `milestone_progress` works
on `IssueGroup`s: issues alike in those facts, with a count. The store hands over the groups
straight from one SQL GROUP BY (an org of 100,000 issues is a few thousand groups, never
100,000 objects in memory); tests and the `kr:` label milestones hand over `IssueFacts`, which
are grouped here the same way, so both paths run the same arithmetic in the same order.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal, NamedTuple

from connectors.records import IssueStatus
from okrsync.errors import MappingError, Problem
from okrsync.okrs import Cycle, KeyResult, Objective, OkrSet, Weighting

__all__ = [
    "AT_RISK_GAP",
    "BURN_UP_WINDOW_DAYS",
    "LOW_CONFIDENCE",
    "NOT_SYNCED",
    "OFF_TRACK_GAP",
    "Forecast",
    "IssueFacts",
    "IssueGroup",
    "KrProgress",
    "MilestoneFacts",
    "MilestoneProgress",
    "ObjectiveProgress",
    "Rollup",
    "RollupInputs",
    "Status",
    "burn_up_window",
    "expected_progress",
    "forecast",
    "group_issues",
    "kr_progress",
    "milestone_progress",
    "not_synced_reason",
    "roll_up",
    "shown_progress",
    "two_decimals",
    "worst",
]

Status = Literal["unknown", "done", "on_track", "at_risk", "off_track"]

# Badness order for "an objective takes its worst KR's status". `unknown` is worse than any
# verdict: a part that was never read leaves the whole without one (see `roll_up`).
_BADNESS: dict[Status, int] = {"done": 0, "on_track": 1, "at_risk": 2, "off_track": 3, "unknown": 4}

OFF_TRACK_GAP = 0.25  # progress this far below expected is off track
AT_RISK_GAP = 0.10  # ... and this far below is at risk
LOW_CONFIDENCE = 4  # a check-in confidence at or below this is at risk
BURN_UP_WINDOW_DAYS = 14  # trailing days the burn-up rate is measured over

# Threshold comparisons are made on differences of floats (0.6 - 0.25 is not exactly 0.35);
# a value exactly on a boundary must not flip a traffic light because of binary rounding.
_EPS = 1e-9
_CENT = Decimal("0.01")


# --- inputs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssueFacts:
    """One issue of a milestone, as much of it as the roll-up and the alerts need."""

    key: str
    title: str
    status: IssueStatus
    url: str | None = None
    assignee: str | None = None
    points: float | None = None
    done_at: datetime | None = None
    is_pull_request: bool = False
    in_progress: bool = False  # open and started (see `milestone_progress`, partial credit)

    def __post_init__(self) -> None:
        # A naive done_at would silently shift burn-up days; stored timestamps are aware UTC.
        if self.done_at is not None and self.done_at.utcoffset() is None:
            msg = f"issue {self.key}: done_at must be timezone-aware, got {self.done_at.isoformat()}"
            raise ValueError(msg)


@dataclass(frozen=True)
class IssueGroup:
    """`count` issues of one milestone that the roll-up cannot tell apart.

    They share a status, pull request or not, an estimate (`points`, None when unestimated)
    and `recent`: done within the burn-up window that ends on the roll-up's `today` (see
    `burn_up_window`). Only done issues are ever `recent`. The groups are therefore made for
    one `today`: whoever builds them (the store's GROUP BY, or `group_issues`) is given it.
    """

    status: IssueStatus
    is_pull_request: bool
    points: float | None
    recent: bool
    count: int
    in_progress: bool = False  # open and started: partial credit when the KR's weight asks for it


@dataclass(frozen=True)
class MilestoneFacts:
    """A milestone (GitHub milestone, Jira version, epic or JQL set) with its issues.

    `due` is already a calendar day in the configured zone (see `okrsync.days.due_day`).
    `found=False` means the mapping names a milestone the tracker does not have (deleted or
    renamed): it carries no issues and is reported as `missing`. `implicit=True` marks the
    "<KR-ID> direct work" milestone built from issues labelled `kr:<KR-ID>`.

    The numbers come from `groups` when given (the store's aggregate, made for the `today`
    the milestone is rolled up on); `issues` are then only the issues loaded in detail (the
    open ones, for `explain` and alerts), and may be none. Without `groups` the numbers come
    from `issues`, which must then be all of the milestone's issues.
    """

    source: str
    key: str
    title: str
    state: Literal["open", "closed"]
    due: date | None
    issues: tuple[IssueFacts, ...]
    url: str | None = None
    found: bool = True
    implicit: bool = False
    groups: tuple[IssueGroup, ...] | None = None


@dataclass(frozen=True)
class RollupInputs:
    """Everything `roll_up` needs besides the OKRs themselves, keyed by KR id or source name.

    - `milestones`: per KR id, its milestones each with the link weight (implicit milestones
      included, usually with weight 1);
    - `values`: current value of metric KRs (latest check-in or tracker count);
    - `confidences`: latest check-in confidence (1–10) per KR id;
    - `include_pull_requests`: per source name; a source not listed leaves pull requests out;
    - `not_synced`: per source name that has never completed a sync, why (its last error, or
      that it was never polled). Whatever such a source feeds is `unknown` (see `roll_up`).
    """

    milestones: Mapping[str, Sequence[tuple[MilestoneFacts, float]]] = field(default_factory=dict)
    values: Mapping[str, float] = field(default_factory=dict)
    confidences: Mapping[str, int] = field(default_factory=dict)
    include_pull_requests: Mapping[str, bool] = field(default_factory=dict)
    not_synced: Mapping[str, str] = field(default_factory=dict)
    in_progress_weights: Mapping[str, float] = field(default_factory=dict)
    """Per source, the share of in-progress work counted as done for KRs that set none (else 0)."""


# --- outputs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MilestoneProgress:
    """Where one milestone stands on `today`.

    `done`, `total` and `excluded` count issues: in-scope done, in-scope total, and excluded
    (closed as not planned / won't do; pull requests left out by the source are in none of the
    three). `done_weight`/`total_weight` are the same in the KR's weighting. `overdue` is true
    only when the due day has passed *and* in-scope work is still open — the condition that
    makes a milestone off track and raises `milestone.overdue`. `open_count` counts the
    in-scope open issues; `open_issues` lists them only when they were loaded in detail
    (`MilestoneFacts.issues`: `explain`'s KR, a slip's alert), else it is empty — read
    `open_count` for how many there are. `open_count` defaults to 0 only so that a progress
    built by hand (tests) need not spell it out; `milestone_progress` always sets it.

    `not_synced` says why a milestone of a source that has never completed a sync is
    `unknown` (`reason` puts it in words): it was never read, so it is neither missing nor
    late, and its numbers are 0.
    """

    source: str
    key: str
    title: str
    url: str | None
    due: date | None
    state: Literal["open", "closed"]
    progress: float
    done: int
    total: int
    excluded: int
    done_weight: float
    total_weight: float
    unestimated: int
    empty: bool
    missing: bool
    forecast: date | None
    stalled: bool
    overdue: bool
    status: Status
    open_issues: tuple[IssueFacts, ...]
    implicit: bool = False
    open_count: int = 0
    not_synced: str | None = None
    in_progress: int = 0
    """In-scope open issues that are in progress (counted whatever the weight)."""
    in_progress_weight: float = 0.0
    """The share of each in-progress issue's weight counted in `progress` (0: none)."""

    @property
    def reason(self) -> str | None:
        """Why the milestone is `unknown` ("not synced yet: …"), None when it was read."""
        return not_synced_reason(() if self.not_synced is None else (self.not_synced,))


@dataclass(frozen=True)
class KrProgress:
    """Where one key result stands: progress 0..1, its 2-decimal score and traffic light.

    An `unknown` KR (part of its data was never read: `not_synced` holds why, once per
    source, and `reason` says it in words) has no score;
    its `progress` is only what the data read so far adds up to, and no view shows it
    (`shown_progress`).
    """

    id: str
    progress: float
    score: float | None
    status: Status
    expected: float
    value: float | None
    confidence: int | None
    milestones: tuple[MilestoneProgress, ...]
    not_synced: tuple[str, ...] = ()

    @property
    def reason(self) -> str | None:
        """Why the KR is `unknown` ("not synced yet: …"), None when it has a verdict."""
        return not_synced_reason(self.not_synced)


@dataclass(frozen=True)
class ObjectiveProgress:
    """Where one objective stands, from its KRs and its child objectives (`unknown` as a KR)."""

    id: str
    progress: float
    score: float | None
    status: Status
    expected: float
    not_synced: tuple[str, ...] = ()

    @property
    def reason(self) -> str | None:
        """Why the objective is `unknown` ("not synced yet: …"), None when it has a verdict."""
        return not_synced_reason(self.not_synced)


@dataclass(frozen=True)
class Rollup:
    """The progress of every objective and KR of an `OkrSet` on one day."""

    objectives: dict[str, ObjectiveProgress]
    key_results: dict[str, KrProgress]
    today: date


class Forecast(NamedTuple):
    """When a milestone's remaining work will be done at the recent burn-up rate."""

    day: date | None  # None when nothing remains, or when stalled
    stalled: bool  # work remains and nothing was done in the trailing window
    rate: float  # weight done per day over the trailing window


# --- rules -------------------------------------------------------------------------------


def two_decimals(value: float) -> float:
    """Round to 2 decimals, half up, on the value as written: the score of SPEC §2.

    `round()` works on the binary float, where 139/200 = 0.695 is 0.69499…, so 0.695 became
    0.69 and its KR fell from strong to partial. The shortest decimal that reads back as the
    same float ("0.695") is the value people see and compute by hand; it rounds to 0.70.
    """
    return float(Decimal(repr(value)).quantize(_CENT, rounding=ROUND_HALF_UP))


NOT_SYNCED = "not synced yet: "


def not_synced_reason(details: Sequence[str]) -> str | None:
    """Say why something is `unknown`: "not synced yet: " and each unread source's reason once."""
    return NOT_SYNCED + "; ".join(dict.fromkeys(details)) if details else None


def shown_progress(p: KrProgress | ObjectiveProgress) -> float | None:
    """Progress as the views print it (4 decimals); None when `unknown`: never a number on data not read."""
    return None if p.status == "unknown" else round(p.progress, 4)


def worst(statuses: Iterable[Status]) -> Status | None:
    """Return the worst status (done < on_track < at_risk < off_track), None for none."""
    return max(statuses, key=_BADNESS.__getitem__, default=None)


def expected_progress(cycle: Cycle, today: date) -> float:
    """Return the share of `cycle` elapsed on `today`: where progress "should" be.

    Days are counted inclusively on both ends, so today counts as elapsed: on the first day
    of a 92-day quarter 1/92 is expected, on its last day 1.0. That reads naturally in a
    status report ("by the end of today"), and makes the last day demand completion. Before
    the cycle starts it is 0, after it ends 1.
    """
    length = (cycle.end - cycle.start).days + 1
    if length <= 0:
        return 1.0 if today >= cycle.start else 0.0
    elapsed = (today - cycle.start).days + 1
    return min(1.0, max(0.0, elapsed / length))


def burn_up_window(today: date) -> tuple[date, date]:
    """Return the first and last day (inclusive, UTC dates) of the burn-up window ending `today`.

    One definition for the pure rules and for the store's SQL, which turns it into UTC
    instants: a done instant counts when its UTC date falls within these days.
    """
    return today - timedelta(days=BURN_UP_WINDOW_DAYS - 1), today


def _is_recent(done_at: datetime | None, window: tuple[date, date]) -> bool:
    return done_at is not None and window[0] <= done_at.astimezone(UTC).date() <= window[1]


def forecast(
    remaining: float,
    *,
    done: Iterable[tuple[datetime | None, float]],
    today: date,
) -> Forecast:
    """Forecast the day `remaining` weight will be done, from recent done dates.

    The rate is the weight of issues done in the trailing `BURN_UP_WINDOW_DAYS` days
    (today-13 .. today inclusive) divided by 14. A done instant is read as its UTC date:
    shifting a close by a few hours moves it across the window edge at most once, which does
    not matter for a two-week average, and it keeps this function free of a timezone.
    `done` pairs each done issue's `done_at` (None when the tracker gave none: it counts as done
    but says nothing about pace) with its weight.
    """
    window = burn_up_window(today)
    recent = sum(weight for done_at, weight in done if _is_recent(done_at, window))
    return _forecast(remaining, recent=recent, today=today)


def _forecast(remaining: float, *, recent: float, today: date) -> Forecast:
    """Forecast from the weight done within the burn-up window: all the pace the rule reads."""
    rate = recent / BURN_UP_WINDOW_DAYS
    if remaining <= _EPS:
        return Forecast(day=None, stalled=False, rate=rate)
    if rate <= 0:
        return Forecast(day=None, stalled=True, rate=0.0)
    # Subtract a hair before rounding up so 10.000000000001 days stays 10 days.
    days = math.ceil(remaining / rate - _EPS)
    return Forecast(day=today + timedelta(days=days), stalled=False, rate=rate)


def _group_order(group: IssueGroup) -> tuple[str, bool, bool, float, bool, bool]:
    """Order groups canonically, so sums over them do not depend on where they came from."""
    points = group.points
    return (
        group.status,
        group.is_pull_request,
        points is None,
        0.0 if points is None else points,
        group.recent,
        group.in_progress,
    )


def group_issues(issues: Iterable[IssueFacts], *, today: date) -> tuple[IssueGroup, ...]:
    """Group issues as the store's aggregate query does, for the roll-up on `today`."""
    window = burn_up_window(today)
    counts = Counter(
        (
            i.status,
            i.is_pull_request,
            i.points,
            i.status == "done" and _is_recent(i.done_at, window),
            i.status == "open" and i.in_progress,
        )
        for i in issues
    )
    groups = (
        IssueGroup(status, pr, points, recent, n, started)
        for (status, pr, points, recent, started), n in counts.items()
    )
    return tuple(sorted(groups, key=_group_order))


def _median(estimates: Sequence[tuple[float, int]]) -> float:
    """Return the median of a multiset given as sorted (value, count) pairs, as `statistics.median`.

    An even number of values gives the mean of the middle two, like `statistics.median`, so
    the grouped roll-up weighs an unestimated issue exactly as the per-issue one did.
    """
    n = sum(count for _, count in estimates)

    def nth(index: int) -> float:
        for value, count in estimates:
            if index < count:
                return value
            index -= count
        msg = f"median: index {index} past the end of {n} values"
        raise IndexError(msg)

    if n % 2:
        return float(nth(n // 2))
    return (nth(n // 2 - 1) + nth(n // 2)) / 2


def _in_scope(pull_request: bool, include_pull_requests: bool) -> bool:
    return include_pull_requests or not pull_request


def milestone_progress(
    m: MilestoneFacts,
    *,
    weighting: Weighting,
    today: date,
    include_pull_requests: bool = False,
    not_synced: str | None = None,
    in_progress_weight: float = 0.0,
) -> MilestoneProgress:
    """Compute one milestone's progress, forecast and status on `today` (SPEC §2).

    Partial credit: with `in_progress_weight` w > 0, each in-scope open issue that is in
    progress counts as w of its weight done: progress = (done + w × in progress) / in scope,
    so half the issues done and the other half in progress at w = 0.5 is 0.75. It moves
    progress only: the forecast still reads the remaining weight and pace of *done* work, and
    the milestone is done (and never overdue) only when no work is open.

    Excluded issues are out of scope, and pull requests too unless the source includes them.
    With `points` weighting an unestimated issue weighs the median of the milestone's estimated
    in-scope issues (1 if none is estimated), so a few missing estimates neither stall nor
    inflate progress; they are counted in `unestimated` so the gap stays visible.

    A milestone the tracker no longer has (`found=False`) is `missing`: progress 0 and
    `at_risk`, not `off_track`, because nothing is known to be late — the link is broken, and
    `link.broken` tells the owner so.

    A milestone whose source has never completed a sync (`not_synced`, the reason) was never
    read: it is `unknown`, with no numbers, and not missing even though it is not stored.
    """
    if not_synced is not None:
        return _unread_milestone(m, reason=not_synced)
    groups = m.groups if m.groups is not None else group_issues(m.issues, today=today)
    considered = (
        [g for g in sorted(groups, key=_group_order) if _in_scope(g.is_pull_request, include_pull_requests)]
        if m.found
        else []
    )
    scoped = [g for g in considered if g.status != "excluded"]
    excluded = sum(g.count for g in considered) - sum(g.count for g in scoped)

    unestimated = 0
    fallback = 1.0
    if weighting == "points":
        estimates = sorted((float(g.points), g.count) for g in scoped if g.points is not None)
        fallback = _median(estimates) if estimates else 1.0
        unestimated = sum(g.count for g in scoped if g.points is None)

    def weight(g: IssueGroup) -> float:
        if weighting != "points":
            return 1.0
        return fallback if g.points is None else float(g.points)

    done_groups = [g for g in scoped if g.status == "done"]
    started_groups = [g for g in scoped if g.status == "open" and g.in_progress]
    done_weight = sum(weight(g) * g.count for g in done_groups)
    started_weight = sum(weight(g) * g.count for g in started_groups)
    total_weight = sum(weight(g) * g.count for g in scoped)
    done = sum(g.count for g in done_groups)
    started = sum(g.count for g in started_groups)
    total = sum(g.count for g in scoped)
    open_count = sum(g.count for g in scoped if g.status == "open")
    open_issues = (
        tuple(
            i for i in m.issues if i.status == "open" and _in_scope(i.is_pull_request, include_pull_requests)
        )
        if m.found
        else ()
    )
    empty = m.found and not scoped

    if not m.found or not scoped:
        # SPEC: an empty milestone is complete once closed (or released), else not started.
        progress = 1.0 if (m.found and m.state == "closed") else 0.0
    elif total_weight > 0:
        progress = (done_weight + in_progress_weight * started_weight) / total_weight
    else:
        # Every in-scope issue estimated at 0 points: fall back to counting issues.
        progress = (done + in_progress_weight * started) / total

    fc = _forecast(
        total_weight - done_weight,
        recent=sum(weight(g) * g.count for g in done_groups if g.recent),
        today=today,
    )
    work_open = open_count > 0
    overdue = m.due is not None and today > m.due and work_open

    status: Status
    if not m.found:
        status = "at_risk"
    elif progress >= 1:
        status = "done"
    elif overdue:
        status = "off_track"
    elif (
        m.due is not None
        and work_open
        and ((fc.day is not None and fc.day > m.due) or (fc.stalled and today <= m.due))
    ):
        # A stalled milestone with no due day has nothing to slip against: not at risk.
        status = "at_risk"
    else:
        status = "on_track"

    return MilestoneProgress(
        source=m.source,
        key=m.key,
        title=m.title,
        url=m.url,
        due=m.due,
        state=m.state,
        progress=progress,
        done=done,
        total=total,
        excluded=excluded,
        done_weight=done_weight,
        total_weight=total_weight,
        unestimated=unestimated,
        empty=empty,
        missing=not m.found,
        forecast=fc.day,
        stalled=fc.stalled,
        overdue=overdue,
        status=status,
        open_issues=open_issues,
        implicit=m.implicit,
        open_count=open_count,
        in_progress=started,
        in_progress_weight=in_progress_weight,
    )


def _unread_milestone(m: MilestoneFacts, *, reason: str) -> MilestoneProgress:
    """The `unknown` milestone of a source never synced: no progress, forecast or verdict."""
    return MilestoneProgress(
        source=m.source,
        key=m.key,
        title=m.title,
        url=m.url,
        due=m.due,
        state=m.state,
        progress=0.0,
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
        overdue=False,
        status="unknown",
        open_issues=(),
        implicit=m.implicit,
        not_synced=reason,
    )


def _metric_progress(kr: KeyResult, value: float | None) -> float:
    """Return clamp((value - baseline) / (target - baseline), 0, 1); 0 when unknowable.

    The formula works for falling targets (4 s → 1.5 s) because numerator and denominator are
    both negative. A missing baseline counts as 0 (the usual start for a count); a missing
    value or target gives 0; baseline == target (a lint warning) gives 1 only on the target.
    """
    if value is None or kr.target is None:
        return 0.0
    baseline = kr.baseline if kr.baseline is not None else 0.0
    span = kr.target - baseline
    if span == 0:
        return 1.0 if value == kr.target else 0.0
    return min(1.0, max(0.0, (value - baseline) / span))


def _status(
    progress: float, *, expected: float, milestones: Iterable[MilestoneProgress], confidence: int | None
) -> Status:
    """Apply SPEC §2's traffic-light order to a KR (first match wins)."""
    ms_status = worst(m.status for m in milestones)
    if progress >= 1:
        return "done"
    if ms_status == "off_track" or progress < expected - OFF_TRACK_GAP - _EPS:
        return "off_track"
    # A milestone is at risk when its forecast lands after its due day (or it has stalled
    # before it, or its link is broken): any of those puts the KR at risk.
    if (
        ms_status == "at_risk"
        or progress < expected - AT_RISK_GAP - _EPS
        or (confidence is not None and confidence <= LOW_CONFIDENCE)
    ):
        return "at_risk"
    return "on_track"


def kr_progress(
    kr: KeyResult,
    milestones: Sequence[tuple[MilestoneProgress, float]],
    *,
    value: float | None,
    confidence: int | None,
    expected: float,
    not_synced: Mapping[str, str] | None = None,
) -> KrProgress:
    """Compute a key result's progress, score and status from its milestones or its value.

    A `milestones` KR takes the link-weighted mean of its milestones' progress (0 with no
    milestones, or when every link weight is 0). A `metric` KR takes its value against
    baseline and target; any milestones still count towards its status.

    A KR is `unknown`, with no score, when any of its inputs was never read: a milestone of a
    source that has never synced (`MilestoneProgress.not_synced`), or, for a metric KR
    counted by a `value_query`, a `value_source` in `not_synced` while no value is known
    (a checked-in value counts: it is data a person gave). Part of the data unread is enough:
    a mean over the half that was read would be a verdict on data not read.
    """
    ms = tuple(m for m, _ in milestones)
    unread = [m.not_synced for m in ms if m.not_synced is not None]
    if kr.kind == "metric" and kr.value_query and value is None and kr.value_source in (not_synced or {}):
        unread.append((not_synced or {})[kr.value_source or ""])
    if kr.kind == "metric":
        progress = _metric_progress(kr, value)
    else:
        total = sum(w for _, w in milestones)
        progress = sum(m.progress * w for m, w in milestones) / total if total > 0 else 0.0
    if unread:
        return KrProgress(
            id=kr.id,
            progress=progress,
            score=None,
            status="unknown",
            expected=expected,
            value=value,
            confidence=confidence,
            milestones=ms,
            not_synced=tuple(dict.fromkeys(unread)),
        )
    return KrProgress(
        id=kr.id,
        progress=progress,
        score=two_decimals(progress),
        status=_status(progress, expected=expected, milestones=ms, confidence=confidence),
        expected=expected,
        value=value,
        confidence=confidence,
        milestones=ms,
    )


def _in_progress_weight(kr: KeyResult, facts: MilestoneFacts, inputs: RollupInputs) -> float:
    """Choose a milestone's partial credit: the KR's `in_progress_weight`, else its source's.

    The `kr:` label milestone gathers issues of every source, so without a KR weight it takes
    the lowest of the sources' defaults: credit nobody configured is never given.
    """
    if kr.in_progress_weight is not None:
        return kr.in_progress_weight
    if facts.implicit:
        return min(inputs.in_progress_weights.values(), default=0.0)
    return inputs.in_progress_weights.get(facts.source, 0.0)


def _cycle_of(okrs: OkrSet, objective: Objective) -> Cycle:
    try:
        return okrs.cycles[objective.cycle_id]
    except KeyError:
        problem = Problem(
            objective.where.file,
            objective.where.line,
            f"objective {objective.id}.cycle",
            f"expected one of the cycles {sorted(okrs.cycles)}, got {objective.cycle_id!r}",
        )
        raise MappingError([problem]) from None


def roll_up(okrs: OkrSet, inputs: RollupInputs, *, today: date) -> Rollup:
    """Compute the progress of every KR and objective of `okrs` on `today`.

    An objective's progress is the weighted mean over its KRs (`KeyResult.weight`) and its
    child objectives (`Objective.weight`; children are found through `parent`, in any cycle).
    Its status is its worst KR's; with no KRs, its worst child's; with neither, `on_track`
    at progress 0. A parent loop (which validation should already refuse) is cut where it
    closes: an objective being computed is not counted again as its own descendant.

    An objective with an `unknown` KR or child objective is `unknown` too, with no score: its
    progress is a mean over that part. The reasons of its unknown parts are its `reason`.
    """
    key_results: dict[str, KrProgress] = {}
    for objective in okrs.objectives.values():
        expected = expected_progress(_cycle_of(okrs, objective), today)
        for kr in objective.key_results:
            ms = [
                (
                    milestone_progress(
                        facts,
                        weighting=kr.weighting,
                        today=today,
                        include_pull_requests=inputs.include_pull_requests.get(facts.source, False),
                        not_synced=None if facts.implicit else inputs.not_synced.get(facts.source),
                        in_progress_weight=_in_progress_weight(kr, facts, inputs),
                    ),
                    weight,
                )
                for facts, weight in inputs.milestones.get(kr.id, ())
            ]
            key_results[kr.id] = kr_progress(
                kr,
                ms,
                value=inputs.values.get(kr.id),
                confidence=inputs.confidences.get(kr.id),
                expected=expected,
                not_synced=inputs.not_synced,
            )

    objectives: dict[str, ObjectiveProgress] = {}
    visiting: set[str] = set()

    def visit(objective: Objective) -> ObjectiveProgress:
        if objective.id in objectives:
            return objectives[objective.id]
        visiting.add(objective.id)
        children = [
            (visit(child), child.weight) for child in okrs.children(objective.id) if child.id not in visiting
        ]
        krs = [(key_results[kr.id], kr.weight) for kr in objective.key_results]
        parts = [(p.progress, w) for p, w in krs] + [(c.progress, w) for c, w in children]
        total = sum(w for _, w in parts)
        progress = sum(p * w for p, w in parts) / total if total > 0 else 0.0
        status = worst(p.status for p, _ in krs) or worst(c.status for c, _ in children) or "on_track"
        unread = [why for p, _ in krs for why in p.not_synced]
        unread += [why for c, _ in children for why in c.not_synced]
        result = ObjectiveProgress(
            id=objective.id,
            progress=progress,
            score=None if unread else two_decimals(progress),
            status="unknown" if unread else status,
            expected=expected_progress(_cycle_of(okrs, objective), today),
            not_synced=tuple(dict.fromkeys(unread)),
        )
        visiting.discard(objective.id)
        objectives[objective.id] = result
        return result

    for objective in okrs.objectives.values():
        visit(objective)
    return Rollup(objectives=objectives, key_results=key_results, today=today)
