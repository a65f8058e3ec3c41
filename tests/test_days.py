"""Calendar days from tracker timestamps, across DST changes in Europe and the US."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from okrsync.days import due_day, is_overdue, local_day, overdue_from

BERLIN = ZoneInfo("Europe/Berlin")
LA = ZoneInfo("America/Los_Angeles")
ZONES = [pytest.param(BERLIN, id="berlin"), pytest.param(LA, id="los_angeles")]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# GitHub UI due_on values: Pacific midnight, sometimes with the offset of the other season.
# The day is the Pacific day whatever the configured zone.
PACIFIC_MIDNIGHTS = [
    # winter: PST midnight is 08:00Z; 07:00Z is a stale PDT offset (23:00 PST the evening before)
    ("2026-01-15T08:00:00", date(2026, 1, 15)),
    ("2026-01-15T07:00:00", date(2026, 1, 15)),
    # summer: PDT midnight is 07:00Z; 08:00Z is a stale PST offset (01:00 PDT)
    ("2026-07-15T07:00:00", date(2026, 7, 15)),
    ("2026-07-15T08:00:00", date(2026, 7, 15)),
    # US spring forward 2026-03-08: that midnight is still PST (08:00Z)
    ("2026-03-08T08:00:00", date(2026, 3, 8)),
    ("2026-03-08T07:00:00", date(2026, 3, 8)),
    ("2026-03-09T07:00:00", date(2026, 3, 9)),
    ("2026-03-09T08:00:00", date(2026, 3, 9)),
    # EU spring forward 2026-03-29 (Pacific already on PDT)
    ("2026-03-29T07:00:00", date(2026, 3, 29)),
    ("2026-03-29T08:00:00", date(2026, 3, 29)),
    # EU fall back 2026-10-25 (Pacific still on PDT)
    ("2026-10-25T07:00:00", date(2026, 10, 25)),
    ("2026-10-25T08:00:00", date(2026, 10, 25)),
    # US fall back 2026-11-01: that midnight is still PDT (07:00Z)
    ("2026-11-01T07:00:00", date(2026, 11, 1)),
    ("2026-11-01T08:00:00", date(2026, 11, 1)),
    ("2026-11-02T08:00:00", date(2026, 11, 2)),
    ("2026-11-02T07:00:00", date(2026, 11, 2)),
]


@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize(("due_on", "expected"), PACIFIC_MIDNIGHTS)
def test_github_ui_due_on_is_the_pacific_day_in_any_zone(due_on: str, expected: date, tz: ZoneInfo) -> None:
    assert due_day(utc(due_on), tz) == expected


@pytest.mark.parametrize(
    ("due_on", "tz", "expected"),
    [
        # an arbitrary API time is read in the configured zone
        ("2026-11-20T23:39:01", BERLIN, date(2026, 11, 21)),
        ("2026-11-20T23:39:01", LA, date(2026, 11, 20)),
        ("2026-06-10T23:39:01", BERLIN, date(2026, 6, 11)),
        ("2026-06-10T23:39:01", LA, date(2026, 6, 10)),
        ("2026-10-25T23:39:01", BERLIN, date(2026, 10, 26)),
        ("2026-10-25T23:39:01", LA, date(2026, 10, 25)),
        # exactly 2 h before PST midnight of 11-20 (22:00 PST on 11-19) still snaps forward
        ("2026-11-20T06:00:00", LA, date(2026, 11, 20)),
        # a minute further away it is an ordinary instant: 21:59 PST on 11-19, 06:59 CET on 11-20
        ("2026-11-20T05:59:00", LA, date(2026, 11, 19)),
        ("2026-11-20T05:59:00", BERLIN, date(2026, 11, 20)),
    ],
)
def test_api_due_on_is_the_day_in_the_configured_zone(due_on: str, tz: ZoneInfo, expected: date) -> None:
    assert due_day(utc(due_on), tz) == expected


def test_due_day_reads_an_instant_given_in_another_zone_by_its_instant() -> None:
    evening_before = datetime(2026, 1, 14, 23, 0, tzinfo=LA)  # == 2026-01-15T07:00Z
    assert due_day(evening_before, BERLIN) == date(2026, 1, 15)


def test_due_day_refuses_a_naive_timestamp() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        due_day(datetime(2026, 1, 15, 8, 0), BERLIN)  # noqa: DTZ001


@pytest.mark.parametrize(
    ("due", "tz", "expected"),
    [
        (date(2026, 10, 24), BERLIN, "2026-10-24T22:00:00"),  # next midnight still CEST
        (date(2026, 10, 25), BERLIN, "2026-10-25T23:00:00"),  # next midnight CET
        (date(2026, 3, 28), BERLIN, "2026-03-28T23:00:00"),  # next midnight still CET
        (date(2026, 3, 29), BERLIN, "2026-03-29T22:00:00"),  # next midnight CEST
        (date(2026, 10, 31), LA, "2026-11-01T07:00:00"),  # next midnight still PDT
        (date(2026, 11, 1), LA, "2026-11-02T08:00:00"),  # next midnight PST
        (date(2026, 3, 7), LA, "2026-03-08T08:00:00"),  # next midnight still PST
        (date(2026, 3, 8), LA, "2026-03-09T07:00:00"),  # next midnight PDT
    ],
)
def test_overdue_from_is_the_next_local_midnight_across_dst(due: date, tz: ZoneInfo, expected: str) -> None:
    start = overdue_from(due, tz)
    assert start == utc(expected)
    assert start.tzinfo is UTC


@pytest.mark.parametrize(
    ("due", "tz", "boundary"),
    [
        (date(2026, 10, 24), BERLIN, "2026-10-24T22:00:00"),
        (date(2026, 10, 25), BERLIN, "2026-10-25T23:00:00"),
        (date(2026, 10, 31), LA, "2026-11-01T07:00:00"),
        (date(2026, 11, 1), LA, "2026-11-02T08:00:00"),
    ],
)
def test_overdue_starts_at_the_boundary_not_a_minute_before(due: date, tz: ZoneInfo, boundary: str) -> None:
    assert not is_overdue(due, now=utc(boundary) - timedelta(minutes=1), tz=tz)
    assert is_overdue(due, now=utc(boundary), tz=tz)


def test_is_overdue_refuses_a_naive_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        is_overdue(date(2026, 11, 1), now=datetime(2026, 11, 2, 12, 0), tz=LA)  # noqa: DTZ001


@pytest.mark.parametrize(
    ("now", "tz", "expected"),
    [
        ("2026-10-24T22:30:00", BERLIN, date(2026, 10, 25)),
        ("2026-10-24T22:30:00", LA, date(2026, 10, 24)),
        ("2026-11-02T07:30:00", LA, date(2026, 11, 1)),  # 23:30 PST
    ],
)
def test_local_day_is_today_in_the_configured_zone(now: str, tz: ZoneInfo, expected: date) -> None:
    assert local_day(utc(now), tz) == expected


def test_local_day_refuses_a_naive_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        local_day(datetime(2026, 10, 24, 22, 30), BERLIN)  # noqa: DTZ001
