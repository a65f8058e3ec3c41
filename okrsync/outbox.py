"""The alert outbox: record events with the state that produced them, then deliver them.

Recording: the watches (what detection last saw) and the new events are written in one
transaction, so a crash either keeps both or neither, and detection after a restart finds
the same slips again. An event is stored once per `dedupe_key`.

Delivery, after healthchecks: a dispatcher *claims* a delivery with a conditional
`UPDATE … WHERE status = 'pending'` and commits the claim before sending, so two dispatchers
never send the same alert; after the channel accepts, the delivery is acknowledged
(`delivered`) at once. A claim whose process died (same host, pid gone) or whose lease
expired is released, so a crash between claim and send loses nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, or_, select, update
from sqlmodel import Session, col

from okrsync.bulk import Bulk
from okrsync.crashpoints import crash_point
from okrsync.errors import DeliveryError
from okrsync.slips import Watch
from okrsync.store import Delivery, Event, Meta, MilestoneWatch, session

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 8
INLINE_RETRIES = 2  # quick retries inside one dispatch before backing off to a later cycle
FIRST_DETECTION = "first_detection_at"

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class NewEvent:
    """An event ready to be recorded: its identity, owner, onset day and payload."""

    id: str
    type: str
    dedupe_key: str
    kr_id: str | None
    milestone_key: str | None
    owner: str | None
    day: date
    payload: dict[str, Any]


@dataclass(frozen=True)
class RecordedEvent(NewEvent):
    """An event as `record` stored it: when it was detected, and whether it is backlog (not sent).

    What a cycle reports of its new events, for its log lines, summary and metrics; plain
    data, so a first sync's backlog of hundreds costs no ORM objects.
    """

    detected_at: datetime
    backlog: bool


def load_watches(db: Session) -> dict[tuple[str, str], Watch]:
    """Read what detection last saw of each linked milestone (as plain rows: one per link of the org)."""
    rows = db.execute(
        select(
            col(MilestoneWatch.kr_id),
            col(MilestoneWatch.milestone_key),
            col(MilestoneWatch.source),
            col(MilestoneWatch.due),
            col(MilestoneWatch.title),
            col(MilestoneWatch.found),
        )
    )
    return {
        (kr_id, key): Watch(kr_id, key, source, due, title, found)
        for kr_id, key, source, due, title, found in rows
    }


WATCH_COLUMNS = ("kr_id", "milestone_key", "source", "due", "title", "found", "seen_at")


def save_watches(db: Session, watches: Sequence[Watch], *, now: datetime) -> None:
    """Write the watches that changed since the last detection, in one statement.

    An org that does not move changes none, so a quiet cycle writes nothing here (a row per
    linked milestone each cycle used to be 2,000 merges at SPEC §8's scenario L); a first sync
    writes them all, through the driver (`okrsync.bulk`). `seen_at` is when the watch last
    changed.
    """
    stored = load_watches(db)
    bulk = Bulk(db)
    seen_at = bulk.time(now)
    rows = {  # keyed: two links to one milestone make one row (PostgreSQL updates a row once a statement)
        (w.kr_id, w.milestone_key): (
            w.kr_id,
            w.milestone_key,
            w.source,
            bulk.day(w.due),
            w.title,
            w.found,
            seen_at,
        )
        for w in watches
        if stored.get((w.kr_id, w.milestone_key)) != w
    }
    bulk.upsert(MilestoneWatch, WATCH_COLUMNS, ("kr_id", "milestone_key"), list(rows.values()))


def is_first_detection(db: Session) -> bool:
    """True on a new database: detection has never completed here."""
    return db.get(Meta, FIRST_DETECTION) is None


def known_keys(db: Session, keys: Sequence[str]) -> set[str]:
    """Return those of `keys` already stored as an event's `dedupe_key` (raised before)."""
    known: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        known |= {
            row[0]
            for row in db.execute(select(col(Event.dedupe_key)).where(col(Event.dedupe_key).in_(chunk)))
        }
    return known


EVENT_COLUMNS = (
    "id",
    "type",
    "dedupe_key",
    "kr_id",
    "milestone_key",
    "owner",
    "day",
    "detected_at",
    "backlog",
    "payload",
)
DELIVERY_COLUMNS = ("event_id", "channel", "status", "attempts", "next_attempt_at")


def record(
    db: Session,
    events: Sequence[NewEvent],
    watches: Sequence[Watch],
    *,
    channels: Sequence[str],
    now: datetime,
    today: date,
    send_backlog: bool,
) -> list[RecordedEvent]:
    """Store watches and new events (with one pending delivery per channel) in one transaction.

    On a new database's first detection, events whose onset is before today are recorded as
    backlog and not sent unless `send_backlog` (SPEC §5: no flood of stale alerts on install).
    Returns the events that were new.

    Events and deliveries are written through the driver (`okrsync.bulk`), in the order given,
    so deliveries are numbered (and later sent) in that order: a first sync records its whole
    backlog, hundreds of events, which the ORM's unit of work took longer to write than to
    detect. A `dedupe_key` stored meanwhile by another process still fails the transaction.
    """
    first = is_first_detection(db)
    save_watches(db, watches, now=now)
    known = known_keys(db, [e.dedupe_key for e in events])
    bulk = Bulk(db)
    at = bulk.time(now)
    event_rows: list[tuple[Any, ...]] = []
    delivery_rows: list[tuple[Any, ...]] = []
    created: list[RecordedEvent] = []
    for e in events:
        if e.dedupe_key in known:
            continue
        known.add(e.dedupe_key)
        backlog = first and e.day < today and not send_backlog
        event_rows.append(
            (
                e.id,
                e.type,
                e.dedupe_key,
                e.kr_id,
                e.milestone_key,
                e.owner,
                bulk.day(e.day),
                at,
                backlog,
                bulk.document(e.payload),
            )
        )
        status = "skipped" if backlog else "pending"
        delivery_rows += [(e.id, channel, status, 0, at) for channel in channels]
        created.append(
            RecordedEvent(
                id=e.id,
                type=e.type,
                dedupe_key=e.dedupe_key,
                kr_id=e.kr_id,
                milestone_key=e.milestone_key,
                owner=e.owner,
                day=e.day,
                payload=e.payload,
                detected_at=now,
                backlog=backlog,
            )
        )
    bulk.insert(Event, EVENT_COLUMNS, event_rows)
    bulk.insert(Delivery, DELIVERY_COLUMNS, delivery_rows)
    if first:
        db.merge(Meta(key=FIRST_DETECTION, value=now.isoformat()))
    db.commit()
    crash_point("after_events_recorded")
    return created


# --- delivery --------------------------------------------------------------------------------


@dataclass
class DispatchReport:
    delivered: int = 0
    failed: int = 0
    retrying: int = 0
    errors: list[str] = field(default_factory=list)
    by_channel: dict[tuple[str, str], int] = field(default_factory=dict)
    """(channel, outcome) -> count, outcome one of delivered, failed, retrying (for metrics)."""

    def count(self, channel: str, outcome: str) -> None:
        """Count one delivery's outcome, in the total and for its channel."""
        setattr(self, outcome, getattr(self, outcome) + 1)
        self.by_channel[channel, outcome] = self.by_channel.get((channel, outcome), 0) + 1


def _claimer_is_gone(claimed_by: str | None) -> bool:
    """Say whether the process that claimed a delivery is dead (when it ran on this host)."""
    if not claimed_by or claimed_by == WORKER_ID:
        return not claimed_by
    host, _, rest = claimed_by.partition(":")
    pid_text = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False  # another host's claim: only its lease can release it
    pid = int(pid_text)
    if pid == os.getpid():
        return True  # our pid but not our worker id: an earlier life (a restarted container's PID 1)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def release_orphans(engine: Engine, *, now: datetime) -> int:
    """Put back to pending every claim whose process is gone or whose lease ran out."""
    released = 0
    with session(engine) as db:
        rows = db.execute(select(Delivery).where(col(Delivery.status) == "sending")).scalars().all()
        for row in rows:
            expired = row.claimed_at is not None and row.claimed_at < now - LEASE
            if expired or _claimer_is_gone(row.claimed_by):
                result = db.execute(
                    update(Delivery)
                    .where(
                        col(Delivery.id) == row.id,
                        col(Delivery.status) == "sending",
                        col(Delivery.claimed_by) == row.claimed_by,
                    )
                    .values(status="pending", claimed_by=None, claimed_at=None)
                )
                released += result.rowcount  # type: ignore[attr-defined]
        db.commit()
    if released:
        logger.warning("released %d delivery claim(s) left by a stopped process", released)
    return released


def _claim(engine: Engine, delivery_id: int, *, now: datetime) -> bool:
    with session(engine) as db:
        result = db.execute(
            update(Delivery)
            .where(col(Delivery.id) == delivery_id, col(Delivery.status) == "pending")
            .values(status="sending", claimed_by=WORKER_ID, claimed_at=now)
        )
        db.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]


def _finish(engine: Engine, delivery_id: int, **values: Any) -> None:
    with session(engine) as db:
        db.execute(
            update(Delivery)
            .where(col(Delivery.id) == delivery_id, col(Delivery.claimed_by) == WORKER_ID)
            .values(**values)
        )
        db.commit()


def dispatch(
    engine: Engine,
    send: Callable[[Event, str], None],
    *,
    now: datetime,
    channels: Sequence[str],
    sleep: Callable[[float], None] = time.sleep,
) -> DispatchReport:
    """Deliver every due delivery through `send(event, channel)`; retry, back off, or fail.

    `send` raises `DeliveryError`; a permanent one marks the delivery failed (shown by
    `alerts --failed`), a retriable one is retried a couple of times at once and then
    scheduled with exponential backoff, failing after MAX_ATTEMPTS.
    """
    report = DispatchReport()
    release_orphans(engine, now=now)
    with session(engine) as db:
        due = db.execute(
            select(col(Delivery.id), col(Delivery.event_id), col(Delivery.channel), col(Delivery.attempts))
            .where(
                col(Delivery.status) == "pending",
                col(Delivery.channel).in_(list(channels)),
                or_(col(Delivery.next_attempt_at).is_(None), col(Delivery.next_attempt_at) <= now),
            )
            .order_by(col(Delivery.id))
        ).all()
        events: Mapping[str, Event] = {
            e.id: e
            for e in db.execute(select(Event).where(col(Event.id).in_({row[1] for row in due}))).scalars()
        }
    for delivery_id, event_id, channel, attempts in due:
        if not _claim(engine, delivery_id, now=now):
            continue  # another dispatcher has it
        event = events[event_id]
        error: DeliveryError | None = None
        for attempt in range(INLINE_RETRIES + 1):
            try:
                send(event, channel)
                error = None
                break
            except DeliveryError as exc:
                error = exc
                if exc.permanent or attempt == INLINE_RETRIES:
                    break
                sleep(0.2 * 2**attempt)
        attempts += 1
        if error is None:
            _finish(
                engine, delivery_id, status="delivered", delivered_at=now, attempts=attempts, last_error=None
            )
            crash_point("after_delivery_acknowledged")
            report.count(channel, "delivered")
            logger.info(
                "delivered %s %s to %s",
                event.type,
                event.id,
                channel,
                extra=_fields(event, delivery_id, channel),
            )
        elif error.permanent or attempts >= MAX_ATTEMPTS:
            _finish(engine, delivery_id, status="failed", attempts=attempts, last_error=str(error))
            report.count(channel, "failed")
            report.errors.append(f"{channel}: {error}")
            logger.warning(
                "delivery of %s to %s failed: %s",
                event.id,
                channel,
                error,
                extra=_fields(event, delivery_id, channel),
            )
        else:
            backoff = timedelta(seconds=min(3600, 30 * 2 ** (attempts - 1)))
            _finish(
                engine,
                delivery_id,
                status="pending",
                attempts=attempts,
                last_error=str(error),
                next_attempt_at=now + backoff,
                claimed_by=None,
                claimed_at=None,
            )
            report.count(channel, "retrying")
            logger.warning(
                "delivery of %s to %s will be retried: %s",
                event.id,
                channel,
                error,
                extra=_fields(event, delivery_id, channel),
            )
    return report


def _fields(event: Event, delivery_id: int, channel: str) -> dict[str, Any]:
    """The structured fields of a delivery's log lines (JSON logs carry them as keys)."""
    return {"event_id": event.id, "kr": event.kr_id, "delivery_id": delivery_id, "channel": channel}


def listing(db: Session, *, which: str) -> list[tuple[Event, list[Delivery]]]:
    """List events with their deliveries: pending, failed, or all (newest day first).

    By the day of onset, not detection: a first sync detects a whole backlog at once, and
    its alerts read best in the order they happened.
    """
    query = select(Event).order_by(
        col(Event.day).desc(), col(Event.detected_at).desc(), col(Event.type), col(Event.kr_id), col(Event.id)
    )
    if which in ("pending", "failed"):
        statuses = ["pending", "sending"] if which == "pending" else ["failed"]
        query = query.where(
            col(Event.id).in_(select(col(Delivery.event_id)).where(and_(col(Delivery.status).in_(statuses))))
        )
    events = list(db.execute(query).scalars())
    deliveries: dict[str, list[Delivery]] = {}
    if events:
        for d in db.execute(
            select(Delivery).where(col(Delivery.event_id).in_([e.id for e in events]))
        ).scalars():
            deliveries.setdefault(d.event_id, []).append(d)
    return [(e, sorted(deliveries.get(e.id, []), key=lambda d: d.channel)) for e in events]
