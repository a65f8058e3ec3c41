"""`okrsync explain KR-ID`: why a KR stands where it does, traced down to tasks and people.

The status tree says *that* a KR is off track; a KR owner needs *why*: which milestone is late
or forecast late, which open issues make up the gap and who holds them, what the owner last
said in a check-in, and what moved in the last two weeks. `explain_document` builds that
from the same roll-up `status` uses (so the two never disagree) plus the history, the
check-ins and the outbox; `render` draws it for a terminal. `--json` prints the document.

The reasons replay SPEC §2's traffic-light order in words, each one naming the milestone,
the gap or the confidence that triggered it, so "off track" is never left unexplained.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text
from sqlalchemy import select
from sqlmodel import Session, col

from okrsync import checkins as checkin_store
from okrsync import history
from okrsync.checkins import CheckinRecord, checkin_json
from okrsync.history import Point
from okrsync.okrs import OkrSet
from okrsync.rollup import (
    AT_RISK_GAP,
    LOW_CONFIDENCE,
    OFF_TRACK_GAP,
    KrProgress,
    MilestoneProgress,
    Rollup,
    shown_progress,
)
from okrsync.statusview import STATUS_STYLE, milestone_json
from okrsync.store import Event

__all__ = ["RECENT_DAYS", "Recent", "explain_document", "explain_for", "load_recent", "reasons", "render"]

RECENT_DAYS = 14
_EPS = 1e-9


@dataclass(frozen=True)
class Recent:
    """What the store knows of a KR's last `RECENT_DAYS` days."""

    kr_series: tuple[Point | None, list[Point]]
    milestone_series: dict[tuple[str, str], tuple[Point | None, list[Point]]]
    checkins: list[CheckinRecord]  # the window's check-ins, plus the one before it (oldest first)
    events: list[tuple[date, str, str]]  # (day, type, text) of the KR's recent events


def _pct(value: float) -> str:
    return f"{round(value * 100)}%"


def reasons(kr: KrProgress) -> list[str]:
    """Say, in SPEC §2's order, every condition that sets the KR's status.

    A milestone is a reason only through the status the roll-up gave it (the one the KR's
    status is made from), never by re-judging its facts here: a milestone past its due day
    whose open issues weigh nothing is done, and must not be called late under a headline
    that says on track. An `unknown` KR has one reason: what was never read. Nothing else is
    judged on it.
    """
    if kr.status == "unknown":
        return [f"{kr.reason}; no verdict until every source it reads has synced"]
    if kr.progress >= 1:
        return ["all of its work is done (progress 100%)"]
    found = []
    for m in kr.milestones:
        name = f"{m.title} ({m.key})"
        open_count = m.open_count
        if m.status not in ("off_track", "at_risk"):
            continue
        if m.missing:
            found.append(f"{name} is not in the tracker any more (renamed or deleted?)")
        elif m.status == "off_track" and m.due is not None:
            found.append(f"{name} was due {m.due.isoformat()} and has {open_count} open issue(s)")
        elif m.stalled and m.due is not None:
            found.append(
                f"{name} has stalled (nothing done in 14 days) with {open_count} open issue(s), due {m.due.isoformat()}"
            )
        elif m.forecast is not None and m.due is not None:
            found.append(
                f"{name} is forecast for {m.forecast.isoformat()}, after its due date {m.due.isoformat()}"
            )
    gap = kr.expected - kr.progress
    if gap > OFF_TRACK_GAP + _EPS:
        found.append(
            f"progress {_pct(kr.progress)} is {round(gap * 100)} points below the {_pct(kr.expected)}"
            f" expected by today (more than {round(OFF_TRACK_GAP * 100)}: off track)"
        )
    elif gap > AT_RISK_GAP + _EPS:
        found.append(
            f"progress {_pct(kr.progress)} is {round(gap * 100)} points below the {_pct(kr.expected)}"
            f" expected by today (more than {round(AT_RISK_GAP * 100)}: at risk)"
        )
    if kr.confidence is not None and kr.confidence <= LOW_CONFIDENCE:
        found.append(f"the latest confidence is {kr.confidence}/10 ({LOW_CONFIDENCE} or less: at risk)")
    if not found:
        found.append(f"progress {_pct(kr.progress)} against {_pct(kr.expected)} expected by today: on track")
    return found


def _issue(issue: Any) -> dict[str, Any]:
    return {
        "key": issue.key,
        "title": issue.title,
        "url": issue.url,
        "assignee": issue.assignee,
        "in_progress": issue.in_progress,
    }


def _natural(key: str) -> list[tuple[int, int | str]]:
    """Sort `acme/web#9` before `acme/web#10` and `ONB-9` before `ONB-10`."""
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", key) if part]


def _milestone(m: MilestoneProgress, weight: float | None) -> dict[str, Any]:
    doc = milestone_json(m)
    doc["weight"] = weight
    # Partial credit: how many open issues are in progress, and the share of each counted done.
    doc["in_progress"] = m.in_progress
    doc["in_progress_weight"] = m.in_progress_weight
    doc["open_issues"] = [_issue(i) for i in sorted(m.open_issues, key=lambda i: _natural(i.key))]
    return doc


def _point_words(before: Point | None, after: Point) -> str:
    counts = ""
    if after.total is not None:
        if before is not None and before.total is not None:
            counts = f"{before.done}/{before.total} → {after.done}/{after.total} done, "
        else:
            counts = f"{after.done}/{after.total} done, "
    if before is None:
        return f"first recorded: {counts}{_pct(after.progress)}"
    return f"{counts}{_pct(before.progress)} → {_pct(after.progress)}"


def _changes(
    kr_id: str,
    recent: Recent,
    *,
    titles: Mapping[tuple[str, str], str],
    since: date,
) -> list[dict[str, Any]]:
    """List what changed since `since`: progress points, check-ins and events, oldest first."""
    changes: list[dict[str, Any]] = []
    before, points = recent.kr_series
    for point in points:
        changes.append(
            {
                "day": point.day.isoformat(),
                "what": "progress",
                "key": kr_id,
                "from": None if before is None else round(before.progress, 4),
                "to": round(point.progress, 4),
                "text": f"{kr_id} progress {_point_words(before, point)}",
            }
        )
        before = point
    for (source, key), (before_m, points_m) in recent.milestone_series.items():
        title = titles.get((source, key), key)
        for point in points_m:
            changes.append(
                {
                    "day": point.day.isoformat(),
                    "what": "milestone",
                    "key": key,
                    "from": None if before_m is None else round(before_m.progress, 4),
                    "to": round(point.progress, 4),
                    "text": f"{title}: {_point_words(before_m, point)}",
                }
            )
            before_m = point
    previous: CheckinRecord | None = None
    for c in recent.checkins:
        if c.day >= since:
            who = f" by {c.author}" if c.author else ""
            moved = f"{previous.confidence} → {c.confidence}" if previous is not None else f"{c.confidence}"
            extra = "".join(
                f", {label}: {text}"
                for label, text in (("blocker", c.blocker), ("next", c.next_action))
                if text
            )
            changes.append(
                {
                    "day": c.day.isoformat(),
                    "what": "checkin",
                    "key": kr_id,
                    "from": previous.confidence if previous is not None else None,
                    "to": c.confidence,
                    "text": f"check-in{who}: confidence {moved}{extra}",
                }
            )
        previous = c
    for day, type_, text in recent.events:
        changes.append(
            {
                "day": day.isoformat(),
                "what": "event",
                "key": type_,
                "from": None,
                "to": None,
                "text": f"{type_}: {text}",
            }
        )
    order = {"event": 0, "milestone": 1, "progress": 2, "checkin": 3}
    changes.sort(key=lambda c: (c["day"], order[c["what"]]))
    return changes


def explain_document(
    okrs: OkrSet,
    rollup: Rollup,
    kr_id: str,
    *,
    recent: Recent,
    latest: CheckinRecord | None,
    people: Mapping[str, Any],
    weights: Mapping[str, float] | None = None,
    now: datetime,
) -> dict[str, Any]:
    """Build the explanation of one KR (the `--json` document; `render` draws it)."""
    definition = okrs.key_results[kr_id]
    objective = okrs.objectives[definition.objective_id]
    kr = rollup.key_results[kr_id]
    person = people.get(definition.owner)
    by_person = Counter(i.assignee for m in kr.milestones for i in m.open_issues)
    titles = {(m.source, m.key): m.title for m in kr.milestones}
    since = rollup.today - timedelta(days=RECENT_DAYS)
    return {
        "generated_at": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "today": rollup.today.isoformat(),
        "key_result": {
            "id": definition.id,
            "title": definition.title,
            "owner": definition.owner,
            "owner_name": getattr(person, "name", None),
            "objective": {"id": objective.id, "title": objective.title},
            "cycle": objective.cycle_id,
            "kind": definition.kind,
            "commitment": definition.commitment,
            "baseline": definition.baseline,
            "target": definition.target,
            "unit": definition.unit,
            "measurement": definition.measurement,
            "value": kr.value,
            "progress": shown_progress(kr),
            "score": kr.score,
            "expected": round(kr.expected, 4),
            "status": kr.status,
            "reason": kr.reason,
            "confidence": kr.confidence,
        },
        "reasons": reasons(kr),
        "milestones": [_milestone(m, (weights or {}).get(m.key)) for m in kr.milestones],
        "open_work": [
            {"assignee": who, "open_issues": n}
            for who, n in sorted(
                by_person.items(), key=lambda item: (-item[1], item[0] is None, item[0] or "")
            )
        ],
        "checkin": checkin_json(latest),
        "changes": _changes(kr_id, recent, titles=titles, since=since),
    }


def load_recent(db: Session, rollup: Rollup, kr_id: str) -> Recent:
    """Read the KR's last `RECENT_DAYS` days from the history, check-ins and outbox."""
    since = rollup.today - timedelta(days=RECENT_DAYS)
    kr = rollup.key_results[kr_id]
    milestone_series = {
        (m.source, m.key): history.series(db, kind=history.MILESTONE, key=m.key, source=m.source, since=since)
        for m in kr.milestones
        if not m.missing
    }
    # The check-in just before the window tells what the first one in it changed from.
    window = checkin_store.since(db, since - timedelta(days=3 * RECENT_DAYS), kr_id=kr_id).get(kr_id, [])
    earlier = [c for c in window if c.day < since]
    checkins = earlier[-1:] + [c for c in window if c.day >= since]
    rows = db.execute(
        select(Event)
        .where(col(Event.kr_id) == kr_id, col(Event.day) >= since)
        .order_by(col(Event.day), col(Event.detected_at))
    ).scalars()
    events = [(e.day, e.type, str(e.payload.get("text", ""))) for e in rows]
    return Recent(
        kr_series=history.series(db, kind=history.KR, key=kr_id, since=since),
        milestone_series=milestone_series,
        checkins=checkins,
        events=events,
    )


# --- the terminal view -----------------------------------------------------------------------


def _badge(status: str) -> Text:
    return Text(f"● {status.replace('_', ' ')}", style=STATUS_STYLE.get(status, "white"))


def _heading(text: str) -> Text:
    return Text(f"\n{text}", style="bold cyan")


def render(doc: Mapping[str, Any], *, max_issues: int = 20) -> RenderableType:
    """Draw the explanation: KR, why, milestones with their open issues, people, check-in, changes."""
    kr = doc["key_result"]
    lines: list[RenderableType] = []
    title = Text()
    title.append(f"{kr['id']} ", style="bold")
    title.append(kr["title"], style="bold")
    lines.append(title)
    owner = f"{kr['owner']} ({kr['owner_name']})" if kr["owner_name"] else kr["owner"]
    lines.append(
        Text(
            f"owner {owner} · objective {kr['objective']['id']} {kr['objective']['title']} · {kr['cycle']}"
            f" · {kr['commitment']} · {kr['kind']}",
            style="dim",
        )
    )
    standing = Text(
        "no progress or score yet"
        if kr["progress"] is None
        else f"progress {_pct(kr['progress'])} (score {kr['score']:.2f})"
    )
    standing.append(f", expected {_pct(kr['expected'])}")
    if kr["kind"] == "metric":
        value = (
            "no value yet"
            if kr["value"] is None
            else f"{kr['value']:g}{' ' + kr['unit'] if kr['unit'] else ''}"
        )
        standing.append(f" · value {value} (baseline {kr['baseline']}, target {kr['target']})")
    if kr["confidence"] is not None:
        standing.append(f" · confidence {kr['confidence']}/10")
    standing.append("  ")
    standing.append_text(_badge(kr["status"]))
    lines.append(standing)

    lines.append(_heading("Why"))
    lines += [Text(f"  • {reason}") for reason in doc["reasons"]]

    lines.append(_heading("Milestones"))
    if not doc["milestones"]:
        lines.append(Text("  none linked", style="dim"))
    for m in doc["milestones"]:
        line = Text("  ")
        line.append(m["title"], style="bold")
        line.append(f" ({m['key']})", style="dim")
        if m["missing"]:
            line.append("  not found in the tracker", style="red")
            lines.append(line)
            continue
        if m["reason"]:
            line.append(f"  {m['reason']}  ", style="magenta")
            line.append_text(_badge(m["status"]))
            lines.append(line)
            continue
        if m.get("weight") not in (None, 1, 1.0):
            line.append(f"  weight {m['weight']:g}", style="dim")
        line.append(f"  {_pct(m['progress'])} {m['done']}/{m['total']} done")
        if m.get("in_progress"):
            line.append(f", {m['in_progress']} in progress")
            if m.get("in_progress_weight"):
                line.append(f" counted as {m['in_progress_weight']:g} done each")
        line.append(f"  due {m['due'] or '—'}")
        line.append("  forecast: stalled" if m["stalled"] else f"  forecast {m['forecast'] or '—'}")
        line.append("  ")
        line.append_text(_badge(m["status"]))
        lines.append(line)
        for issue in m["open_issues"][:max_issues]:
            entry = Text(
                f"      {issue['key']} {issue['title']}{' [in progress]' if issue.get('in_progress') else ''} — "
            )
            entry.append(issue["assignee"] or "unassigned", style="bold" if issue["assignee"] else "yellow")
            lines.append(entry)
        if len(m["open_issues"]) > max_issues:
            lines.append(Text(f"      … and {len(m['open_issues']) - max_issues} more", style="dim"))

    if doc["open_work"]:
        lines.append(_heading("Open work by person"))
        lines.append(
            Text(
                "  "
                + ", ".join(f"{w['assignee'] or 'unassigned'} {w['open_issues']}" for w in doc["open_work"])
            )
        )

    lines.append(_heading("Latest check-in"))
    c = doc["checkin"]
    if c is None:
        lines.append(Text(f"  none yet: okrsync checkin {kr['id']} --confidence N", style="yellow"))
    else:
        who = f" by {c['by']}" if c["by"] else ""
        parts = [f"confidence {c['confidence']}/10"]
        if c["value"] is not None:
            parts.append(f"value {c['value']:g}")
        parts += [
            f"{label}: {c[key]}"
            for label, key in (("blocker", "blocker"), ("next", "next"), ("note", "note"))
            if c[key]
        ]
        lines.append(Text(f"  {c['day']}{who}: " + " · ".join(parts)))

    lines.append(_heading(f"Last {RECENT_DAYS} days"))
    if not doc["changes"]:
        lines.append(Text("  nothing changed", style="dim"))
    for change in doc["changes"]:
        lines.append(Text(f"  {change['day']}  {change['text']}"))
    return Group(*lines)


def explain_for(settings: Any, okrs: OkrSet, engine: Any, kr_id: str, *, moment: datetime) -> dict[str, Any]:
    """Roll up from the store and explain one KR (what the CLI calls)."""
    from okrsync.days import local_day
    from okrsync.progress import compute
    from okrsync.store import session

    with session(engine) as db:
        today = local_day(moment, settings.okrsync.tz)
        rollup, gathered = compute(db, okrs, settings, today=today, detail={kr_id})
        recent = load_recent(db, rollup, kr_id)
        latest = checkin_store.latest(db).get(kr_id)
    weights = {facts.key: weight for facts, weight in gathered.inputs.milestones.get(kr_id, ())}
    return explain_document(
        okrs, rollup, kr_id, recent=recent, latest=latest, people=settings.people, weights=weights, now=moment
    )
