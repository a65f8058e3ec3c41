"""Best-practice lint of OKRs (SPEC §3): findings that `validate` warns about and `--strict` fails.

These are habits of good OKRs rather than errors: few objectives per team, few KRs per
objective, measurable KRs, a cascade from the company's cycle, KRs that something can move,
owners whom alerts can reach.

Choices made here:

- **Teams.** Objectives count per `team`; objectives without a team count per file, since one
  file per team is the usual layout (and counting every team-less objective together would
  warn about an org, not a team).
- **Top cycle.** A cycle is *top* unless another, longer cycle contains all of it: with a
  yearly `2026` and a quarterly `2026-Q4`, only `2026` is top, so `2026-Q4` objectives should
  name a parent. Comparing spans only among cycles starting the same year would make 2026-Q1
  (89 days) look nested under 2026-Q3 (91 days) when only quarters exist; containment does
  not, and still covers fiscal years that start mid-year.
- **Unlinked milestones KR.** The mapping cannot see `kr:` labels in the trackers, so the
  finding says "no linked milestone in the mapping"; the engine knows about the rest.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection

from okrsync.okrs import Cycle, KeyResult, Objective, OkrSet, Warning_

MAX_OBJECTIVES_PER_TEAM = 3
MAX_KRS_PER_OBJECTIVE = 3
MAX_KRS_PER_TEAM = 9


def lint(
    okrs: OkrSet, *, people: Collection[str] | None = None, unlabelled: Collection[str] = ()
) -> list[Warning_]:
    """Return the best-practice findings of `okrs`, in file and line order.

    `people` are the ids of `[people]`; None skips the owner check (no config at hand).
    `unlabelled` names the GitHub sources without `in_progress_labels`, where partial credit
    can find no work in progress.
    """
    found: list[Warning_] = []
    found += _team_sizes(okrs)
    top = top_cycles(okrs.cycles.values())
    for objective in okrs.objectives.values():
        found += _objective(objective, okrs, top=top)
        for kr in objective.key_results:
            found += _key_result(kr)
    if people is not None:
        found += _owners(okrs, set(people))
    found += _partial_credit(okrs, set(unlabelled))
    return sorted(found, key=lambda w: (w.where.file, w.where.line or 0, w.field))


def top_cycles(cycles: Collection[Cycle]) -> set[str]:
    """Return the ids of the cycles no longer cycle contains (see the module docstring)."""
    nested = {
        c.id
        for c in cycles
        for other in cycles
        if other.id != c.id
        and other.start <= c.start
        and c.end <= other.end
        and (other.end - other.start) > (c.end - c.start)
    }
    return {c.id for c in cycles} - nested


def _team_sizes(okrs: OkrSet) -> list[Warning_]:
    groups: dict[tuple[str, str], list[Objective]] = defaultdict(list)
    for objective in okrs.objectives.values():
        team = f"team {objective.team}" if objective.team else f"objectives of {objective.where.file}"
        groups[(objective.cycle_id, team)].append(objective)
    out = []
    for (cycle_id, team), objectives in groups.items():
        if len(objectives) > MAX_OBJECTIVES_PER_TEAM:
            msg = (
                f"{len(objectives)} objectives in cycle {cycle_id}; expected at most "
                f"{MAX_OBJECTIVES_PER_TEAM} per team, so each gets real focus"
            )
            out.append(Warning_(objectives[MAX_OBJECTIVES_PER_TEAM].where, team, msg))
        krs = [kr for o in objectives for kr in o.key_results]
        if len(krs) > MAX_KRS_PER_TEAM:
            msg = f"{len(krs)} key results in cycle {cycle_id}; expected at most {MAX_KRS_PER_TEAM} per team"
            out.append(Warning_(krs[MAX_KRS_PER_TEAM].where, team, msg))
    return out


def _objective(objective: Objective, okrs: OkrSet, *, top: set[str]) -> list[Warning_]:
    out = []
    name = f"objective {objective.id}"
    if len(objective.key_results) > MAX_KRS_PER_OBJECTIVE:
        msg = (
            f"{len(objective.key_results)} key results; expected at most {MAX_KRS_PER_OBJECTIVE} "
            "per objective"
        )
        out.append(Warning_(objective.where, name, msg))
    cycle = okrs.cycles.get(objective.cycle_id)
    if objective.parent is None and cycle is not None and cycle.id not in top:
        msg = (
            f"no parent; cycle {cycle.id} lies within a longer cycle, so its objectives are "
            'expected to cascade from one there (parent = "<objective id>")'
        )
        out.append(Warning_(objective.where, name, msg))
    return out


def _key_result(kr: KeyResult) -> list[Warning_]:
    out = []
    name = f"key_result {kr.id}"
    missing = [
        key
        for key, value in (("baseline", kr.baseline), ("target", kr.target), ("unit", kr.unit))
        if value is None
    ]
    if missing:
        msg = f"no {', '.join(missing)}; expected a baseline, a target and a unit, so progress is measurable"
        out.append(Warning_(kr.where, name, msg))
    if kr.baseline is not None and kr.baseline == kr.target:
        msg = "baseline equals target; expected a change to measure"
        out.append(Warning_(kr.where, name, msg))
    if kr.kind == "milestones" and not kr.links:
        msg = (
            "no linked milestone in the mapping; only tracker labels or milestone descriptions "
            f"naming {kr.id} can move it"
        )
        out.append(Warning_(kr.where, name, msg))
    return out


def _partial_credit(okrs: OkrSet, unlabelled: set[str]) -> list[Warning_]:
    """A KR asking for partial credit on GitHub milestones whose source names no in-progress label."""
    out = []
    for kr in okrs.key_results.values():
        sources = sorted({link.source for link in kr.links} & unlabelled)
        if kr.in_progress_weight and sources:
            msg = (
                f"in_progress_weight has no effect on its GitHub milestones: source {sources[0]!r} sets no"
                " in_progress_labels (the labels that mark an issue in progress)"
            )
            out.append(Warning_(kr.where, f"key_result {kr.id}", msg))
    return out


def _owners(okrs: OkrSet, people: set[str]) -> list[Warning_]:
    out = []
    for objective in okrs.objectives.values():
        records: list[Objective | KeyResult] = [objective, *objective.key_results]
        for record in records:
            if record.owner not in people:
                what = "objective" if isinstance(record, Objective) else "key_result"
                msg = (
                    f"owner {record.owner!r} is not in [people]; expected a person there, or "
                    "alerts reach only channels with a fixed target"
                )
                out.append(Warning_(record.where, f"{what} {record.id}", msg))
    return out
