"""Slip detection rules (SPEC §5) as a pure function over the roll-up: no I/O, `today` injected.

Every cycle looks at every linked milestone, because time alone can make one overdue. Each
rule yields a `Slip` with a dedupe key; the outbox stores each key once, so a rule may fire on
every cycle without an alert being raised twice. Only milestones whose source was fetched
completely this cycle are judged: a failing source raises nothing for the milestones it feeds,
and its watches are left as they were. Nor is a milestone of a source that has never synced
(`unknown`): it was never read, so it is not "deleted" (no `link.broken`) and not late.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from okrsync.rollup import MilestoneProgress, Rollup


@dataclass(frozen=True)
class Watch:
    """What detection last saw of one milestone linked to one KR."""

    kr_id: str
    milestone_key: str
    source: str
    due: date | None
    title: str
    found: bool


@dataclass(frozen=True)
class Slip:
    """A detected event, before it is written to the outbox."""

    type: str
    dedupe_key: str
    kr_id: str
    milestone: MilestoneProgress
    onset: date  # the day it became observable
    due_before: date | None = None


def _judged(m: MilestoneProgress, fetched: set[str], all_fetched: bool) -> bool:
    if m.not_synced is not None:
        return False
    return all_fetched if m.implicit else m.source in fetched


def detect(
    rollup: Rollup,
    watches: Mapping[tuple[str, str], Watch],
    *,
    today: date,
    fetched: Iterable[str],
    all_fetched: bool,
) -> tuple[list[Slip], list[Watch]]:
    """Return the slips seen today and the watches to store for next time."""
    fetched_sources = set(fetched)
    slips: list[Slip] = []
    updated: list[Watch] = []
    for kr_id, kr in rollup.key_results.items():
        for m in kr.milestones:
            if not _judged(m, fetched_sources, all_fetched):
                continue
            previous = watches.get((kr_id, m.key))
            slips += _rules(kr_id, m, previous, today=today)
            updated.append(Watch(kr_id, m.key, m.source, m.due, m.title, found=not m.missing))
    return slips, updated


def _rules(kr_id: str, m: MilestoneProgress, previous: Watch | None, *, today: date) -> list[Slip]:
    if m.missing:
        return [Slip("link.broken", f"link.broken|{kr_id}|{m.key}", kr_id, m, onset=today)]
    if m.state == "closed" and m.progress >= 1:
        return []  # closed with all work done: nothing to warn about, ever
    found: list[Slip] = []
    if previous is not None and previous.found and previous.due is not None:
        if m.due is None or m.due > previous.due:
            new = m.due.isoformat() if m.due else "none"
            key = f"milestone.rescheduled|{kr_id}|{m.key}|{previous.due.isoformat()}|{new}"
            found.append(Slip("milestone.rescheduled", key, kr_id, m, onset=today, due_before=previous.due))
    if m.due is not None and m.overdue:
        key = f"milestone.overdue|{kr_id}|{m.key}|{m.due.isoformat()}"
        found.append(Slip("milestone.overdue", key, kr_id, m, onset=m.due + timedelta(days=1)))
    open_work = m.total > m.done
    if m.due is not None and m.forecast is not None and m.forecast > m.due and today <= m.due and open_work:
        key = f"milestone.at_risk|{kr_id}|{m.key}|{m.due.isoformat()}"
        found.append(Slip("milestone.at_risk", key, kr_id, m, onset=today))
    return found
