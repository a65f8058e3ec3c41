"""Key-result signals (SPEC §5): `kr.stale` and `kr.confidence_drop`, as pure rules.

Like `okrsync.slips`, nothing here reads the database or the clock: the roll-up, the history's
last-change days and the recent check-ins come in, `today` is a keyword argument, and each rule
returns signals with a dedupe key. The outbox stores each key once, so a rule may fire on every
cycle and still raise its event once.

- `kr.stale`: "a key result that has not moved in three weeks is a flag". Progress below 1
  and unchanged for `stale_after_days` (the history's last change day; a KR's first snapshot
  counts as a change, so a new install waits the full period before it judges). Only while
  the KR's cycle runs (a KR of a cycle not yet started is not "stale"), and only when every
  source feeding the KR was fetched this cycle: a failing tracker freezes progress, and that
  must not read as a team standing still. Key: KR + last change day, so a KR that moves and
  then stalls again is flagged again.
- `kr.confidence_drop`: "confidence falling from 7 to 4 in two weeks is a signal to act". A
  check-in raises when the highest confidence of the check-ins in the 14 days before it is
  `confidence_drop` or more above it. Key: KR + that check-in. A slide that continues (7 → 4
  → 3) is one signal, not two: a check-in whose previous check-in (within the window) already
  dropped is not raised again unless it falls by the threshold from that previous one too
  (7 → 4 → 1 raises twice). The rule looks only at check-ins up to 42 days old, which is all
  it needs, so its answer never depends on how much history is kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from okrsync.alerts import day_words, payload_head, standing_words
from okrsync.checkins import CheckinRecord, checkin_json
from okrsync.okrs import OkrSet
from okrsync.rollup import KrProgress, Rollup, shown_progress

__all__ = [
    "CONFIDENCE_WINDOW_DAYS",
    "LOOKBACK_DAYS",
    "KrSignal",
    "build_payload",
    "confidence_drops",
    "detect",
    "judged_krs",
    "signal_text",
    "stale",
]

CONFIDENCE_WINDOW_DAYS = 14
LOOKBACK_DAYS = 3 * CONFIDENCE_WINDOW_DAYS
"""Check-ins older than this cannot change a decision about the last 14 days' check-ins."""


@dataclass(frozen=True)
class KrSignal:
    """A detected KR event, before it is written to the outbox."""

    type: str
    dedupe_key: str
    kr_id: str
    onset: date
    since: date | None = None  # kr.stale: the day progress last changed
    checkin: CheckinRecord | None = None  # kr.confidence_drop: the check-in that fell
    before: CheckinRecord | None = None  # ... and the higher one it fell from


def judged_krs(rollup: Rollup, okrs: OkrSet, *, fetched: Iterable[str], all_fetched: bool) -> set[str]:
    """Return the KRs whose every input was fetched this cycle (see `okrsync.slips._judged`)."""
    sources = set(fetched)
    judged = set()
    for kr_id, kr in rollup.key_results.items():
        definition = okrs.key_results[kr_id]
        # An unknown KR (a source it reads never synced) has no progress to be stale.
        ok = kr.status != "unknown" and all(
            all_fetched if m.implicit else m.source in sources for m in kr.milestones
        )
        if definition.kind == "metric" and definition.value_query:
            ok = ok and definition.value_source in sources
        if ok:
            judged.add(kr_id)
    return judged


def stale(
    rollup: Rollup,
    okrs: OkrSet,
    last_changes: Mapping[str, date],
    *,
    today: date,
    after_days: int,
    judged: set[str],
) -> list[KrSignal]:
    """Flag KRs below 1 whose progress has not changed for `after_days` days."""
    found = []
    for kr_id, kr in rollup.key_results.items():
        since = last_changes.get(kr_id)
        if since is None or kr_id not in judged or kr.progress >= 1:
            continue
        cycle = okrs.cycles[okrs.objectives[okrs.key_results[kr_id].objective_id].cycle_id]
        if not cycle.start <= today <= cycle.end:
            continue
        if (today - since).days >= after_days:
            key = f"kr.stale|{kr_id}|{since.isoformat()}"
            onset = since + timedelta(days=after_days)
            found.append(KrSignal("kr.stale", key, kr_id, onset=onset, since=since))
    return found


def _ordered(checkins: Sequence[CheckinRecord]) -> list[CheckinRecord]:
    return sorted(checkins, key=lambda c: (c.at, c.id))


def _fall(history: Sequence[CheckinRecord], index: int) -> tuple[int, CheckinRecord | None]:
    """Return how far check-in `index` fell below the highest of the 14 days before it, and that one."""
    current = history[index]
    window_start = current.day - timedelta(days=CONFIDENCE_WINDOW_DAYS)
    earlier = [c for c in history[:index] if c.day >= window_start]
    if not earlier:
        return 0, None
    top = max(earlier, key=lambda c: (c.confidence, c.at, c.id))  # the latest of equal highs
    return top.confidence - current.confidence, top


def confidence_drops(
    checkins: Mapping[str, Sequence[CheckinRecord]], *, today: date, drop: int
) -> list[KrSignal]:
    """Flag check-ins of the last 14 days whose confidence fell by `drop` or more (module doc)."""
    found = []
    recent_from = today - timedelta(days=CONFIDENCE_WINDOW_DAYS)
    for kr_id, raw in checkins.items():
        history = _ordered(raw)
        for index, current in enumerate(history):
            if current.day < recent_from or current.day > today:
                continue
            fell, top = _fall(history, index)
            if fell < drop or top is None:
                continue
            if index > 0:
                previous = history[index - 1]
                in_window = previous.day >= current.day - timedelta(days=CONFIDENCE_WINDOW_DAYS)
                continuing = in_window and _fall(history, index - 1)[0] >= drop
                if continuing and previous.confidence - current.confidence < drop:
                    continue  # the same slide, already raised at the previous check-in
            key = f"kr.confidence_drop|{kr_id}|{current.id}"
            found.append(
                KrSignal("kr.confidence_drop", key, kr_id, onset=current.day, checkin=current, before=top)
            )
    return found


def detect(
    rollup: Rollup,
    okrs: OkrSet,
    *,
    last_changes: Mapping[str, date],
    checkins: Mapping[str, Sequence[CheckinRecord]],
    today: date,
    stale_after_days: int,
    confidence_drop: int,
    judged: set[str],
) -> list[KrSignal]:
    """Apply both rules; check-ins of KRs no longer in the mappings are ignored."""
    known = {k: v for k, v in checkins.items() if k in rollup.key_results}
    return stale(
        rollup, okrs, last_changes, today=today, after_days=stale_after_days, judged=judged
    ) + confidence_drops(known, today=today, drop=confidence_drop)


# --- payloads ----------------------------------------------------------------------------------


def _pct(progress: float) -> str:
    return f"{round(progress * 100)}%"


def signal_text(signal: KrSignal, kr: KrProgress, *, title: str, today: date) -> str:
    """One sentence that says what the signal means and where the KR stands on `today`."""
    standing = standing_words(kr)
    if signal.type == "kr.stale" and signal.since is not None:
        days = (today - signal.since).days
        return (
            f"KR {kr.id} ({title}) has not moved for {days} days: {_pct(kr.progress)} since"
            f" {day_words(signal.since)}, {_pct(kr.expected)} expected by now. {standing}"
        )
    if signal.type == "kr.confidence_drop" and signal.checkin is not None and signal.before is not None:
        c, b = signal.checkin, signal.before
        blocker = f" Blocker: {c.blocker}." if c.blocker else ""
        return (
            f"Confidence in KR {kr.id} ({title}) fell from {b.confidence} ({day_words(b.day)})"
            f" to {c.confidence} ({day_words(c.day)}).{blocker} {standing}"
        )
    return f"KR {kr.id}: {signal.type}. {standing}"


def build_payload(
    signal: KrSignal,
    *,
    event_id: str,
    okrs: OkrSet,
    kr: KrProgress,
    people: Mapping[str, Any],
    detected_at: datetime,
    day: date,
) -> dict[str, Any]:
    """Build the webhook JSON for a KR signal: the shared head plus `stale` or `confidence`."""
    definition = okrs.key_results[signal.kr_id]
    objective = okrs.objectives[definition.objective_id]
    payload = payload_head(
        event_id=event_id,
        type_=signal.type,
        owner=definition.owner,
        people=people,
        detected_at=detected_at,
        day=day,
        objective={"id": objective.id, "title": objective.title},
        key_result={
            "id": definition.id,
            "title": definition.title,
            "progress": shown_progress(kr),
            "status": kr.status,
            "confidence": kr.confidence,
        },
        text=signal_text(signal, kr, title=definition.title, today=day),
    )
    if signal.since is not None:
        payload["stale"] = {
            "since": signal.since.isoformat(),
            "days": (day - signal.since).days,
            "progress": round(kr.progress, 4),
            "expected": round(kr.expected, 4),
        }
    if signal.checkin is not None and signal.before is not None:
        payload["confidence"] = {
            "before": signal.before.confidence,
            "before_day": signal.before.day.isoformat(),
            "after": signal.checkin.confidence,
            "day": signal.checkin.day.isoformat(),
            "drop": signal.before.confidence - signal.checkin.confidence,
        }
        payload["checkin"] = checkin_json(signal.checkin)
    return payload
