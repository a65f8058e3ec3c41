"""Write an `OkrDiff` for a terminal (text), a pull-request comment (markdown) or a program (json).

The markdown starts with an HTML comment, `<!-- okrsync-diff -->`, so a CI step can find and
update its own earlier comment instead of adding one per push; tracker and user text is
escaped for GitHub's table cells (`|`, newlines, HTML).
"""

from __future__ import annotations

import html
from typing import Any

from okrsync.ascode.diff import FieldChange, ItemChange, KrMovement, OkrDiff

MARKER = "<!-- okrsync-diff -->"
_SYMBOL = {"added": "+", "removed": "-", "renamed": "~", "changed": "~"}


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{round(value * 100)} %"


def _field(change: FieldChange) -> str:
    if change.before is None:
        return f"{change.field}: {change.after}" if change.field != "link" else f"link added: {change.after}"
    if change.after is None:
        return (
            f"{change.field} removed: {change.before}"
            if change.field == "link"
            else f"{change.field}: {change.before} → (none)"
        )
    return f"{change.field}: {change.before} → {change.after}"


def _headline(item: ItemChange) -> str:
    if item.change == "renamed" and item.old_id is not None:
        return f"{item.old_id} → {item.id} {item.title}"
    if item.change == "renamed":
        return f"{item.id} {item.old_title!r} → {item.title!r}"
    return f"{item.id} {item.title}"


def _movement(movement: KrMovement) -> str:
    line = f"{_percent(movement.before)} → {_percent(movement.after)}"
    if movement.status_before != movement.status_after and movement.status_after is not None:
        line += f" ({(movement.status_before or 'new').replace('_', ' ')} → {movement.status_after.replace('_', ' ')})"
    return line


def summary(diff: OkrDiff) -> str:
    """Count the changes in one line: "2 key results changed, 1 added; 1 objective renamed"."""
    parts = []
    for what, items in (("objective", diff.objectives), ("key result", diff.key_results)):
        counts: dict[str, int] = {}
        for item in items:
            counts[item.change] = counts.get(item.change, 0) + 1
        if counts:
            first = True
            words = []
            for change in ("added", "removed", "renamed", "changed"):
                n = counts.get(change)
                if n:
                    noun = f" {what}{'s' if n != 1 else ''}" if first else ""
                    words.append(f"{n}{noun} {change}")
                    first = False
            parts.append(", ".join(words))
    for change, n in _cycle_counts(diff).items():
        parts.append(f"{n} cycle{'s' if n != 1 else ''} {change}")
    return "; ".join(parts) if parts else "no changes to the OKRs"


def _cycle_counts(diff: OkrDiff) -> dict[str, int]:
    counts: dict[str, int] = {}
    for c in diff.cycles:
        change = "added" if c.before is None else "removed" if c.after is None else "changed"
        counts[change] = counts.get(change, 0) + 1
    return counts


def to_text(diff: OkrDiff) -> str:
    """Plain lines: `+ key result ENG-1.3 …`, its field changes indented below."""
    lines = [f"OKR changes {diff.before} → {diff.after}: {summary(diff)}"]
    for change in diff.cycles:
        lines.append(f"~ {_field(change)}")
    movements = {m.id: m for m in diff.progress}
    for item in (*diff.objectives, *diff.key_results):
        lines.append(f"{_SYMBOL[item.change]} {item.what} {item.change}: {_headline(item)}")
        lines += [f"    {_field(c)}" for c in item.fields]
        movement = movements.get(item.id)
        if movement is not None and item.what == "key result":
            lines.append(f"    progress: {_movement(movement)}")
            if movement.note:
                lines.append(f"    ({movement.note})")
    if diff.progress_note:
        lines.append(f"(progress not shown: {diff.progress_note})")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ").replace("`", "'")


def to_markdown(diff: OkrDiff) -> str:
    """A pull-request comment: a heading, a summary, and a table per kind of item."""
    lines = [
        MARKER,
        f"### OKR changes: `{_cell(diff.before)}` → `{_cell(diff.after)}`",
        "",
        f"**{_cell(summary(diff))}**",
    ]
    if diff.empty:
        return "\n".join(lines) + "\n"
    if diff.cycles:
        lines += ["", "#### Cycles", ""]
        lines += [f"- {_cell(_field(c))}" for c in diff.cycles]
    if diff.objectives:
        lines += ["", "#### Objectives", "", "| | Objective | Changes |", "|---|---|---|"]
        for item in diff.objectives:
            lines.append(f"| {item.change} | {_cell(_headline(item))} | {_changes_cell(item)} |")
    if diff.key_results:
        movements = {m.id: m for m in diff.progress}
        with_progress = bool(diff.progress)
        header = "| | Key result | Changes |" + (" Progress |" if with_progress else "")
        lines += ["", "#### Key results", "", header, "|---|---|---|" + ("---|" if with_progress else "")]
        for item in diff.key_results:
            row = f"| {item.change} | {_cell(_headline(item))} | {_changes_cell(item)} |"
            movement = movements.get(item.id)
            if with_progress:
                shown = _cell(_movement(movement)) if movement is not None else ""
                if movement is not None and movement.note:
                    shown += f"<br>_{_cell(movement.note)}_"
                row += f" {shown} |"
            lines.append(row)
    if diff.progress_note:
        lines += ["", f"_Progress not shown: {_cell(diff.progress_note)}._"]
    else:
        lines += ["", "_Progress: both sides rolled up over the same stored tracker data._"]
    return "\n".join(lines) + "\n"


def _changes_cell(item: ItemChange) -> str:
    return "<br>".join(_cell(_field(c)) for c in item.fields) or ("—" if item.change != "removed" else "")


def to_json(diff: OkrDiff) -> dict[str, Any]:
    """The diff as a document, for scripts: the same facts as the text, by field."""

    def item(i: ItemChange) -> dict[str, Any]:
        return {
            "what": i.what,
            "change": i.change,
            "id": i.id,
            "title": i.title,
            "old_id": i.old_id,
            "old_title": i.old_title,
            "fields": [{"field": c.field, "before": c.before, "after": c.after} for c in i.fields],
        }

    return {
        "before": diff.before,
        "after": diff.after,
        "summary": summary(diff),
        "cycles": [{"field": c.field, "before": c.before, "after": c.after} for c in diff.cycles],
        "objectives": [item(i) for i in diff.objectives],
        "key_results": [item(i) for i in diff.key_results],
        "progress": [
            {
                "id": m.id,
                "before": m.before,
                "after": m.after,
                "status_before": m.status_before,
                "status_after": m.status_after,
                "note": m.note,
            }
            for m in diff.progress
        ],
        "progress_note": diff.progress_note,
    }
