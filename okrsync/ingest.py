"""Write what a connector fetched into the store: upserts by key, memberships, removals.

Rows are written with the dialect's `INSERT … ON CONFLICT DO UPDATE` (SQLite and PostgreSQL
both have it), a page at a time, so a first sync of a large org streams instead of building
ORM objects for every issue.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel, col

from connectors.records import IssueRecord, MilestoneRecord
from okrsync.days import due_day
from okrsync.store import IssueMilestone, TrackerIssue, TrackerMilestone


def _upsert(
    session: Session, model: type[SQLModel], rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> None:
    """Insert or update rows by key as one executemany: the statement compiles once, not per row."""
    if not rows:
        return
    table = model.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    updates = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys}
    session.execute(statement.on_conflict_do_update(index_elements=list(keys), set_=updates), list(rows))


def kr_ids_from_labels(labels: Iterable[str], prefix: str) -> list[str]:
    """Read KR ids from labels such as `kr:ENG-1.1` (SPEC §3: links from inside the tracker)."""
    return sorted({label[len(prefix) :].strip() for label in labels if label.startswith(prefix)} - {""})


def kr_ids_from_text(text: str, prefix: str) -> list[str]:
    """Read `kr:ENG-1.1` tokens from a milestone or version description."""
    found = set()
    for word in text.replace(",", " ").split():
        if word.startswith(prefix):
            found.add(word[len(prefix) :].strip(".;:()[]"))
    return sorted(found - {""})


def save_issues(session: Session, source: str, records: Sequence[IssueRecord], *, label_prefix: str) -> int:
    """Upsert issues and replace their milestone memberships; return how many were new or changed.

    Polls overlap, so most repeats carry the `updated_at` already stored: those are not
    changes, and counting them apart is how a test proves each change is seen exactly once.
    """
    newest: dict[str, IssueRecord] = {}
    for record in records:
        seen = newest.get(record.key)
        if seen is None or record.updated_at >= seen.updated_at:
            newest[record.key] = record
    if not newest:
        return 0
    known: dict[str, Any] = {}
    for chunk in _chunks(list(newest), 500):
        stored = session.execute(
            select(col(TrackerIssue.key), col(TrackerIssue.updated_at)).where(
                col(TrackerIssue.source) == source, col(TrackerIssue.key).in_(chunk)
            )
        )
        known.update({key: updated for key, updated in stored})
    changed = sum(1 for r in newest.values() if r.key not in known or known[r.key] != r.updated_at)
    rows: list[dict[str, Any]] = []
    for r in newest.values():
        kr_ids = kr_ids_from_labels(r.labels, label_prefix)
        rows.append(
            {
                "source": source,
                "key": r.key,
                "container": r.container,
                "number": r.number,
                "title": r.title,
                "url": r.url,
                "status": r.status,
                "is_pull_request": r.is_pull_request,
                "is_subtask": r.is_subtask,
                "labels": list(r.labels),
                "kr_ids": kr_ids,
                "has_kr_label": bool(kr_ids),
                "assignee": r.assignee,
                "points": r.points,
                "done_at": r.done_at,
                "updated_at": r.updated_at,
                "node_id": r.node_id,
            }
        )
    _upsert(session, TrackerIssue, rows, ("source", "key"))
    keys = [key for key in newest if key in known]  # a new issue has no memberships to replace
    for chunk in _chunks(keys, 500):
        session.execute(
            delete(IssueMilestone).where(
                col(IssueMilestone.source) == source, col(IssueMilestone.issue_key).in_(chunk)
            )
        )
    memberships = [
        {"source": source, "issue_key": r.key, "milestone_key": m}
        for r in newest.values()
        for m in set(r.milestone_keys)
    ]
    for chunk in _chunks(memberships, 500):
        session.execute(IssueMilestone.__table__.insert(), chunk)  # type: ignore[attr-defined]
    return changed


def remove_issues(session: Session, source: str, keys: Sequence[str]) -> None:
    """Forget issues the tracker says are gone."""
    for chunk in _chunks(list(keys), 500):
        session.execute(
            delete(IssueMilestone).where(
                col(IssueMilestone.source) == source, col(IssueMilestone.issue_key).in_(chunk)
            )
        )
        session.execute(
            delete(TrackerIssue).where(col(TrackerIssue.source) == source, col(TrackerIssue.key).in_(chunk))
        )


def save_milestones(
    session: Session,
    source: str,
    records: Sequence[MilestoneRecord],
    *,
    complete: Sequence[tuple[str, str]],
    removed: Sequence[str] = (),
    tz: ZoneInfo,
) -> None:
    """Upsert milestones (turning a due timestamp into a day, once, here); drop the vanished."""
    rows = [
        {
            "source": source,
            "key": r.key,
            "kind": r.kind,
            "container": r.container,
            "number": r.number,
            "title": r.title,
            "state": r.state,
            "url": r.url,
            "description": r.description,
            "due_at": r.due_at,
            "due": due_day(r.due_at, tz) if r.due_at is not None else r.due_day,
            "updated_at": r.updated_at,
            "open_issues": r.open_issues,
            "closed_issues": r.closed_issues,
            "labels": list(r.labels),
        }
        for r in records
    ]
    _upsert(session, TrackerMilestone, rows, ("source", "key"))
    present = {r.key for r in records}
    gone = set(removed)
    for container, kind in complete:
        stored = session.execute(
            select(col(TrackerMilestone.key)).where(
                col(TrackerMilestone.source) == source,
                col(TrackerMilestone.container) == container,
                col(TrackerMilestone.kind) == kind,
            )
        )
        gone |= {row[0] for row in stored if row[0] not in present}
    for chunk in _chunks(sorted(gone), 500):
        session.execute(
            delete(TrackerMilestone).where(
                col(TrackerMilestone.source) == source, col(TrackerMilestone.key).in_(chunk)
            )
        )


class StoredIssues:
    """Answer the connectors' `KnownIssues` questions from the store, inside the poll's session."""

    def __init__(self, session: Session, source: str) -> None:
        self.session = session
        self.source = source

    def milestone_counts(self, milestone_key: str) -> tuple[int, int]:
        rows = self.session.execute(
            select(col(TrackerIssue.status), func.count())
            .join(
                IssueMilestone,
                (col(IssueMilestone.source) == col(TrackerIssue.source))
                & (col(IssueMilestone.issue_key) == col(TrackerIssue.key)),
            )
            .where(
                col(IssueMilestone.source) == self.source, col(IssueMilestone.milestone_key) == milestone_key
            )
            .group_by(col(TrackerIssue.status))
        ).all()
        counts = {status: n for status, n in rows}
        return counts.get("open", 0), counts.get("done", 0) + counts.get("excluded", 0)

    def issue_keys(self, container: str) -> set[str]:
        """Return the keys of every stored issue of a repo or project (for deletion checks)."""
        rows = self.session.execute(
            select(col(TrackerIssue.key)).where(
                col(TrackerIssue.source) == self.source, col(TrackerIssue.container) == container
            )
        )
        return {row[0] for row in rows}

    def node_ids(self, container: str) -> dict[str, str | None]:
        """Return the node id of every stored issue of a repo, by key (for the GitHub reconcile)."""
        rows = self.session.execute(
            select(col(TrackerIssue.key), col(TrackerIssue.node_id)).where(
                col(TrackerIssue.source) == self.source, col(TrackerIssue.container) == container
            )
        )
        return {key: node_id for key, node_id in rows}

    def keys_by_node_id(self, node_ids: Collection[str]) -> dict[str, set[str]]:
        """Return the stored keys holding each node id: a transferred issue's old copy is one."""
        found: dict[str, set[str]] = {}
        for chunk in _chunks(sorted(set(node_ids)), 500):
            rows = self.session.execute(
                select(col(TrackerIssue.node_id), col(TrackerIssue.key)).where(
                    col(TrackerIssue.source) == self.source, col(TrackerIssue.node_id).in_(chunk)
                )
            )
            for node_id, key in rows:
                found.setdefault(node_id, set()).add(key)
        return found

    def milestone_issue_keys(self, milestone_key: str) -> set[str]:
        rows = self.session.execute(
            select(col(IssueMilestone.issue_key)).where(
                col(IssueMilestone.source) == self.source, col(IssueMilestone.milestone_key) == milestone_key
            )
        ).all()
        return {row[0] for row in rows}


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
