"""The weekly digest: its moment in the configured zone, and once per owner per week over weeks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from okrsync import checkins
from okrsync.digest import due_week
from okrsync.engine import run_cycle
from okrsync.sandbox.github import GitHubSim
from okrsync.store import Delivery, Event, session
from tests.helpers import FakeClock, Project, onboarding_sim, write_project

TOKEN = "ghp_digest_token"
BERLIN = ZoneInfo("Europe/Berlin")
INSTALL = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)  # a Tuesday

MAPPING = """
[cycle]
id = "2026-Q4"
start = 2026-10-01
end = 2026-12-31

[[objective]]
id = "ENG-1"
title = "Remove friction from onboarding"
owner = "bob"

[[objective.key_result]]
id = "ENG-1.1"
title = "Ship onboarding"
owner = "bob"
kind = "milestones"

[[objective.key_result.link]]
source = "github"
repo = "acme/web"
milestone = "Onboarding v2"

[[objective.key_result]]
id = "ENG-1.2"
title = "Cut onboarding errors by 80%"
owner = "carol"
kind = "metric"
baseline = 100
target = 20

[[objective.key_result]]
id = "ENG-1.3"
title = "p95 sign-up latency to 1.5 s"
owner = "bob"
kind = "metric"
baseline = 4
target = 1.5
"""

CHANNELS = """
[alerts]
digest_day = "Monday"
digest_hour = 9

[alerts.channels.journal]
type = "log"

[people.bob]
name = "Bob Stone"
"""


@pytest.mark.parametrize(
    ("now", "weekday", "hour", "expected"),
    [
        # Monday 09:00 in Berlin is 07:00Z in summer time (CEST, until 25 Oct), 08:00Z after.
        (datetime(2026, 10, 12, 6, 59, tzinfo=UTC), "monday", 9, None),
        (datetime(2026, 10, 12, 7, 0, tzinfo=UTC), "monday", 9, "2026-W42"),
        (datetime(2026, 10, 18, 21, 59, tzinfo=UTC), "monday", 9, "2026-W42"),  # Sunday 23:59 local
        (datetime(2026, 10, 18, 22, 0, tzinfo=UTC), "monday", 9, None),  # Monday 00:00: a new week
        (datetime(2026, 11, 2, 7, 59, tzinfo=UTC), "monday", 9, None),  # after the DST change: CET
        (datetime(2026, 11, 2, 8, 0, tzinfo=UTC), "monday", 9, "2026-W45"),
        (datetime(2026, 10, 16, 15, 0, tzinfo=UTC), "friday", 17, "2026-W42"),
        (datetime(2026, 10, 16, 14, 59, tzinfo=UTC), "friday", 17, None),
        (datetime(2026, 12, 28, 8, 0, tzinfo=UTC), "monday", 9, "2026-W53"),
    ],
)
def test_the_digest_is_due_from_its_day_and_hour_in_the_configured_zone(
    now: datetime, weekday: str, hour: int, expected: str | None
) -> None:
    due = due_week(now, tz=BERLIN, weekday=weekday, hour=hour)
    assert (due[0] if due else None) == expected


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(INSTALL)


@pytest.fixture
def sim(clock: FakeClock) -> Iterator[GitHubSim]:
    due = datetime(2026, 12, 18, 8, tzinfo=UTC)
    with onboarding_sim(clock, token=TOKEN, due=due, done_at=INSTALL - timedelta(days=1)) as simulator:
        yield simulator


def digests(project: Project) -> list[Event]:
    with session(project.engine) as db:
        query = select(Event).where(Event.type == "digest.weekly").order_by(Event.day, Event.owner)
        return list(db.execute(query).scalars())


def test_the_digest_is_sent_once_per_owner_per_week_and_lists_krs_without_a_check_in(
    sim: GitHubSim, clock: FakeClock, tmp_path: Path, database_url: str
) -> None:
    project = write_project(
        tmp_path, database_url=database_url, github_url=sim.url, token=TOKEN, mapping=MAPPING, extra=CHANNELS
    )
    tz = project.settings.okrsync.tz

    def cycles_until(moment: datetime) -> None:
        while clock() < moment:
            run_cycle(project.settings, project.okrs, project.engine, now=clock())
            clock.tick(6 * 3600)

    cycles_until(datetime(2026, 10, 9, 9, tzinfo=UTC))
    with session(project.engine) as db:
        checkins.add(
            db, "ENG-1.1", confidence=6, blocker="SSO vendor", next_action="Call vendor", now=clock(), tz=tz
        )
    cycles_until(datetime(2026, 10, 14, 9, tzinfo=UTC))
    sim.close_issue("acme/web", 2, at=clock())  # ENG-1.1 moves from 0.25 to 0.5 this week
    cycles_until(datetime(2026, 10, 21, 9, tzinfo=UTC))  # past two Monday mornings

    sent = digests(project)
    # None for the install week (its Monday came before okrsync watched), then one per owner a week.
    assert [(e.owner, e.dedupe_key.rsplit("|", 1)[1], e.day) for e in sent] == [
        ("bob", "2026-W42", date(2026, 10, 12)),
        ("carol", "2026-W42", date(2026, 10, 12)),
        ("bob", "2026-W43", date(2026, 10, 19)),
        ("carol", "2026-W43", date(2026, 10, 19)),
    ]
    with session(project.engine) as db:
        statuses = [
            d.status
            for d in db.execute(select(Delivery).where(Delivery.event_id.in_([e.id for e in sent]))).scalars()
        ]
    assert statuses == ["delivered"] * 4

    bob_w42, _carol_w42, bob_w43, _ = (e.payload for e in sent)
    assert bob_w42["missing_checkins"] == ["ENG-1.3"]  # ENG-1.1 had a check-in on 9 Oct
    eng11 = bob_w42["key_results"][0]
    assert (eng11["id"], eng11["score"], eng11["confidence"], eng11["blocker"], eng11["next"]) == (
        "ENG-1.1",
        0.25,
        6,
        "SSO vendor",
        "Call vendor",
    )
    assert eng11["change"] is None  # no history a week before the first digest
    assert "No check-in this week for ENG-1.3" in bob_w42["text"]
    assert bob_w42["owner"]["name"] == "Bob Stone"

    # A week on: 9 Oct is no longer "this week", and ENG-1.1 moved by +0.25 since last Monday.
    assert bob_w43["missing_checkins"] == ["ENG-1.1", "ENG-1.3"]
    assert bob_w43["key_results"][0]["change"] == 0.25
    assert "ENG-1.1 0.50 (+0.25 since last week)" in bob_w43["text"]


def test_without_a_channel_no_digest_is_recorded(
    sim: GitHubSim, clock: FakeClock, tmp_path: Path, database_url: str
) -> None:
    project = write_project(
        tmp_path, database_url=database_url, github_url=sim.url, token=TOKEN, mapping=MAPPING
    )
    run_cycle(project.settings, project.okrs, project.engine, now=clock())
    clock.now = datetime(2026, 10, 12, 10, tzinfo=UTC)
    run_cycle(project.settings, project.okrs, project.engine, now=clock())
    assert digests(project) == []
