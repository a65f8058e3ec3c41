"""Write what a connector fetched into the store: upserts by key, memberships, removals.

Rows are written with `INSERT … ON CONFLICT DO UPDATE` (SQLite and PostgreSQL both have it),
a page at a time, so a first sync of a large org streams instead of building ORM objects for
every issue. Issues, the bulk of every sync, and milestones, a few per repo, go through the
driver's own `executemany` (`okrsync.bulk`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session, col

from connectors.records import IssueRecord, MilestoneRecord
from okrsync.bulk import Bulk
from okrsync.days import due_day
from okrsync.store import IssueMilestone, TrackerIssue, TrackerMilestone


def kr_ids_from_labels(labels: Iterable[str], prefix: str) -> list[str]:
    """Read KR ids from labels such as `kr:ENG-1.1` (SPEC §3: links from inside the tracker)."""
    if not labels:  # most issues: a first sync asks this 50,000 times and more
        return []
    return sorted({label[len(prefix) :].strip() for label in labels if label.startswith(prefix)} - {""})


def kr_ids_from_text(text: str, prefix: str) -> list[str]:
    """Read `kr:ENG-1.1` tokens from a milestone or version description."""
    found = set()
    for word in text.replace(",", " ").split():
        if word.startswith(prefix):
            found.add(word[len(prefix) :].strip(".;:()[]"))
    return sorted(found - {""})


ISSUE_COLUMNS = (
    "source",
    "key",
    "container",
    "number",
    "title",
    "url",
    "status",
    "is_pull_request",
    "is_subtask",
    "labels",
    "kr_ids",
    "has_kr_label",
    "assignee",
    "points",
    "done_at",
    "updated_at",
    "node_id",
    "in_progress",
)


ANALYZE_FIRST = 2_000  # issues written before PostgreSQL's statistics are first refreshed


class IssueWriter:
    """Write one poll's issues and memberships, page by page, through the driver (okrsync.bulk).

    What the store held before the poll is asked once per page, and only when the source had
    any issue at the poll's start: a first sync skips every lookup. Keys written during this
    poll are remembered (with their `updated_at`), because a poll can see an issue twice (the
    overlap window, an edit while paging) and its memberships must then be replaced, not added.

    On PostgreSQL the inserts run one statement behind (okrsync.writebehind), until `close`;
    every other use of the session waits for them first (okrsync.bulk).
    """

    def __init__(
        self, session: Session, source: str, *, label_prefix: str, in_progress_labels: Collection[str] = ()
    ) -> None:
        self.bulk = Bulk(session, write_behind=True)
        self.source = source
        self.label_prefix = label_prefix
        self.in_progress_labels = {label.casefold() for label in in_progress_labels}
        self._written: dict[str, Any] = {}  # key -> updated_at as bound, written in this poll
        self._analyze_at = ANALYZE_FIRST
        self.node_keys: dict[str, str] = {}  # node id -> key, of what this poll wrote
        self.store_had_issues = bool(
            self.bulk.execute(f"SELECT 1 FROM issue WHERE source = {self.bulk.mark} LIMIT 1", (source,))
        )

    def save(self, records: Sequence[IssueRecord]) -> int:
        """Upsert issues and replace their memberships; return how many were new or changed.

        Polls overlap, so most repeats carry the `updated_at` already stored: those are not
        changes, and counting them apart is how a test proves each change is seen exactly once.
        """
        bulk, source = self.bulk, self.source
        newest: dict[str, IssueRecord] = {}
        for record in records:
            seen = newest.get(record.key)
            if seen is None or record.updated_at >= seen.updated_at:
                newest[record.key] = record
        if not newest:
            return 0
        known = {key: self._written[key] for key in newest if key in self._written}
        if self.store_had_issues:
            unknown = [key for key in newest if key not in known]
            sql = f"SELECT key, updated_at FROM issue WHERE source = {bulk.mark} AND key IN"
            known.update(dict(bulk.select_in(sql, (source,), unknown)))
        rows: list[tuple[Any, ...]] = []  # keys stored before, or written earlier in this poll
        fresh_rows: list[tuple[Any, ...]] = []  # keys new to the store
        changed = 0
        for r in newest.values():
            kr_ids = kr_ids_from_labels(r.labels, self.label_prefix)
            updated_at = bulk.time(r.updated_at)
            if known.get(r.key) != updated_at:
                changed += 1
            self._written[r.key] = updated_at
            if r.node_id:
                self.node_keys[r.node_id] = r.key
            (rows if r.key in known else fresh_rows).append(
                (
                    source,
                    r.key,
                    r.container,
                    r.number,
                    r.title,
                    r.url,
                    r.status,
                    r.is_pull_request,
                    r.is_subtask,
                    bulk.json(list(r.labels)),
                    bulk.json(kr_ids),
                    bool(kr_ids),
                    r.assignee,
                    r.points,
                    bulk.time(r.done_at),
                    updated_at,
                    r.node_id,
                    self.in_progress(r),
                )
            )
        bulk.insert_fresh(TrackerIssue, ISSUE_COLUMNS, fresh_rows)
        bulk.upsert(TrackerIssue, ISSUE_COLUMNS, ("source", "key"), rows)
        self._replace_memberships(newest, known)
        if len(self._written) >= self._analyze_at and not bulk.sqlite:
            self._analyze_at *= 4
            self._refresh_statistics()
        return changed

    def flush(self) -> None:
        """Wait for the writes still running behind; raise the first that failed."""
        self.bulk.flush()

    def close(self) -> None:
        """Stop the write-behind thread (after what it holds has run, failed or not)."""
        self.bulk.close()

    def in_progress(self, record: IssueRecord) -> bool:
        """Say whether an open issue is in progress: the tracker says so (Jira's status category),
        or it carries one of the source's `in_progress_labels` (GitHub; compared ignoring case).

        Decided as the issue is stored, so the roll-up can group by it in SQL; a change to
        `in_progress_labels` therefore applies to each issue as it is next fetched.
        """
        if record.status != "open":
            return False
        return record.in_progress or any(
            label.casefold() in self.in_progress_labels for label in record.labels
        )

    def _refresh_statistics(self) -> None:
        """Let PostgreSQL's planner know how many issues a big first sync has written so far.

        Until autovacuum analyzes them, tables filled in this transaction look empty to the
        planner, and the per-page lookups (`keys_by_node_id`, the stored-keys check) then got
        plans that read the whole table each page: quadratic (36 s of a 45 s first sync at
        50,000 issues). ANALYZE inside the transaction fixes that; done at 2,000, 8,000,
        32,000… issues written, it costs a few tenths of a second over a first sync.
        """
        for table in ("issue", "issue_milestone"):
            self.bulk.execute_behind(f"ANALYZE {table}")  # a lookup waits for it, the writes do not

    def _replace_memberships(self, newest: dict[str, IssueRecord], known: dict[str, Any]) -> None:
        """Replace the milestone memberships of issues seen before; a new issue has none.

        A new issue's memberships are new rows too (memberships are only ever removed together
        with their issue, in `remove`), so they go in without conflict checks (`insert_fresh`).
        """
        bulk, source = self.bulk, self.source
        # Replaced even when `updated_at` did not move: a JQL set's membership changes without
        # an edit (a version released), and okrsync, not the tracker, decides it.
        stale = [key for key in newest if key in known]
        sql = f"DELETE FROM issue_milestone WHERE source = {bulk.mark} AND issue_key IN"
        bulk.delete_in(sql, (source,), stale)
        columns = ("source", "issue_key", "milestone_key")
        replaced: list[tuple[str, str, str]] = []
        fresh: list[tuple[str, str, str]] = []
        for r in newest.values():
            rows = [(source, r.key, m) for m in sorted(set(r.milestone_keys))]
            (replaced if r.key in known else fresh).extend(rows)
        bulk.insert_fresh(IssueMilestone, columns, fresh)
        bulk.insert_new(IssueMilestone, columns, replaced)

    def remove(self, keys: Sequence[str]) -> None:
        """Forget issues the tracker says are gone."""
        bulk, source = self.bulk, self.source
        for table, column in (("issue_milestone", "issue_key"), ("issue", "key")):
            sql = f"DELETE FROM {table} WHERE source = {bulk.mark} AND {column} IN"
            bulk.delete_in(sql, (source,), list(keys))
        for key in keys:
            self._written.pop(key, None)


MILESTONE_COLUMNS = (
    "source",
    "key",
    "kind",
    "container",
    "number",
    "title",
    "state",
    "url",
    "description",
    "due_at",
    "due",
    "updated_at",
    "open_issues",
    "closed_issues",
    "labels",
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
    """Upsert milestones (turning a due timestamp into a day, once, here); drop the vanished.

    Called for every batch of a poll, and most batches carry issues only (a first sync of 200
    repos: 1,200 batches, 200 with milestones): those return before anything is built. The
    rest go through the driver like issues (`okrsync.bulk`), which spares SQLAlchemy's
    statement work on each of the few hundred small writes and reads of a large first sync.
    """
    if not records and not complete and not removed:
        return
    bulk = Bulk(session)
    rows: dict[str, tuple[Any, ...]] = {}
    for r in records:  # keyed: one statement may not update a row twice (PostgreSQL); the last wins
        due = due_day(r.due_at, tz) if r.due_at is not None else r.due_day
        rows[r.key] = (
            source,
            r.key,
            r.kind,
            r.container,
            r.number,
            r.title,
            r.state,
            r.url,
            r.description,
            bulk.time(r.due_at),
            bulk.day(due),
            bulk.time(r.updated_at),
            r.open_issues,
            r.closed_issues,
            bulk.document(list(r.labels)),
        )
    bulk.upsert(TrackerMilestone, MILESTONE_COLUMNS, ("source", "key"), list(rows.values()))
    gone = set(removed)
    mark = bulk.mark
    stored_sql = f"SELECT key FROM milestone WHERE source = {mark} AND container = {mark} AND kind = {mark}"
    for container, kind in complete:
        gone |= {key for (key,) in bulk.execute(stored_sql, (source, container, kind)) if key not in rows}
    bulk.delete_in(f"DELETE FROM milestone WHERE source = {mark} AND key IN", (source,), sorted(gone))


def milestone_counts_sql(bulk: Bulk, count: int) -> str:
    """The grouped count behind `StoredIssues.milestone_counts` (its plan is checked in tests).

    Both sides are narrowed by an index: the memberships by milestone
    (`ix_issue_milestone_milestone`), the issues by repo (`ix_issue_container`) or key. With
    the repo condition alone SQLite walked every membership of the source; with the
    milestones alone PostgreSQL (analyzed) preferred scanning every issue to probing keys.
    """
    return (
        "SELECT m.milestone_key, i.status, COUNT(*) FROM issue_milestone m"
        " JOIN issue i ON i.source = m.source AND i.key = m.issue_key"
        f" WHERE m.source = {bulk.mark} AND m.milestone_key IN ({bulk.marks(count)})"
        f" AND i.container = {bulk.mark}"
        " GROUP BY m.milestone_key, i.status"
    )


class StoredIssues:
    """Answer the connectors' `KnownIssues` questions from the store, inside the poll's session."""

    def __init__(self, session: Session, source: str, *, writer: IssueWriter | None = None) -> None:
        self.session = session
        self.source = source
        self.writer = writer  # the poll's writer: what it wrote is all a new store holds

    def milestone_counts(self, container: str, milestone_keys: Sequence[str]) -> dict[str, tuple[int, int]]:
        """Return (open, closed) stored issues per milestone of a repo, one grouped query per 500.

        A repo's milestones are checked together, not one statement each (2,000 at SPEC §8's
        scenario L), and the query walks indexes only, so its cost follows the milestones'
        size, not the org's.
        """
        bulk = Bulk(self.session)
        counts = {key: [0, 0] for key in milestone_keys}
        keys = list(counts)
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            sql = milestone_counts_sql(bulk, len(part))
            for key, status, count in bulk.execute(sql, (self.source, *part, container)):
                counts[key][0 if status == "open" else 1] += int(count)
        return {key: (pair[0], pair[1]) for key, pair in counts.items()}

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
        """Return the stored keys holding each node id: a transferred issue's old copy is one.

        Asked for every page a poll writes, so it goes through the driver (`ix_issue_node_id`);
        in a first sync (the store held none of the source's issues when the poll began) the
        only holders are what this poll wrote, which the writer remembers: no query at all.
        """
        if self.writer is not None and not self.writer.store_had_issues:
            written = self.writer.node_keys
            return {node_id: {written[node_id]} for node_id in node_ids if node_id in written}
        bulk = Bulk(self.session)
        sql = f"SELECT node_id, key FROM issue WHERE source = {bulk.mark} AND node_id IN"
        found: dict[str, set[str]] = {}
        for node_id, key in bulk.select_in(sql, (self.source,), sorted(set(node_ids))):
            found.setdefault(node_id, set()).add(key)
        return found

    def milestone_issue_keys(self, milestone_key: str) -> set[str]:
        rows = self.session.execute(
            select(col(IssueMilestone.issue_key)).where(
                col(IssueMilestone.source) == self.source, col(IssueMilestone.milestone_key) == milestone_key
            )
        ).all()
        return {row[0] for row in rows}
