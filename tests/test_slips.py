"""Slip rules (SPEC §5) with the clock injected: a table of cases over the pure detector."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from okrsync.days import local_day, overdue_from
from okrsync.okrs import Cycle, KeyResult, Objective, OkrSet
from okrsync.rollup import IssueFacts, MilestoneFacts, RollupInputs, roll_up
from okrsync.slips import Watch, detect

CYCLE = Cycle("2026-Q4", date(2026, 10, 1), date(2026, 12, 31))
KR = KeyResult(id="ENG-1.1", title="Ship onboarding", owner="bob", objective_id="ENG-1")
OKRS = OkrSet(
    cycles={CYCLE.id: CYCLE},
    objectives={
        "ENG-1": Objective(
            id="ENG-1", title="Onboarding", owner="alice", cycle_id=CYCLE.id, key_results=(KR,)
        )
    },
)
KEY = "acme/web#12"


def issues(open_count: int, done_count: int, *, done_at: datetime | None = None) -> tuple[IssueFacts, ...]:
    at = done_at or datetime(2026, 10, 2, 12, tzinfo=UTC)
    made = [
        IssueFacts(key=f"acme/web#{i}", title=f"t{i}", status="open", assignee="carol")
        for i in range(open_count)
    ]
    made += [
        IssueFacts(key=f"acme/web#{100 + i}", title=f"d{i}", status="done", done_at=at)
        for i in range(done_count)
    ]
    return tuple(made)


def run(
    *,
    today: date,
    due: date | None,
    work: tuple[IssueFacts, ...],
    state: str = "open",
    found: bool = True,
    previous_due: date | None = None,
    fetched: bool = True,
) -> list[str]:
    facts = MilestoneFacts("github", KEY, "Onboarding v2", state, due, work, found=found)  # type: ignore[arg-type]
    rollup = roll_up(OKRS, RollupInputs(milestones={KR.id: [(facts, 1.0)]}), today=today)
    watches = {}
    if previous_due is not None:
        watches[(KR.id, KEY)] = Watch(KR.id, KEY, "github", previous_due, "Onboarding v2", True)
    slips, _ = detect(
        rollup, watches, today=today, fetched={"github"} if fetched else set(), all_fetched=fetched
    )
    return sorted(s.type for s in slips)


DUE = date(2026, 11, 20)


@pytest.mark.parametrize("tz", ["Europe/Berlin", "America/Los_Angeles"])
@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (timedelta(minutes=-1), []),
        (timedelta(0), ["milestone.overdue"]),
        (timedelta(hours=30), ["milestone.overdue"]),
    ],
)
def test_overdue_from_the_first_minute_of_the_day_after_due_in_the_configured_zone(
    tz: str, offset: timedelta, expected: list[str]
) -> None:
    moment = overdue_from(DUE, ZoneInfo(tz)) + offset
    today = local_day(moment, ZoneInfo(tz))
    work = issues(2, 2, done_at=datetime(2026, 11, 19, tzinfo=UTC))
    assert [s for s in run(today=today, due=DUE, work=work) if s == "milestone.overdue"] == expected


def test_overdue_instant_differs_between_berlin_and_los_angeles() -> None:
    # The same instant is already 21 Nov in Berlin and still 20 Nov in Los Angeles.
    moment = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
    work = issues(1, 1)
    assert "milestone.overdue" in run(today=local_day(moment, ZoneInfo("Europe/Berlin")), due=DUE, work=work)
    assert "milestone.overdue" not in run(
        today=local_day(moment, ZoneInfo("America/Los_Angeles")), due=DUE, work=work
    )


CASES = [
    # (id, kwargs, expected event types)
    (
        "due moved later",
        {"today": date(2026, 11, 10), "due": date(2026, 12, 4), "previous_due": DUE},
        ["milestone.rescheduled"],
    ),
    ("due moved earlier", {"today": date(2026, 11, 10), "due": date(2026, 11, 15), "previous_due": DUE}, []),
    (
        "due removed",
        {"today": date(2026, 11, 10), "due": None, "previous_due": DUE},
        ["milestone.rescheduled"],
    ),
    ("due unchanged", {"today": date(2026, 11, 10), "due": DUE, "previous_due": DUE}, []),
    (
        "closed with all work done, long overdue",
        {"today": date(2026, 12, 20), "due": DUE, "state": "closed", "work": issues(0, 5)},
        [],
    ),
    ("open but all work done after due", {"today": date(2026, 12, 20), "due": DUE, "work": issues(0, 5)}, []),
    ("overdue with open work", {"today": date(2026, 11, 21), "due": DUE}, ["milestone.overdue"]),
    (
        "mapped milestone missing",
        {"today": date(2026, 11, 10), "due": None, "found": False, "work": ()},
        ["link.broken"],
    ),
    (
        "source failed this cycle",
        {"today": date(2026, 11, 25), "due": DUE, "previous_due": date(2026, 11, 1), "fetched": False},
        [],
    ),
]


@pytest.mark.parametrize(("kwargs", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rules(kwargs: dict, expected: list[str]) -> None:
    kwargs = {"work": issues(3, 1), **kwargs}
    assert run(**kwargs) == expected


def test_at_risk_from_a_forecast_after_the_due_day_but_not_once_it_is_due() -> None:
    today = date(2026, 11, 10)
    # 1 done in the trailing 14 days → 1/14 per day; 4 open → 56 days → far after the due day.
    work = issues(4, 1, done_at=datetime(2026, 11, 8, 12, tzinfo=UTC))
    assert run(today=today, due=DUE, work=work) == ["milestone.at_risk"]
    # Finishing well before the due day: 10 done in the window → 10/14 per day; 1 open → 2 days.
    quick = issues(1, 10, done_at=datetime(2026, 11, 8, 12, tzinfo=UTC))
    assert run(today=today, due=DUE, work=quick) == []
    # Past due it is overdue, no longer at risk.
    assert run(today=date(2026, 11, 21), due=DUE, work=work) == ["milestone.overdue"]


def test_watches_are_only_updated_for_fetched_sources() -> None:
    facts = MilestoneFacts("github", KEY, "Onboarding v2", "open", DUE, issues(1, 1))
    rollup = roll_up(OKRS, RollupInputs(milestones={KR.id: [(facts, 1.0)]}), today=date(2026, 11, 1))
    _, watches = detect(rollup, {}, today=date(2026, 11, 1), fetched=set(), all_fetched=False)
    assert watches == []
    _, watches = detect(rollup, {}, today=date(2026, 11, 1), fetched={"github"}, all_fetched=True)
    assert watches == [Watch(KR.id, KEY, "github", DUE, "Onboarding v2", True)]
