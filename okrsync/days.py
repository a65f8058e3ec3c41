"""Turn tracker timestamps into calendar days, and days back into instants: the one place it happens.

A due date is a calendar day in the configured timezone (SPEC §2, Time), but trackers hand us
different things: Jira a plain day, GitHub a timestamp. Every conversion between an instant and
a day lives here so that DST and GitHub's quirks are handled once and tested once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["PACIFIC", "SNAP_TO_PACIFIC_MIDNIGHT", "due_day", "is_overdue", "local_day", "overdue_from"]

# GitHub's web UI stores a milestone's day as midnight in this zone, whatever the user's zone.
PACIFIC = ZoneInfo("America/Los_Angeles")

# How close to a Pacific midnight an instant must be to be read as "that Pacific day".
# GitHub sometimes keeps the UTC offset from when the date was set (07:00Z in winter, 08:00Z in
# summer), so a true Pacific midnight can appear an hour off; two hours covers that with room,
# while an arbitrary API time (say 23:39Z) is far from any Pacific midnight.
SNAP_TO_PACIFIC_MIDNIGHT = timedelta(hours=2)


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        msg = f"{name} must be a timezone-aware datetime, got naive {value.isoformat()}"
        raise ValueError(msg)


def due_day(due_at: datetime, tz: ZoneInfo) -> date:
    """Return the calendar day a GitHub milestone's `due_on` timestamp stands for.

    GitHub's UI lets a user pick a *day* but stores it as the instant of midnight in
    America/Los_Angeles on that day: 07:00Z while Pacific daylight time is in force, 08:00Z in
    standard time. Read naively in UTC or in a European zone that is still the right day, but
    read in the Pacific zone itself it can be the evening before (07:00Z in January is 23:00 PST
    the previous day), and GitHub does not always re-derive the offset, so 07:00Z shows up in
    winter and 08:00Z in summer. Hence the rule:

    - an instant within ±2 h of a Pacific midnight is that Pacific day (we round to the nearest
      Pacific midnight), whatever `tz` is, because that is the day the user chose in the UI;
    - any other instant (a `due_on` set through the API with an arbitrary time) is the calendar
      day of that instant in the configured `tz`, the zone the team works in.
    """
    _require_aware(due_at, "due_at")
    instant = due_at.astimezone(UTC)
    pacific_day = instant.astimezone(PACIFIC).date()
    # The nearest Pacific midnight is the start of this Pacific day or of the next one.
    for candidate in (pacific_day, pacific_day + timedelta(days=1)):
        midnight = datetime.combine(candidate, time(0), tzinfo=PACIFIC).astimezone(UTC)
        if abs(instant - midnight) <= SNAP_TO_PACIFIC_MIDNIGHT:
            return candidate
    return instant.astimezone(tz).date()


def local_day(now: datetime, tz: ZoneInfo) -> date:
    """Return today's date in the configured zone, the day every due date is compared with.

    Naive datetimes are refused: their zone is a guess, and a wrong guess moves "today" by a
    day near midnight, which is exactly when slip alerts fire.
    """
    _require_aware(now, "now")
    return now.astimezone(tz).date()


def overdue_from(due: date, tz: ZoneInfo) -> datetime:
    """Return the UTC instant a milestone due on `due` becomes overdue.

    That is the first minute of the day after its due day in `tz` (SPEC §2). The offset is the
    one in force at that local midnight, so a due day just before a DST change gets the right
    hour. Where a zone skips midnight itself, zoneinfo's fold=0 reading of the missing 00:00
    lands on the transition instant, which is still the first instant of that day.
    """
    next_midnight = datetime.combine(due + timedelta(days=1), time(0), tzinfo=tz)
    return next_midnight.astimezone(UTC)


def is_overdue(due: date, *, now: datetime, tz: ZoneInfo) -> bool:
    """Say whether a milestone due on `due` is overdue at the instant `now`."""
    _require_aware(now, "now")
    return now >= overdue_from(due, tz)
