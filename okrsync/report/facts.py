"""Read what the report shows besides the roll-up: history, check-ins, alerts and open issues.

Everything is read in a handful of queries for all the KRs of a report (the static report of
a 300-KR org, or one KR for a live page), never a query per KR: the history's batch reader
(`history.series_since`), one check-in query, one event query, and the first open issues of
every linked milestone in one windowed query (`progress.open_issues` with a limit), so a page
stays small however big a milestone is.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlmodel import Session, col

from okrsync import checkins as checkin_store
from okrsync import history
from okrsync.checkins import CheckinRecord
from okrsync.history import Mark
from okrsync.progress import MilestoneId, open_issues
from okrsync.rollup import IssueFacts, Rollup
from okrsync.store import Event

__all__ = ["OPEN_ISSUES_SHOWN", "AlertLine", "ReportFacts", "load_facts"]

OPEN_ISSUES_SHOWN = 10
"""Open issues a KR page lists per milestone (the oldest first, as alerts list them); the rest
are counted and linked to the milestone in the tracker, which has the full list."""


@dataclass(frozen=True)
class AlertLine:
    """One alert of a KR, as its timeline shows it."""

    day: date
    type: str
    text: str
    backlog: bool


@dataclass(frozen=True)
class ReportFacts:
    """The stored facts of some KRs, keyed the way the page builder looks them up."""

    milestones: dict[tuple[str, str], list[Mark]]  # (source, key) -> leading mark + the window's
    values: dict[str, list[Mark]]  # metric KR id -> leading mark + the window's
    checkins: dict[str, list[CheckinRecord]]  # KR id -> check-ins since the window start, oldest first
    alerts: dict[str, list[AlertLine]]  # KR id -> alerts, oldest first
    open_issues: dict[MilestoneId, tuple[IssueFacts, ...]]  # the first OPEN_ISSUES_SHOWN of each


def load_facts(
    db: Session,
    rollup: Rollup,
    *,
    kr_ids: Collection[str],
    since: date,
    include_pull_requests: dict[str, bool],
    whole_org: bool,
) -> ReportFacts:
    """Read the facts of `kr_ids` from `since` on.

    With `whole_org` the queries are not filtered by key (cheaper than a long IN list when the
    report covers nearly everything); the extra rows are simply never looked up.
    """
    krs = [rollup.key_results[k] for k in kr_ids]
    milestones = {(m.source, m.key) for kr in krs for m in kr.milestones if not m.missing}
    metric = [k for k in kr_ids if rollup.key_results[k].value is not None]
    milestone_marks = history.series_since(
        db, kind=history.MILESTONE, since=since, keys=None if whole_org else {key for _s, key in milestones}
    )
    # Only a metric KR's own history is drawn (its value); a milestones KR's is its milestones'.
    values = history.series_since(db, kind=history.KR, since=since, keys=metric) if metric else {}

    found_checkins: dict[str, list[CheckinRecord]]
    if whole_org:
        found_checkins = checkin_store.since(db, since)
    else:
        found_checkins = {}
        for kr_id in kr_ids:
            found_checkins.update(checkin_store.since(db, since, kr_id=kr_id))

    query = select(Event).where(col(Event.day) >= since).order_by(col(Event.day), col(Event.detected_at))
    if not whole_org:
        query = query.where(col(Event.kr_id).in_(list(kr_ids)))
    alerts: dict[str, list[AlertLine]] = defaultdict(list)
    for event in db.execute(query).scalars():
        if event.kr_id is not None:
            alerts[event.kr_id].append(
                AlertLine(event.day, event.type, str(event.payload.get("text", "")), event.backlog)
            )

    stored = {(m.source, m.key) for kr in krs for m in kr.milestones if not m.missing and not m.implicit}
    issues = open_issues(db, stored, include_pull_requests=include_pull_requests, limit=OPEN_ISSUES_SHOWN)
    return ReportFacts(
        milestones=milestone_marks,
        values={key: marks for (_source, key), marks in values.items()},
        checkins=found_checkins,
        alerts=dict(alerts),
        open_issues=issues,
    )
