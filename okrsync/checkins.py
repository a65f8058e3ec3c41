"""Weekly check-ins: a KR owner's confidence (1–10), maybe a value, a blocker and a next action.

The seed practice is a weekly loop: each owner says how sure they are the KR will be met, what
blocks it and what happens next. okrsync stores each check-in as an immutable row
(`store.Checkin`) and reads them back as plain `CheckinRecord`s, so the pure rules
(`krsignals`, `digest`) never see the database.

Where a metric KR's value comes from (SPEC §2 names both sources; `metric_value` decides):

- a KR with a `value_query` takes the tracker count, which is measured every cycle and needs
  nobody's memory; a check-in `--value` on such a KR is stored and shown, and is used only
  while no count has been measured yet (a new install, or a source that never answered);
- a KR without a `value_query` takes the value of its latest check-in that has one, so a
  weekly check-in that only updates confidence keeps last week's value.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlmodel import Session, col

from okrsync.days import local_day
from okrsync.okrs import KeyResult
from okrsync.store import Checkin

__all__ = [
    "CONFIDENCE_MAX",
    "CONFIDENCE_MIN",
    "CheckinRecord",
    "add",
    "checkin_json",
    "latest",
    "latest_values",
    "metric_value",
    "metric_values",
    "parse_confidence",
    "resolve_kr_id",
    "since",
    "unknown_kr_message",
]

CONFIDENCE_MIN, CONFIDENCE_MAX = 1, 10


@dataclass(frozen=True)
class CheckinRecord:
    """A stored check-in as the pure rules read it."""

    id: int
    kr_id: str
    at: datetime
    day: date
    confidence: int
    value: float | None = None
    blocker: str | None = None
    next_action: str | None = None
    note: str | None = None
    author: str | None = None


def parse_confidence(text: str) -> int:
    """Read a confidence from the command line, or raise ValueError saying what is expected.

    Only whole numbers 1–10 are accepted: "7.5" or "high" would turn a shared scale into
    private ones, and 0 or 11 are off the scale the seed practice uses.
    """
    expected = f"expected a whole number from {CONFIDENCE_MIN} to {CONFIDENCE_MAX}"
    stripped = text.strip()
    if not stripped.lstrip("+-").isdigit():
        msg = f"--confidence {text!r}: {expected} (how sure you are the KR will be met), not a word or a fraction"
        raise ValueError(msg)
    value = int(stripped)
    if not CONFIDENCE_MIN <= value <= CONFIDENCE_MAX:
        msg = f"--confidence {value}: {expected} (1 = it will not happen, 10 = it is certain)"
        raise ValueError(msg)
    return value


def resolve_kr_id(kr_id: str, known: Iterable[str]) -> str | None:
    """Return the known id `kr_id` names, ignoring case; None when it names none, or several.

    KR ids are written in capitals by convention (`ENG-1.1`), and `eng-1.1` typed at a prompt
    can only mean that one: it is accepted. Two ids differing only in case (allowed in the
    mappings, though confusing) make a lower-case spelling ambiguous, so only an exact match
    picks one of them.
    """
    ids = set(known)
    if kr_id in ids:
        return kr_id
    folded = [known_id for known_id in ids if known_id.casefold() == kr_id.casefold()]
    return folded[0] if len(folded) == 1 else None


def unknown_kr_message(kr_id: str, known: Iterable[str]) -> str:
    """Say a KR id is unknown and suggest the nearest known one, so a typo is a one-line fix.

    Nearness ignores case: `eng-1.l` is nearest to `ENG-1.1`, not to `CO-1.1`, which a
    case-sensitive comparison finds nearer (it shares more characters with a lower-case id).
    """
    ids = sorted(known)
    folded = kr_id.casefold()
    scored = [
        (difflib.SequenceMatcher(None, known_id.casefold(), folded).ratio(), known_id) for known_id in ids
    ]
    # The first of equally near ids in sorted order: ENG-1.1 before ENG-1.2 for `eng-1.l`.
    nearness, nearest = max(scored, key=lambda pair: pair[0], default=(0.0, ""))
    if nearness >= 0.5:
        return f"no key result {kr_id!r}; did you mean {nearest!r}?"
    shown = ", ".join(ids[:20]) + (", …" if len(ids) > 20 else "")
    return f"no key result {kr_id!r}; known: {shown or 'none'}"


def _record(row: Checkin) -> CheckinRecord:
    assert row.id is not None  # rows read back from the database always have one
    return CheckinRecord(
        id=row.id,
        kr_id=row.kr_id,
        at=row.at,
        day=row.day,
        confidence=row.confidence,
        value=row.value,
        blocker=row.blocker,
        next_action=row.next_action,
        note=row.note,
        author=row.author,
    )


def _clean(text: str | None) -> str | None:
    """Store free text trimmed, and an empty string as nothing."""
    if text is None:
        return None
    stripped = text.strip()
    return stripped or None


def add(
    db: Session,
    kr_id: str,
    *,
    confidence: int,
    now: datetime,
    tz: ZoneInfo,
    value: float | None = None,
    blocker: str | None = None,
    next_action: str | None = None,
    note: str | None = None,
    author: str | None = None,
) -> CheckinRecord:
    """Store one check-in and commit it; the caller has validated the KR id and confidence."""
    if not CONFIDENCE_MIN <= confidence <= CONFIDENCE_MAX:
        msg = f"confidence {confidence}: expected {CONFIDENCE_MIN}..{CONFIDENCE_MAX}"
        raise ValueError(msg)
    row = Checkin(
        kr_id=kr_id,
        at=now.astimezone(UTC),
        day=local_day(now, tz),
        confidence=confidence,
        value=value,
        blocker=_clean(blocker),
        next_action=_clean(next_action),
        note=_clean(note),
        author=_clean(author),
    )
    db.add(row)
    db.commit()
    return _record(row)


def _newest_per_kr(db: Session, *, with_value: bool) -> dict[str, CheckinRecord]:
    """Read the newest check-in of every KR (by time, then id), in one query."""
    rank = (
        func.row_number()
        .over(partition_by=Checkin.kr_id, order_by=(col(Checkin.at).desc(), col(Checkin.id).desc()))
        .label("rank")
    )
    inner = select(col(Checkin.id), rank)
    if with_value:
        inner = inner.where(col(Checkin.value).is_not(None))
    ranked = inner.subquery()
    query = select(Checkin).join(ranked, ranked.c.id == Checkin.id).where(ranked.c.rank == 1)
    return {row.kr_id: _record(row) for row in db.execute(query).scalars()}


def latest(db: Session) -> dict[str, CheckinRecord]:
    """Return each KR's latest check-in: its confidence is the KR's confidence."""
    return _newest_per_kr(db, with_value=False)


def latest_values(db: Session) -> dict[str, float]:
    """Return each KR's latest value reported in a check-in (check-ins without one skipped)."""
    return {
        kr_id: record.value
        for kr_id, record in _newest_per_kr(db, with_value=True).items()
        if record.value is not None
    }


def since(db: Session, day: date, *, kr_id: str | None = None) -> dict[str, list[CheckinRecord]]:
    """Return the check-ins made on or after `day`, per KR, oldest first."""
    query = select(Checkin).where(col(Checkin.day) >= day)
    if kr_id is not None:
        query = query.where(col(Checkin.kr_id) == kr_id)
    rows = db.execute(query.order_by(col(Checkin.at), col(Checkin.id))).scalars()
    found: dict[str, list[CheckinRecord]] = {}
    for row in rows:
        found.setdefault(row.kr_id, []).append(_record(row))
    return found


def metric_value(kr: KeyResult, *, measured: float | None, reported: float | None) -> float | None:
    """Pick a metric KR's value: the tracker count for a `value_query` KR, else the check-in's.

    See the module docstring for why the count wins, and why the check-in value still counts
    until the first measurement.
    """
    if kr.value_query:
        return measured if measured is not None else reported
    return reported


def metric_values(
    krs: Mapping[str, KeyResult], *, measured: Mapping[str, float], reported: Mapping[str, float]
) -> dict[str, float]:
    """Apply `metric_value` to every metric KR; KRs with no value are left out."""
    values: dict[str, float] = {}
    for kr in krs.values():
        if kr.kind != "metric":
            continue
        value = metric_value(kr, measured=measured.get(kr.id), reported=reported.get(kr.id))
        if value is not None:
            values[kr.id] = value
    return values


def checkin_json(record: CheckinRecord | None) -> dict[str, Any] | None:
    """Describe a check-in for `status --json` and `explain --json` (None when there is none)."""
    if record is None:
        return None
    return {
        "id": record.id,
        "day": record.day.isoformat(),
        "at": record.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "by": record.author,
        "confidence": record.confidence,
        "value": record.value,
        "blocker": record.blocker,
        "next": record.next_action,
        "note": record.note,
    }
