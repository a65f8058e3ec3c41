"""End-of-cycle scoring (`okrsync score`): KR and objective scores, grading bands, call-outs, notes.

Scores are the roll-up's (progress rounded to 2 decimals, SPEC §2); this module adds how to
read them, as the seed practice grades them:

- **Bands**: 0.7–1.0 strong, 0.4–0.6 partial, 0–0.3 missed. Scores have two decimals, so the
  bands are read by their lower bounds: a score is in the highest band whose lower bound it
  reaches. 0.65 is partial (it has not reached 0.7) and 0.35 is missed (it has not reached
  0.4); in full, strong = [0.70, 1.00], partial = [0.40, 0.69], missed = [0.00, 0.39]. The
  band is taken from the rounded score the user sees, never from the raw progress, so a
  printed 0.70 is always strong.
- **Call-outs**: a *committed* KR is expected to reach 1.0, so one below 1.0 is called out
  (`committed_below_target`); an *aspirational* KR is expected to land around 0.7, so one at
  1.0 is called out too (`aspirational_at_target`: the target may have been sandbagged).
- **Reasoning notes**: one sentence per KR from the OKR lead (`--note KR-ID=TEXT`), stored in
  `score_note`; every KR also carries a generated `basis` (what the score was computed from),
  so a sheet without notes still says why.
- **Unknown**: a KR or objective fed by a source that has never synced has no score, band or
  call-out (null in JSON, "—" in the table and Markdown); its basis says what was not read.

Everything but `load_notes` / `set_note` is pure and shapes the same sheet three ways: a Rich
table, Markdown (a pipe table per cycle, pasteable into a review doc) and JSON (README).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from sqlalchemy import select
from sqlmodel import Session

from okrsync.okrs import KeyResult, OkrSet
from okrsync.rollup import KrProgress, Rollup, shown_progress, two_decimals
from okrsync.store import ScoreNote

__all__ = [
    "BANDS",
    "Band",
    "Callout",
    "CycleScores",
    "KrScore",
    "ObjectiveScore",
    "band",
    "load_notes",
    "score_sheet",
    "set_note",
    "to_json",
    "to_markdown",
    "to_table",
]

Band = Literal["strong", "partial", "missed"]
Callout = Literal["committed_below_target", "aspirational_at_target"]

BANDS: tuple[tuple[Band, float, float], ...] = (
    ("strong", 0.7, 1.0),
    ("partial", 0.4, 0.69),
    ("missed", 0.0, 0.39),
)
"""Each band with the lowest and highest 2-decimal score in it."""

CALLOUT_WORDS: dict[Callout, str] = {
    "committed_below_target": "committed, below 1.0",
    "aspirational_at_target": "aspirational at 1.0: sandbagged target?",
}


def band_of(score: float | None) -> Band | None:
    """Grade a score; an unknown KR (no score) has no band."""
    return None if score is None else band(score)


def band(score: float) -> Band:
    """Grade a score: the highest band whose lower bound its 2-decimal value reaches."""
    shown = two_decimals(score)
    for name, low, _high in BANDS:
        if shown >= low:
            return name
    return "missed"


@dataclass(frozen=True)
class KrScore:
    """One KR's line of the score sheet."""

    id: str
    title: str
    owner: str
    kind: str
    commitment: str
    score: float | None
    progress: float | None
    band: Band | None
    status: str
    confidence: int | None
    value: float | None
    callout: Callout | None
    note: str | None
    basis: str


@dataclass(frozen=True)
class ObjectiveScore:
    """One objective with its KRs."""

    id: str
    title: str
    owner: str
    team: str | None
    parent: str | None
    score: float | None
    progress: float | None
    band: Band | None
    status: str
    key_results: tuple[KrScore, ...]


@dataclass(frozen=True)
class CycleScores:
    """A cycle's objectives, in mapping order."""

    id: str
    start: date
    end: date
    objectives: tuple[ObjectiveScore, ...]


def callout(kr: KeyResult, score: float | None) -> Callout | None:
    """Say what a reviewer should look at: a committed KR short of 1.0, an aspirational one at 1.0."""
    if score is None:
        return None
    if kr.commitment == "committed" and score < 1.0:
        return "committed_below_target"
    if kr.commitment == "aspirational" and score >= 1.0:
        return "aspirational_at_target"
    return None


def _number(value: float) -> str:
    return f"{value:g}"


def basis(kr: KeyResult, progress: KrProgress) -> str:
    """Say in a few words what the score was computed from (the generated reasoning)."""
    if progress.status == "unknown":
        return progress.reason or "not synced yet"
    if kr.kind == "metric":
        unit = f" {kr.unit}" if kr.unit else ""
        span = (
            f"baseline {_number(kr.baseline or 0)}, target {_number(kr.target)}"
            if kr.target is not None
            else "no target"
        )
        if progress.value is None:
            return f"no value measured or reported yet ({span})"
        return f"value {_number(progress.value)}{unit} ({span})"
    if not progress.milestones:
        return "no linked milestones"
    done = sum(m.done for m in progress.milestones)
    total = sum(m.total for m in progress.milestones)
    words = f"{done} of {total} issues done in {len(progress.milestones)} milestone(s)"
    late = [m.title for m in progress.milestones if m.overdue]
    if late:
        words += "; overdue: " + ", ".join(late)
    return words


def score_sheet(
    okrs: OkrSet, rollup: Rollup, *, notes: Mapping[str, str], cycle: str | None = None
) -> list[CycleScores]:
    """Build the score sheet of every cycle (or of `cycle`) from a roll-up."""
    sheet = []
    for c in okrs.cycles.values():
        if cycle is not None and c.id != cycle:
            continue
        objectives = []
        for o in okrs.objectives.values():
            if o.cycle_id != c.id:
                continue
            krs = []
            for kr in o.key_results:
                p = rollup.key_results[kr.id]
                krs.append(
                    KrScore(
                        id=kr.id,
                        title=kr.title,
                        owner=kr.owner,
                        kind=kr.kind,
                        commitment=kr.commitment,
                        score=p.score,
                        progress=shown_progress(p),
                        band=band_of(p.score),
                        status=p.status,
                        confidence=p.confidence,
                        value=p.value,
                        callout=callout(kr, p.score),
                        note=notes.get(kr.id),
                        basis=basis(kr, p),
                    )
                )
            op = rollup.objectives[o.id]
            objectives.append(
                ObjectiveScore(
                    id=o.id,
                    title=o.title,
                    owner=o.owner,
                    team=o.team,
                    parent=o.parent,
                    score=op.score,
                    progress=shown_progress(op),
                    band=band_of(op.score),
                    status=op.status,
                    key_results=tuple(krs),
                )
            )
        sheet.append(CycleScores(c.id, c.start, c.end, tuple(objectives)))
    return sheet


# --- the three shapes ------------------------------------------------------------------------


def to_json(sheet: list[CycleScores], *, generated_at: datetime) -> dict[str, Any]:
    """Shape the sheet as `score --format json` (documented in the README)."""
    return {
        "generated_at": generated_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "bands": [{"band": name, "from": low, "to": high} for name, low, high in BANDS],
        "cycles": [
            {
                "id": c.id,
                "start": c.start.isoformat(),
                "end": c.end.isoformat(),
                "objectives": [
                    {
                        "id": o.id,
                        "title": o.title,
                        "owner": o.owner,
                        "team": o.team,
                        "parent": o.parent,
                        "score": o.score,
                        "progress": o.progress,
                        "band": o.band,
                        "status": o.status,
                        "key_results": [
                            {
                                "id": k.id,
                                "title": k.title,
                                "owner": k.owner,
                                "kind": k.kind,
                                "commitment": k.commitment,
                                "score": k.score,
                                "progress": k.progress,
                                "band": k.band,
                                "status": k.status,
                                "confidence": k.confidence,
                                "value": k.value,
                                "callout": k.callout,
                                "note": k.note,
                                "basis": k.basis,
                            }
                            for k in o.key_results
                        ],
                    }
                    for o in c.objectives
                ],
            }
            for c in sheet
        ],
    }


def _score(score: float | None) -> str:
    return "—" if score is None else f"{score:.2f}"


def _cell(text: str) -> str:
    """Make text safe inside a Markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("\\", "\\\\").replace("|", "\\|")


MARKDOWN_COLUMNS = ("ID", "Title", "Owner", "Commitment", "Score", "Band", "Call-out", "Reasoning")


def to_markdown(sheet: list[CycleScores]) -> str:
    """Shape the sheet as Markdown: a heading and one pipe table per cycle.

    Objectives are bold rows followed by their KRs. The reasoning column shows the stored note,
    else the generated basis in italics, so a reader can tell the two apart.
    """
    legend = " · ".join(f"{low:.2f}–{high:.2f} {name}" for name, low, high in BANDS)
    out = [f"Bands: {legend}", ""]
    for c in sheet:
        out += [f"## {c.id} ({c.start.isoformat()} → {c.end.isoformat()})", ""]
        out.append("| " + " | ".join(MARKDOWN_COLUMNS) + " |")
        out.append("|" + "|".join("---:" if col == "Score" else "---" for col in MARKDOWN_COLUMNS) + "|")
        for o in c.objectives:
            row = [f"**{_cell(o.id)}**", f"**{_cell(o.title)}**", _cell(o.owner), "objective"]
            row += [f"**{_score(o.score)}**", o.band or "—", "", ""]
            out.append("| " + " | ".join(row) + " |")
            for k in o.key_results:
                reasoning = _cell(k.note) if k.note else f"_{_cell(k.basis)}_"
                words = CALLOUT_WORDS[k.callout] if k.callout else ""
                row = [
                    _cell(k.id),
                    _cell(k.title),
                    _cell(k.owner),
                    k.commitment,
                    _score(k.score),
                    k.band or "—",
                ]
                row += [_cell(words), reasoning]
                out.append("| " + " | ".join(row) + " |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


BAND_STYLE: dict[Band, str] = {"strong": "green", "partial": "yellow", "missed": "red"}


CALLOUT_SHORT: dict[Callout, str] = {
    "committed_below_target": "⚠ below 1.0",
    "aspirational_at_target": "⚠ at 1.0: sandbagged?",
}


def _band_text(name: Band | None) -> Text:
    return Text("—", style="dim") if name is None else Text(name, style=BAND_STYLE[name])


def to_table(sheet: list[CycleScores]) -> RenderableType:
    """Shape the sheet as Rich tables for the terminal, one per cycle.

    Ids, scores and bands never wrap (they are what a reader scans); titles and reasoning do.
    """
    parts: list[RenderableType] = []
    for c in sheet:
        table = Table(title=f"{c.id}  {c.start} → {c.end}", title_justify="left", show_edge=False)
        table.add_column("objective / key result", ratio=3)
        table.add_column("owner", no_wrap=True)
        table.add_column("commitment", no_wrap=True)
        table.add_column("score", justify="right", no_wrap=True)
        table.add_column("band", no_wrap=True)
        table.add_column("reasoning", ratio=2)
        for o in c.objectives:
            name = Text.assemble((o.id, "bold"), " ", (o.title, "bold"))
            score = Text(_score(o.score), style="bold")
            table.add_row(name, o.owner, "", score, _band_text(o.band), "")
            for k in o.key_results:
                commitment = Text(k.commitment)
                if k.callout:
                    commitment.append(f"\n{CALLOUT_SHORT[k.callout]}", style="yellow")
                table.add_row(
                    Text.assemble("  ", (k.id, "bold"), " ", k.title),
                    k.owner,
                    commitment,
                    _score(k.score),
                    _band_text(k.band),
                    Text(k.note) if k.note else Text(k.basis, style="dim italic"),
                )
        parts.append(table)
    legend = " · ".join(f"{low:.2f}–{high:.2f} {name}" for name, low, high in BANDS)
    parts.append(
        Text(f"bands: {legend}; reasoning in italics is generated, add yours with --note", style="dim")
    )
    return Group(*parts)


# --- notes -----------------------------------------------------------------------------------


def load_notes(db: Session) -> dict[str, str]:
    """Read every stored reasoning note, by KR id."""
    return {n.kr_id: n.text for n in db.execute(select(ScoreNote)).scalars()}


def set_note(db: Session, kr_id: str, text: str, *, now: datetime) -> None:
    """Add or replace a KR's note; an empty text removes it. The caller commits."""
    cleaned = " ".join(text.split())
    existing = db.get(ScoreNote, kr_id)
    if not cleaned:
        if existing is not None:
            db.delete(existing)
        return
    if existing is None:
        db.add(ScoreNote(kr_id=kr_id, text=cleaned, updated_at=now))
    else:
        existing.text, existing.updated_at = cleaned, now
        db.add(existing)
