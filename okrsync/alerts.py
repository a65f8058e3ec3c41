"""Turn a detected slip into the alert payload of SPEC §5: who, which milestone, how far, who holds the work.

The payload is built once, when the event is recorded, and stored with it: a delivery retried
tomorrow says what was true when the slip was seen.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from okrsync.okrs import OkrSet
from okrsync.rollup import KrProgress, MilestoneProgress, shown_progress
from okrsync.slips import Slip

MAX_OPEN_ISSUES = 50  # open issues an alert lists (the first by number); `open_count` says how many


def day_words(day: date | None) -> str:
    """Write a day the way alert texts do: `4 Dec`."""
    return f"{day.day} {day.strftime('%b')}" if day else "no date"


def payload_head(
    *,
    event_id: str,
    type_: str,
    owner: str,
    people: Mapping[str, Any],
    detected_at: datetime,
    day: date,
    objective: dict[str, Any] | None,
    key_result: dict[str, Any] | None,
    text: str,
) -> dict[str, Any]:
    """Build the top-level fields every payload shares (SPEC §5), so channels read them alike."""
    person = people.get(owner)
    return {
        "id": event_id,
        "type": type_,
        "detected_at": detected_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "day": day.isoformat(),
        "owner": {
            "id": owner,
            "name": getattr(person, "name", None),
            "email": getattr(person, "email", None),
            "slack": getattr(person, "slack", None),
        },
        "objective": objective,
        "key_result": key_result,
        "text": text,
    }


def _where(m: MilestoneProgress) -> str:
    """Name the milestone's home: the repo of `acme/web#12`, the project of a Jira key."""
    if "#" in m.key:
        return m.key.split("#", 1)[0]
    if m.key.startswith("jira:"):
        return m.key.removeprefix("jira:").split("/", 1)[0].split("-", 1)[0]
    return m.source


def standing_words(kr: KrProgress) -> str:
    """Say where the KR stands, at the end of an alert; an unknown KR says why it has no verdict."""
    if kr.status == "unknown":
        return f"KR {kr.id} has no status yet ({kr.reason})."
    return f"KR {kr.id} is {kr.status.replace('_', ' ')}."


def alert_text(slip: Slip, kr: KrProgress) -> str:
    """One sentence that says what slipped, by how much, and what it means for the KR."""
    m = slip.milestone
    open_count = m.total - m.done
    work = f"{open_count} of {m.total} issues open"
    standing = standing_words(kr)
    name = f"{m.title} ({_where(m)})"
    if slip.type == "milestone.rescheduled":
        if m.due is None:
            return f"{name} lost its due date (was {day_words(slip.due_before)}): {work}. {standing}"
        return f"{name} moved from {day_words(slip.due_before)} to {day_words(m.due)}: {work}. {standing}"
    if slip.type == "milestone.overdue":
        return f"{name} was due {day_words(m.due)} and is overdue: {work}. {standing}"
    if slip.type == "milestone.at_risk":
        return f"{name} is forecast for {day_words(m.forecast)}, after its due date {day_words(m.due)}: {work}. {standing}"
    if slip.type == "link.broken":
        return f"KR {kr.id} links to {m.title} ({m.key}), which no longer exists or was renamed. {standing}"
    return f"{name}: {slip.type}. {standing}"


def build_payload(
    slip: Slip,
    *,
    event_id: str,
    okrs: OkrSet,
    kr: KrProgress,
    people: Mapping[str, Any],
    detected_at: datetime,
    day: date,
) -> dict[str, Any]:
    """Build the webhook JSON of SPEC §5 for one slip."""
    definition = okrs.key_results[slip.kr_id]
    objective = okrs.objectives[definition.objective_id]
    m = slip.milestone
    payload = payload_head(
        event_id=event_id,
        type_=slip.type,
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
        },
        text=alert_text(slip, kr),
    )
    payload["milestone"] = {
        "source": m.source,
        "key": m.key,
        "title": m.title,
        "url": m.url,
        "due_before": slip.due_before.isoformat() if slip.due_before else None,
        "due": m.due.isoformat() if m.due else None,
        "forecast": m.forecast.isoformat() if m.forecast else None,
        "progress": round(m.progress, 4),
        "open_count": m.open_count,
        "open_issues": [
            {"key": i.key, "title": i.title, "url": i.url, "assignee": i.assignee}
            for i in m.open_issues[:MAX_OPEN_ISSUES]
        ],
    }
    payload["text"] = payload.pop("text")  # last, as in SPEC §5's example
    return payload


def new_event_id() -> str:
    return str(uuid.uuid4())
