"""Milestones, alerts and history written through the driver (okrsync.bulk) read back as before.

These rows went through SQLAlchemy (Core upserts, ORM objects) until a first sync's fixed
costs were cut; the tests hold them to what SQLAlchemy wrote: the same values read back
through the ORM, the same JSON text, deliveries numbered in the order events were raised,
and a write the database refuses still failing the transaction. Both engines.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text
from sqlmodel import Session, col

from connectors.records import MilestoneRecord
from okrsync import history
from okrsync.bulk import Bulk
from okrsync.ingest import save_milestones
from okrsync.outbox import EVENT_COLUMNS, NewEvent, listing, record
from okrsync.rollup import KrProgress, MilestoneProgress, Rollup
from okrsync.slips import Watch
from okrsync.store import (
    Delivery,
    Event,
    MilestoneWatch,
    ProgressPoint,
    TrackerMilestone,
    open_store,
    session,
)

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
TODAY = date(2026, 11, 20)


def _milestone(
    key: str, *, container: str = "acme/web", title: str = "Onboarding", **fields: object
) -> MilestoneRecord:
    return MilestoneRecord(
        key=key, kind="github_milestone", container=container, title=title, state="open", **fields
    )  # type: ignore[arg-type]


def _stored(db: Session) -> dict[str, TrackerMilestone]:
    return {m.key: m for m in db.execute(select(TrackerMilestone)).scalars()}


def test_an_empty_batch_of_milestones_does_not_touch_the_database(database_url: str) -> None:
    engine = open_store(database_url)
    with session(engine) as db:
        save_milestones(db, "github", [], complete=[], tz=BERLIN)
        assert not db.in_transaction()  # not even a connection taken from the pool
    engine.dispose()


def test_milestones_read_back_through_the_orm_as_the_tracker_gave_them(database_url: str) -> None:
    engine = open_store(database_url)
    due_at = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # 08:00Z: a Pacific midnight, so 1 Dec
    updated = datetime(2026, 11, 19, 17, 30, 5, 123456, tzinfo=ZoneInfo("America/New_York"))
    labels = ("kr:ENG-1.1", 'say "hi"', "back\\slash", "Grüße")
    records = [
        _milestone(
            "acme/web#1",
            number=1,
            url="https://github.com/acme/web/milestone/1",
            description="ships kr:ENG-1.1",
            due_at=due_at,
            updated_at=updated,
            open_issues=3,
            closed_issues=4,
            labels=labels,
        ),
        MilestoneRecord(
            key="jira:ONB/2.0",
            kind="jira_version",
            container="ONB",
            title="2.0",
            state="closed",
            due_day=date(2027, 1, 15),
        ),
    ]
    with session(engine) as db:
        save_milestones(db, "github", records, complete=[], tz=BERLIN)
        db.commit()
    with session(engine) as db:
        stored = _stored(db)
        github, jira = stored["acme/web#1"], stored["jira:ONB/2.0"]
        assert (github.kind, github.container, github.number, github.title, github.state) == (
            "github_milestone",
            "acme/web",
            1,
            "Onboarding",
            "open",
        )
        assert (github.url, github.description, github.open_issues, github.closed_issues) == (
            "https://github.com/acme/web/milestone/1",
            "ships kr:ENG-1.1",
            3,
            4,
        )
        assert (github.due_at, github.due, github.updated_at) == (
            due_at,
            date(2026, 12, 1),
            updated.astimezone(UTC),
        )
        assert github.labels == list(labels)
        assert (jira.kind, jira.due_at, jira.due, jira.labels, jira.number, jira.url) == (
            "jira_version",
            None,
            date(2027, 1, 15),
            [],
            None,
            None,
        )
        # The JSON text SQLAlchemy's JSON type wrote: a user's own SQL over the table sees no change.
        cast = "labels" if Bulk(db).sqlite else "labels::text"
        raw = db.execute(text(f"SELECT {cast} FROM milestone WHERE key = 'acme/web#1'")).scalar_one()
        assert raw == json.dumps(list(labels))
    engine.dispose()


def test_a_milestone_listed_twice_in_a_batch_is_stored_as_last_listed(database_url: str) -> None:
    engine = open_store(database_url)
    with session(engine) as db:
        save_milestones(
            db,
            "github",
            [_milestone("acme/web#1", title="First"), _milestone("acme/web#1", title="Renamed")],
            complete=[],
            tz=BERLIN,
        )
        db.commit()
        assert {k: m.title for k, m in _stored(db).items()} == {"acme/web#1": "Renamed"}
    engine.dispose()


def test_a_complete_list_drops_only_the_vanished_milestones_of_its_own_repo(database_url: str) -> None:
    engine = open_store(database_url)
    with session(engine) as db:
        save_milestones(
            db,
            "github",
            [
                _milestone("acme/web#1"),
                _milestone("acme/web#2"),
                _milestone("acme/api#1", container="acme/api"),
            ],
            complete=[],
            tz=BERLIN,
        )
        save_milestones(
            db, "github", [_milestone("acme/web#1")], complete=[("acme/web", "github_milestone")], tz=BERLIN
        )
        db.commit()
        assert sorted(_stored(db)) == ["acme/api#1", "acme/web#1"]
        save_milestones(db, "github", [], complete=[], removed=["acme/api#1"], tz=BERLIN)
        db.commit()
        assert sorted(_stored(db)) == ["acme/web#1"]
    engine.dispose()


def _event(number: int, *, day: date) -> NewEvent:
    payload = {
        "id": f"e{number}",
        "type": "milestone.overdue",
        "milestone": {
            "title": f'Onboarding "v{number}"',
            "open_issues": [{"key": "acme/web#1", "title": "a\\b ünï"}],
        },
        "progress": 0.4286,
        "text": "Onboarding was due 4 Dec",
    }
    return NewEvent(
        id=f"e{number}",
        type="milestone.overdue",
        dedupe_key=f"milestone.overdue|K{number}|acme/web#{number}",
        kr_id=f"K{number}",
        milestone_key=f"acme/web#{number}",
        owner="carol",
        day=day,
        payload=payload,
    )


def test_events_are_recorded_with_their_payload_text_and_deliveries_in_order(database_url: str) -> None:
    engine = open_store(database_url)
    events = [_event(3, day=TODAY), _event(1, day=TODAY - timedelta(days=2)), _event(2, day=TODAY)]
    watches = [
        Watch("K1", "acme/web#1", "github", date(2026, 12, 4), "Onboarding", True)
    ] * 2  # one milestone linked twice
    with session(engine) as db:
        created = record(
            db, events, watches, channels=["slack", "hook"], now=NOW, today=TODAY, send_backlog=False
        )
    assert [(e.id, e.backlog, e.detected_at, e.payload) for e in created] == [
        ("e3", False, NOW, events[0].payload),
        ("e1", True, NOW, events[1].payload),  # onset before today on the first detection
        ("e2", False, NOW, events[2].payload),
    ]
    with session(engine) as db:
        stored = {event.id: event for event, _deliveries in listing(db, which="all")}
        for new in created:
            event = stored[new.id]
            assert (
                event.type,
                event.dedupe_key,
                event.kr_id,
                event.milestone_key,
                event.owner,
                event.day,
            ) == (
                new.type,
                new.dedupe_key,
                new.kr_id,
                new.milestone_key,
                new.owner,
                new.day,
            )
            assert (event.detected_at, event.backlog, event.payload) == (NOW, new.backlog, new.payload)
        deliveries = db.execute(select(Delivery).order_by(col(Delivery.id))).scalars().all()
        # Numbered as raised, channel by channel: dispatch sends in this order.
        assert [(d.event_id, d.channel, d.status, d.attempts, d.next_attempt_at) for d in deliveries] == [
            ("e3", "slack", "pending", 0, NOW),
            ("e3", "hook", "pending", 0, NOW),
            ("e1", "slack", "skipped", 0, NOW),
            ("e1", "hook", "skipped", 0, NOW),
            ("e2", "slack", "pending", 0, NOW),
            ("e2", "hook", "pending", 0, NOW),
        ]
        cast = "payload" if Bulk(db).sqlite else "payload::text"
        raw = db.execute(text(f"SELECT {cast} FROM event WHERE id = 'e1'")).scalar_one()
        assert raw == json.dumps(events[1].payload)  # the text SQLAlchemy's JSON type wrote
        watched = db.execute(select(MilestoneWatch)).scalars().all()
        assert [(w.kr_id, w.milestone_key, w.due, w.found, w.seen_at) for w in watched] == [
            ("K1", "acme/web#1", date(2026, 12, 4), True, NOW)
        ]
    engine.dispose()


def test_an_event_key_stored_meanwhile_fails_the_write(database_url: str) -> None:
    engine = open_store(database_url)
    with session(engine) as db:
        record(db, [_event(1, day=TODAY)], [], channels=[], now=NOW, today=TODAY, send_backlog=False)
    with session(engine) as db:
        bulk = Bulk(db)
        again = (
            "e9",
            "milestone.overdue",
            _event(1, day=TODAY).dedupe_key,
            "K1",
            None,
            None,
            bulk.day(TODAY),
            bulk.time(NOW),
            False,
            "{}",
        )
        with pytest.raises(Exception, match="(?i)unique"):
            bulk.insert(Event, EVENT_COLUMNS, [again])
        db.rollback()
        assert db.execute(select(col(Event.id))).scalars().all() == ["e1"]
    engine.dispose()


def _rollup(progress: float, *, today: date) -> Rollup:
    m = MilestoneProgress(
        source="github",
        key="acme/web#1",
        title="Onboarding",
        url=None,
        due=today,
        state="open",
        progress=progress,
        done=int(progress * 4),
        total=4,
        excluded=0,
        done_weight=int(progress * 4),
        total_weight=4,
        unestimated=0,
        empty=False,
        missing=False,
        forecast=None,
        stalled=False,
        overdue=False,
        status="on_track",
        open_issues=(),
    )
    kr = KrProgress("K", progress, round(progress, 2), "on_track", 0.5, None, None, milestones=(m,))
    return Rollup(objectives={}, key_results={"K": kr}, today=today)


def test_a_second_change_the_same_day_rewrites_that_days_row_with_its_new_instant(database_url: str) -> None:
    engine = open_store(database_url)
    later = NOW + timedelta(hours=2)
    with session(engine) as db:
        assert history.snapshot(db, _rollup(0.25, today=TODAY), now=NOW, today=TODAY) == 2
        assert history.snapshot(db, _rollup(0.5, today=TODAY), now=later, today=TODAY) == 2
        db.commit()
    with session(engine) as db:
        rows = db.execute(select(ProgressPoint).order_by(col(ProgressPoint.id))).scalars().all()
        assert [(r.kind, r.day, r.at, r.progress, r.done, r.total) for r in rows] == [
            ("kr", TODAY, later, 0.5, None, None),
            ("milestone", TODAY, later, 0.5, 2, 4),
        ]
    engine.dispose()
