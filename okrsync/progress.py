"""Gather the roll-up's inputs from the store: which tracker milestones each KR is linked to.

A KR is linked to a milestone three ways (SPEC §3): by a link in its mapping; by a `kr:ID`
token in a milestone's or version's description (or a `kr:ID` label on a Jira epic); and by
`kr:ID` labels on issues, which form an implicit milestone "ID direct work" due at the
cycle's end. A mapped milestone that the tracker does not have is kept, marked missing, so
`status` shows the broken link instead of silently dropping it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from okrsync import checkins
from okrsync.checkins import metric_values
from okrsync.days import local_day
from okrsync.ingest import kr_ids_from_text
from okrsync.okrs import KeyResult, Link, OkrSet
from okrsync.rollup import IssueFacts, MilestoneFacts, Rollup, RollupInputs, roll_up
from okrsync.statusview import status_document
from okrsync.store import IssueMilestone, KrValue, SourceState, TrackerIssue, TrackerMilestone, session


@dataclass
class Gathered:
    """The roll-up inputs plus what the user should hear about (unknown `kr:` ids)."""

    inputs: RollupInputs
    unknown_kr_ids: dict[str, list[str]] = field(default_factory=dict)  # kr id -> where it was seen


class MilestoneIndex:
    """Stored milestones indexed for link resolution: by (source, key) and by (source, repo)."""

    def __init__(self, milestones: Iterable[TrackerMilestone]) -> None:
        self.by_key: dict[tuple[str, str], TrackerMilestone] = {}
        self.by_repo: dict[tuple[str, str], list[TrackerMilestone]] = defaultdict(list)
        for m in milestones:
            self.by_key[(m.source, m.key)] = m
            if m.kind == "github_milestone":
                self.by_repo[(m.source, m.container)].append(m)

    def find(self, link: Link) -> TrackerMilestone | None:
        """Resolve a mapping link (GitHub: by number, else by title, open and newest first)."""
        if link.kind == "github_milestone":
            in_repo = self.by_repo.get((link.source, link.target), [])
            if link.number is not None:
                return next((m for m in in_repo if m.number == link.number), None)
            titled = [m for m in in_repo if m.title == link.milestone]
            titled.sort(key=lambda m: (m.state != "open", -(m.number or 0)))
            return titled[0] if titled else None
        return self.by_key.get((link.source, link_key(link)))


def link_key(link: Link) -> str:
    """The milestone key a link stands for (SPEC §4: `acme/web#12`, `jira:ONB/2.0`, `jira:ONB-12`)."""
    if link.kind == "github_milestone":
        return (
            f"{link.target}#{link.number}" if link.number is not None else f"{link.target}:{link.milestone}"
        )
    if link.kind == "jira_jql":
        return f"jira:jql:{link.title}"
    return f"jira:{link.target}"


def gather(
    session: Session, okrs: OkrSet, *, label_prefix: str, include_pull_requests: dict[str, bool]
) -> Gathered:
    """Read every milestone, issue and measured value the roll-up needs."""
    milestones = list(session.execute(select(TrackerMilestone)).scalars())
    index = MilestoneIndex(milestones)
    krs = okrs.key_results
    linked: dict[str, list[tuple[TrackerMilestone | Link, float]]] = defaultdict(list)
    for kr in krs.values():
        for link in kr.links:
            found = index.find(link)
            linked[kr.id].append((found if found is not None else link, link.weight))
    unknown: dict[str, list[str]] = defaultdict(list)
    for m in milestones:
        tokens = kr_ids_from_text(m.description, label_prefix)
        if m.kind == "jira_epic":
            tokens += [label[len(label_prefix) :] for label in m.labels if label.startswith(label_prefix)]
        for kr_id in sorted(set(tokens)):
            if kr_id not in krs:
                unknown[kr_id].append(m.key)
            elif all(not isinstance(t, TrackerMilestone) or t.key != m.key for t, _w in linked[kr_id]):
                linked[kr_id].append((m, 1.0))

    wanted = {m.key for pairs in linked.values() for m, _w in pairs if isinstance(m, TrackerMilestone)}
    issues_by_milestone = _issues_by_milestone(session, wanted)
    direct: dict[str, list[IssueFacts]] = defaultdict(list)
    for issue in session.execute(select(TrackerIssue).where(col(TrackerIssue.has_kr_label))).scalars():
        for kr_id in issue.kr_ids:
            if kr_id in krs:
                direct[kr_id].append(_facts(issue))
            else:
                unknown[kr_id].append(issue.key)

    facts: dict[str, list[tuple[MilestoneFacts, float]]] = {}
    for kr in krs.values():
        pairs = [(_milestone_facts(m, issues_by_milestone), w) for m, w in linked[kr.id]]
        if direct.get(kr.id):
            pairs.append((_direct_work(kr, okrs, direct[kr.id]), 1.0))
        facts[kr.id] = pairs
    # A metric KR's value: the tracker count or the latest check-in (precedence: checkins.py).
    measured = {v.kr_id: v.value for v in session.execute(select(KrValue)).scalars()}
    values = metric_values(krs, measured=measured, reported=checkins.latest_values(session))
    confidences = {kr_id: c.confidence for kr_id, c in checkins.latest(session).items() if kr_id in krs}
    inputs = RollupInputs(
        milestones=facts,
        values=values,
        confidences=confidences,
        include_pull_requests=include_pull_requests,
    )
    return Gathered(inputs=inputs, unknown_kr_ids=dict(unknown))


def compute(session: Session, okrs: OkrSet, settings: Any, *, today: date) -> tuple[Rollup, Gathered]:
    """Gather and roll up in one call: what `status`, `sync`, `explain`, `score` and the alerts read."""
    gathered = gather(
        session,
        okrs,
        label_prefix=settings.okrsync.label_prefix,
        include_pull_requests=include_pull_requests(settings),
    )
    return roll_up(okrs, gathered.inputs, today=today), gathered


_FACT_COLUMNS = (
    col(TrackerIssue.key),
    col(TrackerIssue.title),
    col(TrackerIssue.status),
    col(TrackerIssue.url),
    col(TrackerIssue.assignee),
    col(TrackerIssue.points),
    col(TrackerIssue.done_at),
    col(TrackerIssue.is_pull_request),
)


def _issues_by_milestone(session: Session, keys: set[str]) -> dict[tuple[str, str], list[IssueFacts]]:
    """Load the issues of the wanted milestones as plain columns (ORM objects cost 10x the memory)."""
    found: dict[tuple[str, str], list[IssueFacts]] = defaultdict(list)
    key_list = sorted(keys)
    for start in range(0, len(key_list), 500):
        chunk = key_list[start : start + 500]
        rows = session.execute(
            select(col(IssueMilestone.source), col(IssueMilestone.milestone_key), *_FACT_COLUMNS)
            .join(
                TrackerIssue,
                (col(TrackerIssue.source) == col(IssueMilestone.source))
                & (col(TrackerIssue.key) == col(IssueMilestone.issue_key)),
            )
            .where(col(IssueMilestone.milestone_key).in_(chunk))
        )
        for source, milestone_key, key, title, status, url, assignee, points, done_at, is_pr in rows:
            found[(source, milestone_key)].append(
                IssueFacts(key, title, status, url, assignee, points, done_at, is_pr)
            )
    return found


def _facts(issue: TrackerIssue) -> IssueFacts:
    return IssueFacts(
        key=issue.key,
        title=issue.title,
        status=issue.status,  # type: ignore[arg-type]
        url=issue.url,
        assignee=issue.assignee,
        points=issue.points,
        done_at=issue.done_at,
        is_pull_request=issue.is_pull_request,
    )


def _milestone_facts(
    m: TrackerMilestone | Link, issues: dict[tuple[str, str], list[IssueFacts]]
) -> MilestoneFacts:
    if isinstance(m, Link):
        return MilestoneFacts(
            source=m.source,
            key=link_key(m),
            title=m.milestone or m.title or m.target,
            state="open",
            due=m.due,
            issues=(),
            found=False,
        )
    return MilestoneFacts(
        source=m.source,
        key=m.key,
        title=m.title,
        state="closed" if m.state == "closed" else "open",
        due=m.due,
        issues=tuple(issues.get((m.source, m.key), ())),
        url=m.url,
    )


def _direct_work(kr: KeyResult, okrs: OkrSet, issues: list[IssueFacts]) -> MilestoneFacts:
    cycle = okrs.cycles[okrs.objectives[kr.objective_id].cycle_id]
    return MilestoneFacts(
        source="labels",
        key=f"kr:{kr.id}",
        title=f"{kr.id} direct work",
        state="open",
        due=cycle.end,
        issues=tuple(issues),
        implicit=True,
    )


def include_pull_requests(settings: Any) -> dict[str, bool]:
    """Say, per source, whether pull requests count as work (SPEC §2: not unless asked)."""
    return {name: bool(getattr(s, "include_pull_requests", False)) for name, s in settings.sources.items()}


def status_for(
    settings: Any, okrs: OkrSet, engine: Any, *, moment: datetime, cycle: str | None
) -> dict[str, Any]:
    """Roll up from the store and build the `status` document (SPEC §4)."""
    with session(engine) as db:
        rollup, gathered = compute(db, okrs, settings, today=local_day(moment, settings.okrsync.tz))
        states = {s.name: s for s in db.execute(select(SourceState)).scalars()}
        latest = {kr_id: checkins.checkin_json(c) for kr_id, c in checkins.latest(db).items()}
    sources = [
        states.get(name) or SourceState(name=name, kind=s.kind, cursor={})
        for name, s in settings.sources.items()
    ]
    return status_document(
        okrs,
        rollup,
        sources,
        now=moment,
        cycle=cycle,
        unknown_kr_ids=gathered.unknown_kr_ids,
        checkins=latest,
    )
