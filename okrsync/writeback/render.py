"""Render what write-back puts in the trackers, from the roll-up: pure text, no I/O.

Two dialects: GitHub markdown (tables with `|`) and Jira wiki markup (`||head||`, `|cell|`),
which is what Jira's REST API v2 takes in descriptions and comments. The same facts are shown
in both: for each KR its objective, owner, progress against expected, status, and each of its
milestones' done/total, due day and forecast, linked to the report page when `[server]
public_url` is set.

The rendering holds no timestamp: a rendering that did not change must hash the same, so a
quiet cycle writes nothing. Expected progress and forecasts move with the calendar, so a
rendering changes at most about once a day when the work does not.

Tracker text (titles) is escaped for the table it lands in, and the `kr:` label prefix is
broken up (`kr\\:ENG-1.1`): okrsync reads `kr:` tokens in milestone descriptions as links
(SPEC §3), and its own section must never link a milestone to a KR.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from okrsync.okrs import KeyResult, OkrSet
from okrsync.rollup import KrProgress, MilestoneProgress, Rollup

Dialect = Literal["markdown", "jira"]

DASHBOARD_TITLE = "OKR dashboard"
LABEL = "okrsync"

STATUS_TEXT = {
    "done": "✅ done",
    "on_track": "🟢 on track",
    "at_risk": "🟡 at risk",
    "off_track": "🔴 off track",
}

_MD_INTRO = (
    "This issue is kept by okrsync: the key results this "
    "repository's milestones and `{prefix}` labels feed, updated after each sync. okrsync only "
    "rewrites the marked section below; anything you write around it stays. Close the issue "
    "to stop the updates."
)
_JIRA_INTRO = (
    "This issue is kept by okrsync: the key results this project's versions, epics and "
    "{{{{{prefix}}}}} labels feed, updated after each sync. okrsync only rewrites the section "
    "between its markers; anything you write around it stays."
)


@dataclass(frozen=True)
class Context:
    """What every rendering needs besides the KRs: the OKRs, their roll-up and how to link."""

    okrs: OkrSet
    rollup: Rollup
    public_url: str | None
    label_prefix: str

    def kr_url(self, kr_id: str) -> str | None:
        """The report page of a KR, when the report is reachable (`[server] public_url`)."""
        return f"{self.public_url.rstrip('/')}/kr/{kr_id}" if self.public_url else None


# --- escaping -------------------------------------------------------------------------------


def _defuse(text: str, prefix: str) -> str:
    """Break every `kr:` token so okrsync never reads its own section as a link."""
    if not prefix:
        return text
    last = prefix[-1]
    if last.isascii() and not last.isalnum() and not last.isspace():
        broken = prefix[:-1] + "\\" + last  # markdown shows `kr\:` as `kr:`
    else:
        broken = prefix[0] + "\u200b" + prefix[1:]
    return text.replace(prefix, broken)


def cell(text: str, ctx: Context, dialect: Dialect) -> str:
    """Escape tracker text for one table cell: no line breaks, pipes, markup or markers."""
    flat = " ".join(text.split())
    flat = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if dialect == "markdown":
        flat = flat.replace("|", "\\|").replace("[", "\\[").replace("]", "\\]")
    else:
        for char in "|[]{}*_-+^~?":
            flat = flat.replace(char, "\\" + char)
    return _defuse(flat, ctx.label_prefix)


def _link(label: str, url: str | None, dialect: Dialect) -> str:
    if not url:
        return label
    return f"[{label}]({url})" if dialect == "markdown" else f"[{label}|{url}]"


# --- facts ----------------------------------------------------------------------------------


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def progress_text(kr: KrProgress) -> str:
    """Say where a KR is against where it should be: `25% (expected 64%)`."""
    return f"{_pct(kr.progress)} (expected {_pct(kr.expected)})"


def milestone_text(m: MilestoneProgress, ctx: Context, dialect: Dialect) -> str:
    """One milestone in a cell: title (linked), done/total, due day and forecast."""
    title = _link(cell(m.title, ctx, dialect), m.url, dialect)
    if m.missing:
        return f"{title}: not found in the tracker"
    parts = [f"{m.done}/{m.total} done"]
    parts.append(f"due {m.due.isoformat()}" if m.due else "no due date")
    if m.overdue:
        parts.append("overdue")
    if m.stalled:
        parts.append("forecast: stalled")
    elif m.forecast is not None:
        parts.append(f"forecast {m.forecast.isoformat()}")
    elif m.total and m.done >= m.total:
        parts.append("complete")
    return f"{title}: " + ", ".join(parts)


def _kr_cells(kr: KeyResult, ctx: Context, dialect: Dialect) -> list[str]:
    progress = ctx.rollup.key_results[kr.id]
    objective = ctx.okrs.objectives[kr.objective_id]
    return [
        f"{objective.id} {cell(objective.title, ctx, dialect)}",
        f"{_link(kr.id, ctx.kr_url(kr.id), dialect)} {cell(kr.title, ctx, dialect)}",
        cell(kr.owner, ctx, dialect),
        progress_text(progress),
        STATUS_TEXT.get(progress.status, progress.status),
    ]


def ordered(kr_ids: Sequence[str] | set[str], okrs: OkrSet) -> list[KeyResult]:
    """The KRs named, in the order the mappings define them (objective by objective)."""
    wanted = set(kr_ids)
    return [kr for kr in okrs.key_results.values() if kr.id in wanted]


def _table(header: list[str], rows: list[list[str]], dialect: Dialect) -> str:
    if dialect == "markdown":
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
    else:
        lines = ["||" + "||".join(header) + "||"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


_KR_HEADER = ["Objective", "Key result", "Owner", "Progress", "Status"]


# --- what goes where ------------------------------------------------------------------------


def dashboard_section(where: str, kr_ids: Sequence[str] | set[str], ctx: Context, dialect: Dialect) -> str:
    """The marked section of a repo's or project's dashboard: every KR its work feeds."""
    heading = f"Key results fed by {where}"
    heading = f"### {heading}" if dialect == "markdown" else f"h3. {heading}"
    krs = ordered(kr_ids, ctx.okrs)
    if not krs:
        return f"{heading}\n\nNo key result is fed by {where} now."
    separator = "<br>" if dialect == "markdown" else " \\\\ "
    rows = []
    for kr in krs:
        milestones = ctx.rollup.key_results[kr.id].milestones
        listed = separator.join(milestone_text(m, ctx, dialect) for m in milestones) or "—"
        rows.append([*_kr_cells(kr, ctx, dialect), listed])
    return f"{heading}\n\n{_table([*_KR_HEADER, 'Milestones'], rows, dialect)}"


def milestone_section(key: str, kr_ids: Sequence[str] | set[str], ctx: Context, dialect: Dialect) -> str:
    """The marked section at the end of one milestone's description: the KRs it feeds."""
    rows = []
    for kr in ordered(kr_ids, ctx.okrs):
        progress = ctx.rollup.key_results[kr.id]
        mine = next((m for m in progress.milestones if m.key == key), None)
        this = milestone_text(mine, ctx, dialect) if mine is not None else "—"
        rows.append([*_kr_cells(kr, ctx, dialect), this])
    heading = "OKRs this milestone feeds (kept by okrsync)"
    heading = f"**{heading}**" if dialect == "markdown" else f"*{heading}*"
    return f"{heading}\n\n{_table([*_KR_HEADER, 'This milestone'], rows, dialect)}"


def dashboard_body(section: str, *, dialect: Dialect, label_prefix: str) -> str:
    """The whole body of a new dashboard issue: a short note for people, then the section."""
    from okrsync.writeback.markers import block

    intro = (_MD_INTRO if dialect == "markdown" else _JIRA_INTRO).format(prefix=label_prefix)
    return f"{intro}\n\n{block(section)}\n"


# --- Jira epics -----------------------------------------------------------------------------


def epic_property(kr_ids: Sequence[str] | set[str], ctx: Context) -> dict[str, object]:
    """The `okrsync` issue property of an epic: its KR, objective, status and progress.

    An epic feeding several KRs carries the one in the worst state (ties: mapping order), so
    `issue.property[okrsync].status = "off_track"` finds every epic whose KR is off track;
    `krs` lists them all.
    """
    from okrsync.rollup import worst

    krs = ordered(kr_ids, ctx.okrs)
    statuses = [ctx.rollup.key_results[kr.id].status for kr in krs]
    bad = worst(statuses)
    chosen = next(kr for kr in krs if ctx.rollup.key_results[kr.id].status == bad)
    progress = ctx.rollup.key_results[chosen.id]
    return {
        "kr": chosen.id,
        "objective": chosen.objective_id,
        "status": progress.status,
        "progress": round(progress.progress, 4),
        "krs": [kr.id for kr in krs],
    }


def epic_comment(kr_ids: Sequence[str] | set[str], ctx: Context) -> str:
    """The one comment okrsync keeps on an epic: which KRs it feeds and their status.

    It says only what changes with a status, not progress, so it is edited (and watchers
    notified) when a KR's status changes, not at every closed issue.
    """
    lines = []
    for kr in ordered(kr_ids, ctx.okrs):
        progress = ctx.rollup.key_results[kr.id]
        objective = ctx.okrs.objectives[kr.objective_id]
        name = _link(kr.id, ctx.kr_url(kr.id), "jira")
        lines.append(
            f"* {name} {cell(kr.title, ctx, 'jira')} (objective {objective.id}, owner "
            f"{cell(kr.owner, ctx, 'jira')}): {STATUS_TEXT.get(progress.status, progress.status)}"
        )
    return "This epic feeds these key results (kept by okrsync):\n" + "\n".join(lines)


def canonical(value: object) -> str:
    """A stable text of a JSON value, for hashing."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
