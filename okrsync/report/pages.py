"""Shape the report's pages from numbers okrsync already has: nothing is computed twice.

The index is the `status --json` document (`statusview.status_document`) arranged as a tree;
a KR page adds what `explain` says (`explain.reasons`), the score band (`scoring.band`) and the
charts drawn from the history, the check-ins and the roll-up's own forecasts. Every function
here is pure: the page dicts it returns are what the templates read.

Burn-up unit: the history keeps each milestone's done and in-scope *issue counts* per day (not
weights), so the burn-up counts issues, also for a KR weighted by points; its score, beside the
chart, is the roll-up's. A KR's burn-up is the sum over its linked milestones (a milestone
the tracker no longer has adds nothing), and today's point is the roll-up's, so the chart
always ends where the page's numbers are, even before the daemon recorded today.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from types import SimpleNamespace
from typing import Any

from okrsync.channels.text import TITLES
from okrsync.checkins import CheckinRecord
from okrsync.explain import reasons
from okrsync.history import Mark
from okrsync.okrs import Cycle, KeyResult, OkrSet
from okrsync.report.charts import Chart, Count, burn_up, confidence_trend, forecast_path, metric_trend
from okrsync.report.facts import OPEN_ISSUES_SHOWN, AlertLine, ReportFacts
from okrsync.rollup import LOW_CONFIDENCE, IssueFacts, KrProgress, MilestoneProgress
from okrsync.scoring import band_of
from okrsync.statusview import milestone_json

__all__ = ["Links", "index_page", "kr_counts", "kr_page", "owner_name"]

STATUS_WORDS = {
    "done": "done",
    "on_track": "on track",
    "at_risk": "at risk",
    "off_track": "off track",
    "unknown": "unknown",
}


@dataclass(frozen=True)
class Links:
    """Where pages point: files side by side (`okrsync report`) or the daemon's paths.

    `prefix` leads from the page being written to the report's root: "" for index.html,
    "../" for kr/<ID>.html; the daemon serves absolute paths.
    """

    live: bool
    prefix: str = ""

    def index(self) -> str:
        return "/" if self.live else f"{self.prefix}index.html"

    def kr(self, kr_id: str) -> str:
        return f"/kr/{kr_id}" if self.live else f"{self.prefix}kr/{kr_id}.html"


def owner_name(owner: str, people: Mapping[str, Any]) -> str:
    """Name an owner as `[people]` knows them: "Bob Stone (bob)", or the id alone."""
    name = getattr(people.get(owner), "name", None)
    return f"{name} ({owner})" if name else owner


def _tree(objectives: list[dict[str, Any]], cycle_id: str) -> list[dict[str, Any]]:
    """Arrange a cycle's objectives as the status tree does: children under their parent.

    A child in the same cycle sits under its parent; a child whose parent is in another cycle
    (a team quarter under a company year) heads its own tree and names the parent, and the
    parent lists it as a reference. A parent loop is cut where it closes.
    """
    by_id = {o["id"]: o for o in objectives}
    seen: set[str] = set()

    def node(o: dict[str, Any]) -> dict[str, Any]:
        seen.add(o["id"])
        children, refs = [], []
        for child in objectives:
            if child["parent"] != o["id"] or child["id"] in seen:
                continue
            if child["cycle"] == o["cycle"]:
                children.append(node(child))
            else:
                refs.append(child)
        parent = by_id.get(o["parent"]) if o["parent"] else None
        upward = parent if parent is not None and parent["cycle"] != o["cycle"] else None
        return {"objective": o, "children": children, "refs": refs, "upward": upward}

    roots = [
        o
        for o in objectives
        if o["cycle"] == cycle_id and (o["parent"] not in by_id or by_id[o["parent"]]["cycle"] != o["cycle"])
    ]
    return [node(o) for o in roots if o["id"] not in seen]


def index_page(document: Mapping[str, Any], *, people: Mapping[str, Any], links: Links) -> dict[str, Any]:
    """Arrange the status document as cycles → objective trees → KRs, with names and bands."""
    objectives = []
    for o in document["objectives"]:
        krs = [
            {
                **kr,
                "owner_name": owner_name(kr["owner"], people),
                "band": band_of(kr["score"]),
                "href": links.kr(kr["id"]),
            }
            for kr in o["key_results"]
        ]
        objectives.append({**o, "owner_name": owner_name(o["owner"], people), "key_results": krs})
    counts: dict[str, int] = {}
    for o in objectives:
        for kr in o["key_results"]:
            counts[kr["status"]] = counts.get(kr["status"], 0) + 1
    return {
        "generated_at": document["generated_at"],
        "cycles": [{**c, "tree": _tree(objectives, c["id"])} for c in document["cycles"]],
        "sources": document["sources"],
        "status_counts": [(s, counts[s]) for s in STATUS_WORDS if s in counts],
        "kr_total": sum(counts.values()),
        "links": links,
    }


def kr_counts(
    milestones: Iterable[MilestoneProgress], marks: Mapping[tuple[str, str], list[Mark]]
) -> list[Count]:
    """Sum the linked milestones' recorded done and total per day, then today's from the roll-up.

    Each milestone holds its last recorded counts until it changes again; a milestone not yet
    recorded on a day adds nothing that day. Days before the window (each milestone's leading
    point) collapse into one starting count.
    """
    found = [m for m in milestones if not m.missing]
    changes: dict[date, list[tuple[int, Mark]]] = {}
    for index, m in enumerate(found):
        for point in marks.get((m.source, m.key), []):
            changes.setdefault(point.day, []).append((index, point))
    current: dict[int, tuple[float, float]] = {}
    done_sum = total_sum = 0.0  # running sums: a day's changes adjust them, not a re-sum
    counts: list[Count] = []
    for day in sorted(changes):
        for index, point in changes[day]:
            done, total = float(point.done or 0), float(point.total or 0)
            was_done, was_total = current.get(index, (0.0, 0.0))
            done_sum += done - was_done
            total_sum += total - was_total
            current[index] = (done, total)
        counts.append(Count(day, done_sum, total_sum))
    return counts


def _with_today(counts: list[Count], milestones: Sequence[MilestoneProgress], today: date) -> list[Count]:
    """End the counts with today's, from the roll-up: the chart ends where the page's numbers are."""
    found = [m for m in milestones if not m.missing]
    now = Count(today, float(sum(m.done for m in found)), float(sum(m.total for m in found)))
    return [c for c in counts if c.day < today] + [now]


def _collapse_before(counts: list[Count], start: date) -> list[Count]:
    """Keep only the last count before the cycle: the one the cycle starts with."""
    before = [c for c in counts if c.day < start]
    return before[-1:] + [c for c in counts if c.day >= start]


def _milestone_rows(
    kr: KrProgress, open_issues: Mapping[tuple[str, str], Sequence[IssueFacts]]
) -> list[SimpleNamespace]:
    """Describe each milestone as `status --json` does, plus its first open issues.

    Rows are namespaces, not dicts, and issues stay `IssueFacts`: Jinja looks an attribute up
    with getattr first, and on a dict that fails (an exception) before it tries the key, which
    made these lists, the bulk of a KR page, a third of the report's rendering time.
    """
    rows = []
    for number, m in enumerate(kr.milestones, start=1):
        shown = tuple(m.open_issues if m.implicit else open_issues.get((m.source, m.key), ()))
        shown = shown[:OPEN_ISSUES_SHOWN]
        rows.append(
            SimpleNamespace(
                **milestone_json(m),
                number=number,
                open_count=m.open_count,
                open_issues=shown,
                more_open=max(0, m.open_count - len(shown)),
            )
        )
    return rows


def _checkin_rows(checkins: Sequence[CheckinRecord], people: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    previous: CheckinRecord | None = None
    for c in checkins:
        rows.append(
            {
                "day": c.day.isoformat(),
                "confidence": c.confidence,
                "change": None if previous is None else c.confidence - previous.confidence,
                "value": c.value,
                "blocker": c.blocker,
                "next": c.next_action,
                "note": c.note,
                "by": owner_name(c.author, people) if c.author else None,
            }
        )
        previous = c
    return list(reversed(rows))  # newest first: what a reader looks for


def _alert_rows(alerts: Sequence[AlertLine]) -> list[dict[str, Any]]:
    return [
        {
            "day": a.day.isoformat(),
            "type": a.type,
            "title": TITLES.get(a.type, a.type),
            "text": a.text,
            "backlog": a.backlog,
        }
        for a in reversed(alerts)
    ]


def _charts(
    definition: KeyResult, kr: KrProgress, cycle: Cycle, facts: ReportFacts, *, today: date
) -> list[Chart]:
    """Draw a metric KR's value (when it has a target), the burn-up of its milestones, its confidence.

    A milestones KR always gets a burn-up, empty as it may be: "nothing linked" is worth seeing;
    a metric KR gets one only when milestones feed its status too.
    """
    charts: list[Chart] = []
    if definition.kind == "metric":
        if definition.target is not None:
            values = [(d, v) for d, v in _metric_values(definition, facts) if d < today]
            if kr.value is not None:
                values.append((today, kr.value))
            charts.append(
                metric_trend(
                    start=cycle.start,
                    end=cycle.end,
                    today=today,
                    values=_values_from_start(values, cycle.start),
                    baseline=definition.baseline if definition.baseline is not None else 0.0,
                    target=definition.target,
                    unit=definition.unit or "",
                )
            )
    if definition.kind == "milestones" or kr.milestones:
        counts = _collapse_before(
            _with_today(kr_counts(kr.milestones, facts.milestones), kr.milestones, today), cycle.start
        )
        found = [m for m in kr.milestones if not m.missing]
        path = forecast_path(
            counts[-1].done,
            [(float(m.total - m.done), None if m.stalled else m.forecast) for m in found],
            today=today,
            until=cycle.end,
        )
        dues = [(m.due, str(n), m.title) for n, m in enumerate(kr.milestones, start=1) if m.due is not None]
        charts.append(
            burn_up(start=cycle.start, end=cycle.end, today=today, counts=counts, forecast=path, dues=dues)
        )
    checkins = facts.checkins.get(definition.id, [])
    charts.append(
        confidence_trend(
            start=cycle.start,
            end=cycle.end,
            today=today,
            checkins=[(c.day, c.confidence) for c in checkins],
            at_risk=LOW_CONFIDENCE,
        )
    )
    return charts


def _metric_values(definition: KeyResult, facts: ReportFacts) -> list[tuple[date, float]]:
    """Read a metric KR's past values where its value comes from (`checkins.metric_value`).

    A KR with a `value_query` is measured by the tracker each cycle, and the history keeps what
    each cycle measured; any other takes its value from check-ins, so their values (the last of
    a day) are its series, also for days before the daemon first recorded it.
    """
    if definition.value_query:
        marks = facts.values.get(definition.id, [])
        return [(m.day, m.value) for m in marks if m.value is not None]
    by_day = {c.day: c.value for c in facts.checkins.get(definition.id, []) if c.value is not None}
    return sorted(by_day.items())


def _values_from_start(values: list[tuple[date, float]], start: date) -> list[tuple[date, float]]:
    """Keep the last value before the cycle (what it started from) and every value in it."""
    before = [v for v in values if v[0] < start]
    return before[-1:] + [v for v in values if v[0] >= start]


def kr_page(
    okrs: OkrSet,
    definition: KeyResult,
    kr_doc: Mapping[str, Any],
    kr: KrProgress,
    facts: ReportFacts,
    *,
    today: date,
    people: Mapping[str, Any],
    links: Links,
    generated_at: str,
) -> dict[str, Any]:
    """Build one KR page: standing, why, charts, milestones with open work, check-ins, alerts.

    `kr_doc` is the KR's part of the status document, `kr` its roll-up: the page shows their
    numbers as they are.
    """
    objective = okrs.objectives[definition.objective_id]
    cycle = okrs.cycles[objective.cycle_id]
    return {
        "generated_at": generated_at,
        "today": today.isoformat(),
        "kr": {
            **kr_doc,
            "owner_name": owner_name(definition.owner, people),
            "band": band_of(kr.score),
            "status_words": STATUS_WORDS[kr.status],
            "baseline": definition.baseline,
            "target": definition.target,
            "unit": definition.unit,
            "measurement": definition.measurement,
        },
        "objective": {"id": objective.id, "title": objective.title},
        "cycle": {"id": cycle.id, "start": cycle.start.isoformat(), "end": cycle.end.isoformat()},
        "reasons": reasons(kr),
        "charts": _charts(definition, kr, cycle, facts, today=today),
        "milestones": _milestone_rows(kr, facts.open_issues),
        "checkins": _checkin_rows(facts.checkins.get(kr.id, []), people),
        "alerts": _alert_rows(facts.alerts.get(kr.id, [])),
        "links": links,
    }
