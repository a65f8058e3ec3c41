"""The weekly digest (`digest.weekly`): one message per KR owner, on a set day and hour.

The seed practice is a weekly rhythm; the digest is its prompt. Each owner gets, for every KR
they own in a cycle running today: the score, the change since last week (from the history),
the status, the latest confidence, blocker and next action, and a list of their KRs with no
check-in this week, so the check-in happens before the meeting rather than in it.

When: from `alerts.digest_day` at `alerts.digest_hour:00` in the configured timezone, the
first cycle of that ISO week records it. A daemon that was down at that hour sends it late in
the same week rather than never; the next week's digest waits for its own day. It goes through
the outbox like any alert, keyed `digest.weekly|<owner>|<ISO week>`, so each owner gets it
once per week whatever the poll interval, restarts or replicas. Two exceptions keep it quiet:
a week whose digest moment came before okrsync's first cycle on this database gets none (an
install on a Wednesday does not send Monday's digest five minutes later, about a week it did
not watch), and with no channel configured nothing is recorded (a digest is a message; with
no way to send it, it would only clutter `okrsync alerts`; the engine checks that).

"This week", for check-ins, is the 7 days before the digest's moment plus any time since: a
Monday 09:00 digest counts last Monday's 10:00 check-in and this Monday's 08:30 one.
"Change since last week" compares the score with the KR's progress at the end of the day one
week before the digest's day; a KR with no history that old shows no change figure (`null`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session, col

from okrsync import checkins as checkin_store
from okrsync import history
from okrsync.alerts import payload_head
from okrsync.checkins import CheckinRecord
from okrsync.okrs import OkrSet
from okrsync.outbox import FIRST_DETECTION, NewEvent
from okrsync.rollup import Rollup, two_decimals
from okrsync.store import Event, Meta

__all__ = [
    "WEEKDAYS",
    "Digest",
    "DigestItem",
    "build_digests",
    "build_payload",
    "digest_key",
    "due_digests",
    "due_week",
]

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
TYPE = "digest.weekly"


@dataclass(frozen=True)
class DigestItem:
    """One KR in an owner's digest."""

    kr_id: str
    title: str
    objective_id: str
    objective_title: str
    score: float | None  # None for an unknown KR (a source it reads never synced)
    change: float | None  # score change since last week; None when there is no history that old
    status: str
    confidence: int | None
    blocker: str | None
    next_action: str | None
    checkin_day: date | None
    checked_in: bool  # a check-in this week


@dataclass(frozen=True)
class Digest:
    """One owner's digest for one ISO week."""

    owner: str
    week: str  # "2026-W47"
    day: date  # the digest's day in the configured zone
    items: tuple[DigestItem, ...] = field(default_factory=tuple)

    @property
    def missing_checkins(self) -> list[str]:
        """The owner's KRs with no check-in this week."""
        return [i.kr_id for i in self.items if not i.checked_in]


def due_week(now: datetime, *, tz: ZoneInfo, weekday: str, hour: int) -> tuple[str, datetime] | None:
    """Return this ISO week's label and digest moment once `now` has reached it, else None."""
    local = now.astimezone(tz)
    monday = local.date() - timedelta(days=local.weekday())
    day = monday + timedelta(days=WEEKDAYS.index(weekday))
    moment = datetime.combine(day, time(hour), tzinfo=tz)
    if local < moment:
        return None
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}", moment


def digest_key(owner: str, week: str) -> str:
    """The outbox key that makes the digest once per owner per week."""
    return f"{TYPE}|{owner}|{week}"


def build_digests(
    okrs: OkrSet,
    rollup: Rollup,
    *,
    week: str,
    moment: datetime,
    tz: ZoneInfo,
    latest: Mapping[str, CheckinRecord],
    week_ago: Mapping[str, float],
    owners: set[str] | None = None,
) -> list[Digest]:
    """Build the digest of every owner (or of `owners`) with a KR in a cycle running that day.

    `latest` is each KR's latest check-in; `week_ago` each KR's progress at the end of the day
    a week before the digest's day (`history.progress_as_of`).
    """
    day = moment.astimezone(tz).date()
    week_start = moment - timedelta(days=7)
    items: dict[str, list[DigestItem]] = {}
    for objective in okrs.objectives.values():
        cycle = okrs.cycles[objective.cycle_id]
        if not cycle.start <= day <= cycle.end:
            continue
        for kr in objective.key_results:
            if owners is not None and kr.owner not in owners:
                continue
            progress = rollup.key_results[kr.id]
            checkin = latest.get(kr.id)
            before = week_ago.get(kr.id)
            items.setdefault(kr.owner, []).append(
                DigestItem(
                    kr_id=kr.id,
                    title=kr.title,
                    objective_id=objective.id,
                    objective_title=objective.title,
                    score=progress.score,
                    change=None
                    if before is None or progress.score is None
                    else round(progress.score - two_decimals(before), 2),
                    status=progress.status,
                    confidence=checkin.confidence if checkin else None,
                    blocker=checkin.blocker if checkin else None,
                    next_action=checkin.next_action if checkin else None,
                    checkin_day=checkin.day if checkin else None,
                    checked_in=checkin is not None and checkin.at >= week_start,
                )
            )
    return [Digest(owner, week, day, tuple(found)) for owner, found in sorted(items.items())]


def _change_words(change: float | None) -> str:
    if change is None:
        return "new this week"
    if change == 0:
        return "no change"
    return f"{change:+.2f} since last week"


def digest_text(digest: Digest, *, name: str) -> str:
    """Say the digest in a few sentences; channels show it as the alert's summary."""
    parts = []
    for i in digest.items:
        if i.score is None:
            line = f"{i.kr_id} has no score yet (a source it reads has not synced), unknown"
        else:
            line = f"{i.kr_id} {i.score:.2f} ({_change_words(i.change)}), {i.status.replace('_', ' ')}"
        if i.confidence is not None:
            line += f", confidence {i.confidence}/10"
        if i.blocker:
            line += f", blocker: {i.blocker}"
        if i.next_action:
            line += f", next: {i.next_action}"
        if not i.checked_in:
            line += ", no check-in this week"
        parts.append(line)
    text = f"Week {digest.week} for {name}: " + "; ".join(parts) + "."
    missing = digest.missing_checkins
    if missing:
        text += f" No check-in this week for {', '.join(missing)}: okrsync checkin KR-ID --confidence N."
    return text


def build_payload(
    digest: Digest,
    *,
    event_id: str,
    people: Mapping[str, Any],
    detected_at: datetime,
    day: date,
) -> dict[str, Any]:
    """Build the digest's webhook JSON: the shared head plus `week`, `key_results`, `missing_checkins`."""
    person = people.get(digest.owner)
    payload = payload_head(
        event_id=event_id,
        type_=TYPE,
        owner=digest.owner,
        people=people,
        detected_at=detected_at,
        day=day,
        objective=None,
        key_result=None,
        text=digest_text(digest, name=getattr(person, "name", None) or digest.owner),
    )
    payload["week"] = digest.week
    payload["key_results"] = [
        {
            "id": i.kr_id,
            "title": i.title,
            "objective": {"id": i.objective_id, "title": i.objective_title},
            "score": i.score,
            "change": i.change,
            "status": i.status,
            "confidence": i.confidence,
            "blocker": i.blocker,
            "next": i.next_action,
            "checkin_day": i.checkin_day.isoformat() if i.checkin_day else None,
            "checked_in_this_week": i.checked_in,
        }
        for i in digest.items
    ]
    payload["missing_checkins"] = digest.missing_checkins
    return payload


def due_digests(
    db: Session,
    okrs: OkrSet,
    rollup: Rollup,
    *,
    now: datetime,
    tz: ZoneInfo,
    weekday: str,
    hour: int,
    people: Mapping[str, Any],
    new_id: Callable[[], str],
) -> list[NewEvent]:
    """Return this week's digests not yet in the outbox, once the digest's moment has come.

    Cheap on every other cycle: before the moment it reads nothing, and after it only builds
    the digests of owners whose key is not yet stored. `new_id()` makes event ids.
    """
    due = due_week(now, tz=tz, weekday=weekday, hour=hour)
    if due is None:
        return []
    week, moment = due
    first = db.get(Meta, FIRST_DETECTION)
    installed = datetime.fromisoformat(first.value) if first is not None else now
    if moment < installed:
        return []  # this week's moment passed before okrsync watched: wait for next week's
    owners = {kr.owner for kr in okrs.key_results.values()}
    keys = {digest_key(owner, week): owner for owner in owners}
    sent = set(
        db.execute(select(col(Event.dedupe_key)).where(col(Event.dedupe_key).in_(list(keys)))).scalars()
    )
    waiting = {owner for key, owner in keys.items() if key not in sent}
    if not waiting:
        return []
    day = moment.astimezone(tz).date()
    digests = build_digests(
        okrs,
        rollup,
        week=week,
        moment=moment,
        tz=tz,
        latest=checkin_store.latest(db),
        week_ago=history.progress_as_of(db, day - timedelta(days=7)),
        owners=waiting,
    )
    today = now.astimezone(tz).date()
    events = []
    for digest in digests:
        event_id = new_id()
        events.append(
            NewEvent(
                id=event_id,
                type=TYPE,
                dedupe_key=digest_key(digest.owner, week),
                kr_id=None,
                milestone_key=None,
                owner=digest.owner,
                day=day,
                payload=build_payload(digest, event_id=event_id, people=people, detected_at=now, day=today),
            )
        )
    return events
