"""The compact progress history: a row when a KR's or milestone's progress changes, not per cycle.

What reads it: `kr.stale` (the day a KR last moved), the digest ("change since last week")
and `explain` ("what changed in the last 14 days"). A daemon polling every five minutes would
write 288 identical rows a day per subject if it logged every cycle; instead `snapshot` writes
a row only when the value differs from the subject's latest row, and keeps at most one row
per subject and calendar day: a second change on the same day updates that day's row, and a
change back to the previous day's value removes it (the day's net change was nothing).
So the table holds one row per subject per day *on which it moved*, and an idle org adds none.

Subjects: a KR (`kind="kr"`, `key` = KR id, `source=""`) and a milestone (`kind="milestone"`,
its source and key). A milestone the tracker no longer has is not recorded: its 0 % says
nothing about the work, and its history resumes when the link is fixed. A milestone also
changes when its done or total count changes at equal progress (1/2 → 2/4: scope grew).

`snapshot` reads the latest rows as plain rows and writes through the driver (`okrsync.bulk`):
a first sync records every KR and milestone at once (2,300 rows at SPEC §8's scenario L), and
every cycle reads them all back, which as ORM objects cost more than the roll-up itself.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

from sqlalchemy import bindparam, delete, func, select, update
from sqlmodel import Session, col

from okrsync.bulk import Bulk
from okrsync.rollup import Rollup
from okrsync.store import ProgressPoint

__all__ = [
    "KR",
    "MILESTONE",
    "Mark",
    "Point",
    "last_changes",
    "progress_as_of",
    "series",
    "series_since",
    "snapshot",
]

KR, MILESTONE = "kr", "milestone"
PRECISION = 4  # progress is compared at 4 decimals, so float noise never counts as a change


@dataclass(frozen=True)
class Point:
    """One recorded value of a subject: what its progress became on `day`."""

    kind: str
    source: str
    key: str
    day: date
    at: datetime
    progress: float
    value: float | None = None
    done: int | None = None
    total: int | None = None


@dataclass(frozen=True)
class _Now:
    """A subject's current value, as the roll-up computed it."""

    kind: str
    source: str
    key: str
    progress: float
    value: float | None = None
    done: int | None = None
    total: int | None = None

    def same_as(self, row: _Stored) -> bool:
        return (round(self.progress, PRECISION), self.done, self.total) == (
            round(row.progress, PRECISION),
            row.done,
            row.total,
        )


def _point(row: ProgressPoint) -> Point:
    return Point(row.kind, row.source, row.key, row.day, row.at, row.progress, row.value, row.done, row.total)


def _current(rollup: Rollup) -> list[_Now]:
    """List every KR and every found milestone of the roll-up once (first KR's view wins).

    A milestone linked to two KRs with different weightings has two progress values; taking
    the first in the roll-up's stable order keeps the history from flip-flopping between them.
    An `unknown` KR or milestone (a source never synced) has no progress to record: its first
    point is written once its data has been read.
    """
    found: dict[tuple[str, str, str], _Now] = {}
    for kr in rollup.key_results.values():
        if kr.status != "unknown":
            found[(KR, "", kr.id)] = _Now(KR, "", kr.id, kr.progress, value=kr.value)
        for m in kr.milestones:
            if m.missing or m.not_synced is not None:
                continue
            found.setdefault(
                (MILESTONE, m.source, m.key),
                _Now(MILESTONE, m.source, m.key, m.progress, done=m.done, total=m.total),
            )
    return list(found.values())


class _Stored(NamedTuple):
    """A stored row, as much of it as `snapshot` compares and rewrites."""

    id: int
    kind: str
    source: str
    key: str
    day: date
    progress: float
    done: int | None
    total: int | None


_STORED = (
    col(ProgressPoint.id),
    col(ProgressPoint.kind),
    col(ProgressPoint.source),
    col(ProgressPoint.key),
    col(ProgressPoint.day),
    col(ProgressPoint.progress),
    col(ProgressPoint.done),
    col(ProgressPoint.total),
)
_POINT_COLUMNS = ("kind", "source", "key", "day", "at", "progress", "value", "done", "total")


def _latest_rows(db: Session, *, kind: str | None = None) -> dict[tuple[str, str, str], _Stored]:
    """Read each subject's latest row. Rows are appended in time order, so the highest id is it."""
    newest = select(func.max(col(ProgressPoint.id))).group_by(
        col(ProgressPoint.kind), col(ProgressPoint.source), col(ProgressPoint.key)
    )
    if kind is not None:
        newest = newest.where(col(ProgressPoint.kind) == kind)
    rows = db.execute(select(*_STORED).where(col(ProgressPoint.id).in_(newest)))
    return {(r.kind, r.source, r.key): _Stored(*r) for r in rows}


def _previous_row(db: Session, row: _Stored) -> _Stored | None:
    query = (
        select(*_STORED)
        .where(
            col(ProgressPoint.kind) == row.kind,
            col(ProgressPoint.source) == row.source,
            col(ProgressPoint.key) == row.key,
            col(ProgressPoint.id) < row.id,
        )
        .order_by(col(ProgressPoint.id).desc())
        .limit(1)
    )
    found = db.execute(query).first()
    return _Stored(*found) if found is not None else None


def snapshot(db: Session, rollup: Rollup, *, now: datetime, today: date) -> int:
    """Record what changed since the last snapshot; return how many rows were written or changed.

    Does not commit: the engine commits the history together with the events it produced
    (a `kr.stale` key names the last change day, so both must land or neither). New rows are
    written first, then today's rows rewritten or removed, as the ORM's flush used to order
    them (so ids come out as they did).
    """
    latest = _latest_rows(db)
    bulk = Bulk(db)
    added: list[tuple[object, ...]] = []
    rewritten: list[dict[str, object]] = []
    removed: list[dict[str, object]] = []
    for subject in _current(rollup):
        row = latest.get((subject.kind, subject.source, subject.key))
        if row is not None and subject.same_as(row):
            continue
        if row is not None and row.day >= today:
            previous = _previous_row(db, row)
            if previous is not None and subject.same_as(previous):
                removed.append({"row_id": row.id})  # back where the day started: no net change today
                continue
            rewritten.append(
                {
                    "row_id": row.id,
                    "progress": subject.progress,
                    "value": subject.value,
                    "done": subject.done,
                    "total": subject.total,
                    "at": now,
                }
            )
            continue
        added.append(
            (
                subject.kind,
                subject.source,
                subject.key,
                bulk.day(today),
                bulk.time(now),
                subject.progress,
                subject.value,
                subject.done,
                subject.total,
            )
        )
    bulk.insert(ProgressPoint, _POINT_COLUMNS, added)
    table = ProgressPoint.__table__  # type: ignore[attr-defined]
    if rewritten:
        db.execute(
            update(table)
            .where(table.c.id == bindparam("row_id"))
            .values({name: bindparam(name) for name in ("progress", "value", "done", "total", "at")}),
            rewritten,
        )
    if removed:
        db.execute(delete(table).where(table.c.id == bindparam("row_id")), removed)
    return len(added) + len(rewritten) + len(removed)


def last_changes(db: Session) -> dict[str, date]:
    """Return, per KR id, the day its progress last changed (its first snapshot counts)."""
    return {key: row.day for (_kind, _source, key), row in _latest_rows(db, kind=KR).items()}


def progress_as_of(db: Session, day: date, *, keys: Iterable[str] | None = None) -> dict[str, float]:
    """Return each KR's progress at the end of `day` (KRs first seen later are left out)."""
    newest = (
        select(func.max(col(ProgressPoint.id)))
        .where(col(ProgressPoint.kind) == KR, col(ProgressPoint.day) <= day)
        .group_by(col(ProgressPoint.key))
    )
    if keys is not None:
        newest = newest.where(col(ProgressPoint.key).in_(list(keys)))
    rows = db.execute(select(ProgressPoint).where(col(ProgressPoint.id).in_(newest))).scalars()
    return {r.key: r.progress for r in rows}


def series(
    db: Session, *, kind: str, key: str, source: str = "", since: date
) -> tuple[Point | None, list[Point]]:
    """Return a subject's value before `since` (None if unknown) and its points from `since` on.

    The first part is what "changed from" means for the first change in the window.
    """
    subject = (
        col(ProgressPoint.kind) == kind,
        col(ProgressPoint.source) == source,
        col(ProgressPoint.key) == key,
    )
    before = (
        db.execute(
            select(ProgressPoint)
            .where(*subject, col(ProgressPoint.day) < since)
            .order_by(col(ProgressPoint.id).desc())
            .limit(1)
        )
        .scalars()
        .first()
    )
    rows = db.execute(
        select(ProgressPoint).where(*subject, col(ProgressPoint.day) >= since).order_by(col(ProgressPoint.id))
    ).scalars()
    return (_point(before) if before is not None else None), [_point(r) for r in rows]


class Mark(NamedTuple):
    """A subject's recorded value at the end of `day`: a `Point` without its instant, for charts."""

    day: date
    value: float | None
    done: int | None
    total: int | None


def series_since(
    db: Session, *, kind: str, since: date, keys: Collection[str] | None = None
) -> dict[tuple[str, str], list[Mark]]:
    """Return, per (source, key) of `kind`, its marks from `since` on, led by its last one before.

    The batch form of `series`, for the report's charts: two queries for every subject of a kind
    (or those whose key is in `keys`) instead of two per subject, read as plain rows (the ORM's
    per-row work, and parsing each row's instant, would double the cost at 100,000 rows). The
    leading mark says what a chart starts the window with; a subject never recorded is left out.
    """
    columns = (
        col(ProgressPoint.source),
        col(ProgressPoint.key),
        col(ProgressPoint.day),
        col(ProgressPoint.value),
        col(ProgressPoint.done),
        col(ProgressPoint.total),
    )
    wanted = [col(ProgressPoint.kind) == kind]
    if keys is not None:
        wanted.append(col(ProgressPoint.key).in_(list(keys)))
    newest_before = (
        select(func.max(col(ProgressPoint.id)))
        .where(col(ProgressPoint.day) < since, *wanted)
        .group_by(col(ProgressPoint.source), col(ProgressPoint.key))
    )
    found: dict[tuple[str, str], list[Mark]] = {}
    connection = db.connection()
    for query in (
        select(*columns).where(col(ProgressPoint.id).in_(newest_before)),
        # A subject has at most one row per day (see `snapshot`), so its days order its rows, and
        # (source, key, day) is the subject index's own order: no sort.
        select(*columns)
        .where(col(ProgressPoint.day) >= since, *wanted)
        .order_by(col(ProgressPoint.source), col(ProgressPoint.key), col(ProgressPoint.day)),
    ):
        for source, key, day, value, done, total in connection.execute(query).all():
            found.setdefault((source, key), []).append(Mark(day, value, done, total))
    return found
