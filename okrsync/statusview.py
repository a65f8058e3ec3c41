"""The status tree: one JSON document (SPEC §4, a stable interface) and its Rich rendering.

The terminal tree is drawn from the JSON document, so both always say the same thing. An
`unknown` objective, KR or milestone (fed by a source that never synced) has `progress` and
`score` null and a `reason`: the document never holds a number on data not read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from okrsync.okrs import OkrSet
from okrsync.rollup import MilestoneProgress, Rollup, shown_progress
from okrsync.store import SourceState

STATUS_STYLE = {
    "done": "green",
    "on_track": "green",
    "at_risk": "yellow",
    "off_track": "red",
    "unknown": "magenta",
}


def _day(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _time(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# Where each kind of source keeps the time its store was last checked against the tracker's
# full list (deleted, moved and missed issues settled): a GitHub source the oldest of its
# repos' reconciles, a Jira source its last deleted-issue search.
RECONCILE_CURSOR_KEY = {"github": "reconciled_at", "jira": "deleted_checked_at"}


def last_reconcile(state: SourceState) -> str | None:
    """Return when the source was last fully reconciled (SPEC §4 `sources[].last_reconcile`)."""
    value = (state.cursor or {}).get(RECONCILE_CURSOR_KEY.get(state.kind, ""))
    if not isinstance(value, str) or not value:
        return None
    return _time(datetime.fromisoformat(value))


def milestone_json(m: MilestoneProgress) -> dict[str, Any]:
    """Describe a milestone as SPEC §4 does (plus okrsync's extra fields).

    A milestone never read (`not_synced`) has no numbers: progress and counts are null.
    """
    unread = m.not_synced is not None
    return {
        "source": m.source,
        "key": m.key,
        "title": m.title,
        "url": m.url,
        "due": _day(m.due),
        "state": m.state,
        "progress": None if unread else round(m.progress, 4),
        "done": None if unread else m.done,
        "total": None if unread else m.total,
        "excluded": None if unread else m.excluded,
        "status": m.status,
        "forecast": _day(m.forecast),
        "stalled": m.stalled,
        "overdue": m.overdue,
        "empty": m.empty,
        "missing": m.missing,
        "unestimated": m.unestimated,
        "implicit": m.implicit,
        "reason": m.reason,
    }


def status_document(
    okrs: OkrSet,
    rollup: Rollup,
    sources: Iterable[SourceState],
    *,
    now: datetime,
    cycle: str | None = None,
    unknown_kr_ids: Mapping[str, list[str]] | None = None,
    checkins: Mapping[str, dict[str, Any] | None] | None = None,
    writeback: Mapping[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Build the `status --json` document for every cycle, or for one.

    `checkins` maps a KR id to its latest check-in (`okrsync.checkins.checkin_json`); each KR
    carries it as `checkin` (null when it has none), next to the SPEC's `confidence`.
    `writeback` maps a source name to its write-back health (`{enabled, ok, last_error, ...}`,
    SPEC §10); each source carries it as `writeback`.
    """
    cycles = [c for c in okrs.cycles.values() if cycle is None or c.id == cycle]
    cycle_ids = {c.id for c in cycles}
    objectives = []
    for objective in okrs.objectives.values():
        if objective.cycle_id not in cycle_ids:
            continue
        progress = rollup.objectives[objective.id]
        key_results = []
        for kr in objective.key_results:
            krp = rollup.key_results[kr.id]
            key_results.append(
                {
                    "id": kr.id,
                    "title": kr.title,
                    "owner": kr.owner,
                    "kind": kr.kind,
                    "progress": shown_progress(krp),
                    "score": krp.score,
                    "status": krp.status,
                    "reason": krp.reason,
                    "confidence": krp.confidence,
                    "expected": round(krp.expected, 4),
                    "value": krp.value,
                    "commitment": kr.commitment,
                    "checkin": (checkins or {}).get(kr.id),
                    "milestones": [milestone_json(m) for m in krp.milestones],
                }
            )
        objectives.append(
            {
                "id": objective.id,
                "title": objective.title,
                "owner": objective.owner,
                "team": objective.team,
                "cycle": objective.cycle_id,
                "parent": objective.parent,
                "progress": shown_progress(progress),
                "score": progress.score,
                "status": progress.status,
                "reason": progress.reason,
                "expected": round(progress.expected, 4),
                "key_results": key_results,
            }
        )
    return {
        "generated_at": _time(now),
        "cycles": [{"id": c.id, "start": c.start.isoformat(), "end": c.end.isoformat()} for c in cycles],
        "objectives": objectives,
        "sources": [
            {
                "name": s.name,
                "kind": s.kind,
                "last_success": _time(s.last_success),
                "last_reconcile": last_reconcile(s),
                "last_attempt": _time(s.last_attempt),
                "last_error": s.last_error,
                "writeback": (writeback or {}).get(s.name),
            }
            for s in sources
        ],
        "unknown_kr_ids": {k: sorted(v) for k, v in sorted((unknown_kr_ids or {}).items())},
    }


def _badge(status: str) -> Text:
    return Text(f"● {status.replace('_', ' ')}", style=STATUS_STYLE.get(status, "white"))


def _pct(progress: float | None) -> str:
    return "—" if progress is None else f"{progress * 100:.0f}%"


def _milestone_line(m: dict[str, Any]) -> Text:
    line = Text()
    line.append(m["title"], style="bold")
    line.append(f" ({m['key']})", style="dim")
    if m["missing"]:
        line.append("  not found in the tracker", style="red")
        return line
    if m.get("reason"):
        line.append("  not synced yet  ", style="magenta")
        line.append_text(_badge(m["status"]))
        return line
    line.append(f"  {_pct(m['progress'])}  {m['done']}/{m['total']} done")
    if m["excluded"]:
        line.append(f", {m['excluded']} excluded", style="dim")
    line.append(f"  due {m['due'] or '—'}")
    if m["stalled"]:
        line.append("  forecast: stalled", style="yellow")
    elif m["forecast"]:
        line.append(f"  forecast {m['forecast']}")
    if m["empty"]:
        line.append("  (empty)", style="dim")
    line.append("  ")
    line.append_text(_badge(m["status"]))
    return line


def render(document: dict[str, Any]) -> RenderableType:
    """Draw the document as cycles → objectives (cascaded) → KRs → milestones, then sources."""
    parts: list[RenderableType] = []
    objectives = {o["id"]: o for o in document["objectives"]}
    for cycle in document["cycles"]:
        tree = Tree(Text(f"{cycle['id']}  {cycle['start']} → {cycle['end']}", style="bold cyan"))
        # An objective cascades under a parent of its own cycle; under a parent in another
        # cycle (a team quarter under a company year) it heads its own tree, and the parent
        # shows a one-line reference to it.
        roots = [
            o
            for o in objectives.values()
            if o["cycle"] == cycle["id"]
            and (o["parent"] not in objectives or objectives[o["parent"]]["cycle"] != o["cycle"])
        ]
        for objective in roots:
            _add_objective(tree, objective, objectives, seen=set())
        parts.append(tree)
    table = Table(title="Sources", title_justify="left", show_edge=False)
    for column in ("source", "last success", "last reconcile", "last error", "write-back"):
        table.add_column(column)
    for s in document["sources"]:
        error = Text(s["last_error"] or "—", style="red" if s["last_error"] else "dim")
        table.add_row(
            s["name"],
            s["last_success"] or "never",
            s.get("last_reconcile") or "never",
            error,
            _writeback_cell(s),
        )
    parts.append(table)
    if document.get("unknown_kr_ids"):
        lines = [f"kr:{kr_id} on {', '.join(where)}" for kr_id, where in document["unknown_kr_ids"].items()]
        parts.append(Text("Unknown KR ids in tracker labels: " + "; ".join(lines), style="yellow"))
    return Group(*parts)


def _writeback_cell(source: dict[str, Any]) -> Text:
    """Say how the source's write-back went: off, ok, not yet, or its last error."""
    state = source.get("writeback")
    if not state or not state.get("enabled"):
        return Text("off", style="dim")
    if state.get("last_error"):
        return Text(f"failed: {state['last_error']}", style="red")
    return Text(
        "ok" if state.get("last_success") else "not yet",
        style="green" if state.get("last_success") else "dim",
    )


def _add_objective(
    parent: Tree, o: dict[str, Any], objectives: dict[str, dict[str, Any]], *, seen: set[str]
) -> None:
    if o["id"] in seen:
        return
    seen.add(o["id"])
    label = Text()
    label.append(f"{o['id']} ", style="bold")
    label.append(o["title"])
    upward = (
        f"  ↑ {o['parent']}"
        if o["parent"] in objectives and objectives[o["parent"]]["cycle"] != o["cycle"]
        else ""
    )
    label.append(
        f"  [{o['owner']}]{upward}  {_pct(o['progress'])} (expected {_pct(o['expected'])})  ", style="dim"
    )
    label.append_text(_badge(o["status"]))
    node = parent.add(label)
    for kr in o["key_results"]:
        kr_label = Text()
        kr_label.append(f"{kr['id']} ", style="bold")
        kr_label.append(kr["title"])
        score = "no score" if kr["score"] is None else f"score {kr['score']:.2f}"
        kr_label.append(f"  [{kr['owner']}]  {score}  ", style="dim")
        if kr.get("confidence") is not None:
            kr_label.append(f"confidence {kr['confidence']}/10  ", style="dim")
        kr_label.append_text(_badge(kr["status"]))
        kr_node = node.add(kr_label)
        if kr.get("reason"):
            kr_node.add(Text(kr["reason"], style="magenta"))
        for m in kr["milestones"]:
            kr_node.add(_milestone_line(m))
    for child in objectives.values():
        if child["parent"] != o["id"] or child["id"] == o["id"]:
            continue
        if child["cycle"] == o["cycle"]:
            _add_objective(node, child, objectives, seen=seen)
        else:
            ref = Text(f"↳ {child['id']} {child['title']}  ({child['cycle']})  {_pct(child['progress'])}  ")
            ref.append_text(_badge(child["status"]))
            node.add(ref)
