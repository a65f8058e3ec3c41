"""Gather the roll-up's inputs from the store: which tracker milestones each KR is linked to.

A KR is linked to a milestone three ways (SPEC §3): by a link in its mapping; by a `kr:ID`
token in a milestone's or version's description (or a `kr:ID` label on a Jira epic); and by
`kr:ID` labels on issues, which form an implicit milestone "ID direct work" due at the
cycle's end. A mapped milestone that the tracker does not have is kept, marked missing, so
`status` shows the broken link instead of silently dropping it.

A linked milestone's issues are read as aggregates (`issue_groups`: one GROUP BY over
issue ⋈ issue_milestone, a few rows per milestone), so a roll-up's memory does not grow with
the number of issues. Issues themselves are loaded only where a person will read them: the
open issues of the KRs asked for in `detail` (`explain`), of a slip's milestone (the alert,
`open_issues`), and the few issues labelled `kr:ID`, which stay per issue.

A source that has never completed a sync is named here, once, with why
(`RollupInputs.not_synced`, from `source_state`): the roll-up then makes whatever it feeds
`unknown`, so `status`, `score`, `explain`, the digest and the alerts all agree that nothing
is known of it yet, rather than reading its empty store as "no work done" or "milestone
deleted".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    ARRAY,
    BindParameter,
    Boolean,
    Float,
    Integer,
    String,
    TextClause,
    TextualSelect,
    bindparam,
    column,
    select,
    text,
)
from sqlmodel import Session, col

from okrsync import checkins
from okrsync.checkins import metric_values
from okrsync.days import local_day
from okrsync.ingest import kr_ids_from_text
from okrsync.okrs import KeyResult, Link, OkrSet
from okrsync.rollup import (
    IssueFacts,
    IssueGroup,
    MilestoneFacts,
    Rollup,
    RollupInputs,
    burn_up_window,
    roll_up,
)
from okrsync.store import (
    KrValue,
    SourceState,
    TrackerIssue,
    TrackerMilestone,
    UTCDateTime,
    WritebackState,
    session,
)


@dataclass
class Gathered:
    """The roll-up inputs plus what the user should hear about (unknown `kr:` ids)."""

    inputs: RollupInputs
    unknown_kr_ids: dict[str, list[str]] = field(default_factory=dict)  # kr id -> where it was seen


class StoredMilestone(NamedTuple):
    """A stored milestone, as much of it as the roll-up reads.

    Read as plain rows, not ORM objects: every cycle reads every milestone of the org (2,000
    at SPEC §8's scenario L), and building and tracking an ORM object each cost more than
    the query.
    """

    source: str
    key: str
    kind: str
    container: str
    number: int | None
    title: str
    state: str
    url: str | None
    description: str
    due: date | None
    labels: list[str]


_MILESTONE_COLUMNS = tuple(col(getattr(TrackerMilestone, name)) for name in StoredMilestone._fields)


def stored_milestones(session: Session) -> list[StoredMilestone]:
    """Read every stored milestone."""
    return [StoredMilestone(*row) for row in session.execute(select(*_MILESTONE_COLUMNS))]


class MilestoneIndex:
    """Stored milestones indexed for link resolution: by (source, key) and by (source, repo)."""

    def __init__(self, milestones: Iterable[StoredMilestone]) -> None:
        self.by_key: dict[tuple[str, str], StoredMilestone] = {}
        self.by_repo: dict[tuple[str, str], list[StoredMilestone]] = defaultdict(list)
        for m in milestones:
            self.by_key[(m.source, m.key)] = m
            if m.kind == "github_milestone":
                self.by_repo[(m.source, m.container)].append(m)

    def find(self, link: Link) -> StoredMilestone | None:
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
    session: Session,
    okrs: OkrSet,
    *,
    label_prefix: str,
    include_pull_requests: dict[str, bool],
    today: date,
    detail: Collection[str] = (),
    in_progress_weights: Mapping[str, float] | None = None,
) -> Gathered:
    """Read every milestone, issue aggregate and measured value the roll-up on `today` needs.

    The milestones of the KRs named in `detail` also get their in-scope open issues loaded.
    """
    milestones = stored_milestones(session)
    index = MilestoneIndex(milestones)
    krs = okrs.key_results
    linked: dict[str, list[tuple[StoredMilestone | Link, float]]] = defaultdict(list)
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
            elif all(not isinstance(t, StoredMilestone) or t.key != m.key for t, _w in linked[kr_id]):
                linked[kr_id].append((m, 1.0))

    groups = issue_groups(session, _stored(m for pairs in linked.values() for m, _w in pairs), today=today)
    detailed = open_issues(
        session,
        _stored(m for kr_id in detail for m, _w in linked.get(kr_id, ())),
        include_pull_requests=include_pull_requests,
    )
    direct: dict[str, list[IssueFacts]] = defaultdict(list)
    for issue in session.execute(select(TrackerIssue).where(col(TrackerIssue.has_kr_label))).scalars():
        for kr_id in issue.kr_ids:
            if kr_id in krs:
                direct[kr_id].append(_facts(issue))
            else:
                unknown[kr_id].append(issue.key)

    facts: dict[str, list[tuple[MilestoneFacts, float]]] = {}
    for kr in krs.values():
        pairs = [(_milestone_facts(m, groups, detailed), w) for m, w in linked[kr.id]]
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
        not_synced=not_synced(session, okrs),
        in_progress_weights=dict(in_progress_weights or {}),
    )
    return Gathered(inputs=inputs, unknown_kr_ids=dict(unknown))


def not_synced(session: Session, okrs: OkrSet) -> dict[str, str]:
    """Name each source the mappings read from that has never completed a sync, with why.

    The sources a KR reads are those its links and its `value_source` name (validation has
    checked they are configured). A `kr:` label can only ever be seen on a synced source, so
    labels make no source "read". The reason is the source's last error ("source 'jira':
    cannot connect to …"), or that it was never polled; the roll-up words it "not synced yet: …".
    """
    named = {link.source for kr in okrs.key_results.values() for link in kr.links}
    named |= {kr.value_source for kr in okrs.key_results.values() if kr.value_query and kr.value_source}
    if not named:
        return {}
    states = {
        s.name: s
        for s in session.execute(
            select(SourceState).where(col(SourceState.name).in_(sorted(named)))
        ).scalars()
    }
    found = {}
    for name in sorted(named):
        state = states.get(name)
        if state is not None and state.last_success is not None:
            continue
        why = state.last_error if state is not None and state.last_error else None
        found[name] = why or f"source {name!r} was never polled (okrsync sync)"
    return found


def compute(
    session: Session, okrs: OkrSet, settings: Any, *, today: date, detail: Collection[str] = ()
) -> tuple[Rollup, Gathered]:
    """Gather and roll up in one call: what `status`, `sync`, `explain`, `score` and the alerts read.

    `detail` names the KRs whose milestones list their open issues (`MilestoneProgress.open_issues`;
    a milestone another KR shares lists them there too); every other milestone only counts
    them (`open_count`), which is all a roll-up needs.
    """
    gathered = gather(
        session,
        okrs,
        label_prefix=settings.okrsync.label_prefix,
        include_pull_requests=include_pull_requests(settings),
        today=today,
        detail=detail,
        in_progress_weights=in_progress_weights(settings),
    )
    return roll_up(okrs, gathered.inputs, today=today), gathered


MilestoneId = tuple[str, str]  # (source, milestone key)


def _stored(milestones: Iterable[StoredMilestone | Link]) -> set[MilestoneId]:
    """The (source, key) of each stored milestone; a Link is a missing one, with no issues."""
    return {(m.source, m.key) for m in milestones if isinstance(m, StoredMilestone)}


# How the two queries below find a source's memberships for some milestones, per engine.
# Both filter `source` and `milestone_key`, the columns of `ix_issue_milestone_milestone`.
#
# SQLite: an IN list, chunked to stay under SQLite's bound-parameter limit (32,766 since 3.32,
# 999 before), and `INDEXED BY`. Without statistics (okrsync never runs ANALYZE) the planner
# rates a range of the covering primary key `(source, issue_key, milestone_key)` on
# `source = ?` as cheaper than seeking each milestone in the index, so it would read every
# membership of the source however few milestones are wanted (measured at 100,000 issues:
# 19 ms against 0.3 ms for 5 milestones; the same 0.15 s for all 2,000). INDEXED BY also fails
# loudly should the index be renamed, instead of quietly scanning. Chunks cost nothing more
# here: each seeks only its own milestones.
#
# PostgreSQL: every key as one array parameter, so a whole org is one statement (a chunk
# would scan `issue` again when most milestones are wanted) with one text, which psycopg
# prepares after five runs. The planner has statistics: an index nested loop over the index
# for a few milestones, a hash join for most of them.
_SQLITE_MEMBERSHIPS = """
    FROM issue_milestone AS im INDEXED BY ix_issue_milestone_milestone
    JOIN issue AS i ON i.source = im.source AND i.key = im.issue_key
    WHERE im.source = :source AND im.milestone_key IN :keys"""
_SQLITE_CHUNK = 500

_POSTGRESQL_MEMBERSHIPS = """
    FROM issue_milestone AS im
    JOIN issue AS i ON i.source = im.source AND i.key = im.issue_key
    WHERE im.source = :source AND im.milestone_key = ANY(:keys)"""

# `recent` is computed per row in the subquery and grouped on outside, so its CASE (with its
# bound window instants) appears once: PostgreSQL refuses a GROUP BY expression that differs
# from the select list's, and server-side parameters make two spellings of it differ.
_GROUPS_SQL = """
SELECT milestone_key, status, is_pull_request, points, recent, in_progress, count(*) AS count
FROM (
    SELECT im.milestone_key AS milestone_key, i.status AS status,
           i.is_pull_request AS is_pull_request, i.points AS points,
           CASE WHEN i.status = 'done' AND i.done_at >= :start AND i.done_at < :end
                THEN 1 ELSE 0 END AS recent,
           i.in_progress AS in_progress{memberships}
) AS grouped
GROUP BY milestone_key, status, is_pull_request, points, recent, in_progress"""

# In tracker order within each milestone, the columns after the first in `IssueFacts`' order;
# `open_issues` keeps the first `limit` of each milestone. A window function (row_number() …
# WHERE rank <= :limit) capped them in SQL, but made the query three times slower on both
# engines (a first sync's 750 slipped milestones: 0.36 s against 0.11 s), and the database
# sorts every open issue of the milestones either way.
_OPEN_SQL = """
SELECT im.milestone_key AS milestone_key, i.key AS key, i.title AS title, i.status AS status,
       i.url AS url, i.assignee AS assignee, i.points AS points, i.done_at AS done_at,
       i.is_pull_request AS is_pull_request, i.in_progress AS in_progress{memberships}
  AND i.status = 'open' AND (:pull_requests OR NOT i.is_pull_request)
ORDER BY im.milestone_key, i.number IS NULL, i.number, i.key"""


@dataclass(frozen=True)
class _Memberships:
    """One engine's way to select memberships (see above): SQL, key parameter and chunk size."""

    sql: str
    keys: BindParameter[Any]
    chunk: int | None  # None: all of a source's keys at once

    @classmethod
    def of(cls, session: Session) -> _Memberships:
        """Choose the session's engine's way.

        The same statement is run for one KR's milestones (`explain`), a few (a cycle's new
        slips) or every linked one (each cycle); a generic plan, made for an array of unknown
        length, would be a hash join over all of `issue` for one milestone, or 100,000 index
        probes for all of them. okrsync's PostgreSQL connections plan every run for its actual
        keys (`plan_cache_mode = force_custom_plan`, `okrsync.store.make_engine`).
        """
        if session.get_bind().dialect.name == "sqlite":
            return cls(_SQLITE_MEMBERSHIPS, bindparam("keys", expanding=True), _SQLITE_CHUNK)
        return cls(_POSTGRESQL_MEMBERSHIPS, bindparam("keys", type_=ARRAY(String)), None)

    def text(self, template: str, **parts: str) -> TextClause:
        return text(template.format(memberships=self.sql, **parts)).bindparams(self.keys)

    def chunks(self, milestones: Iterable[MilestoneId]) -> Iterator[tuple[str, list[str]]]:
        """Yield (source, keys): one source per query, at most `chunk` keys."""
        by_source: dict[str, list[str]] = defaultdict(list)
        for source, key in sorted(milestones):
            by_source[source].append(key)
        for source, keys in by_source.items():
            size = self.chunk or len(keys)
            for start in range(0, len(keys), size):
                yield source, keys[start : start + size]


def _groups_query(memberships: _Memberships, *, today: date) -> TextualSelect:
    """Build the aggregate query for one source's milestones (`:source`, `:keys`; see `issue_groups`).

    Timestamps are stored naive UTC, so the burn-up window's first day and the day after its
    last, as UTC midnights, bound `recent` (`UTCDateTime` turns them naive).
    """
    first, last = burn_up_window(today)
    start = datetime.combine(first, time(), tzinfo=UTC)
    end = datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC)
    return (
        memberships.text(_GROUPS_SQL)
        .bindparams(
            bindparam("start", start, type_=UTCDateTime()),
            bindparam("end", end, type_=UTCDateTime()),
        )
        .columns(
            column("milestone_key", String),
            column("status", String),
            column("is_pull_request", Boolean),
            column("points", Float),
            column("recent", Integer),
            column("in_progress", Boolean),
            column("count", Integer),
        )
    )


def issue_groups(
    session: Session, milestones: Collection[MilestoneId], *, today: date
) -> dict[MilestoneId, tuple[IssueGroup, ...]]:
    """Count the issues of `milestones` by what the roll-up on `today` reads of them.

    One row per (milestone, status, pull request, points, done within the burn-up window):
    what `rollup.milestone_progress` needs, in a handful of rows per milestone whatever its
    size, instead of one object per issue.
    """
    memberships = _Memberships.of(session)
    query = _groups_query(memberships, today=today)
    found: dict[MilestoneId, list[IssueGroup]] = defaultdict(list)
    for source, keys in memberships.chunks(milestones):
        for key, status, is_pr, points, recent, started, count in session.execute(
            query, {"source": source, "keys": keys}
        ):
            found[(source, key)].append(
                IssueGroup(status, bool(is_pr), points, bool(recent), count, bool(started))
            )
    return {m: tuple(groups) for m, groups in found.items()}


def open_issues(
    session: Session,
    milestones: Collection[MilestoneId],
    *,
    include_pull_requests: Mapping[str, bool],
    limit: int | None = None,
) -> dict[MilestoneId, tuple[IssueFacts, ...]]:
    """Load the in-scope open issues of `milestones`: all of them, or the first `limit` of each.

    Issues come in tracker order (number, then key; an issue without a number last), so a
    capped list is the oldest open work. Pull requests are in scope only for a source that
    includes them (`rollup.milestone_progress` agrees).
    """
    memberships = _Memberships.of(session)
    query = (
        memberships.text(_OPEN_SQL)
        .bindparams(bindparam("pull_requests", type_=Boolean))
        .columns(
            column("milestone_key", String),
            column("key", String),
            column("title", String),
            column("status", String),
            column("url", String),
            column("assignee", String),
            column("points", Float),
            column("done_at", UTCDateTime),
            column("is_pull_request", Boolean),
            column("in_progress", Boolean),
        )
    )
    found: dict[MilestoneId, list[IssueFacts]] = {}
    for source, keys in memberships.chunks(milestones):
        params = {"source": source, "keys": keys, "pull_requests": include_pull_requests.get(source, False)}
        # Built by position, the columns in IssueFacts' order: an alert backlog reads tens of thousands.
        for milestone_key, *facts in session.execute(query, params):
            issues = found.setdefault((source, milestone_key), [])
            if limit is None or len(issues) < limit:
                issues.append(IssueFacts(*facts))
    return {m: tuple(issues) for m, issues in found.items()}


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
        in_progress=issue.in_progress,
    )


def _milestone_facts(
    m: StoredMilestone | Link,
    groups: Mapping[MilestoneId, tuple[IssueGroup, ...]],
    detailed: Mapping[MilestoneId, tuple[IssueFacts, ...]],
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
        issues=detailed.get((m.source, m.key), ()),
        url=m.url,
        groups=groups.get((m.source, m.key), ()),
    )


def _direct_work(kr: KeyResult, okrs: OkrSet, issues: list[IssueFacts]) -> MilestoneFacts:
    """Build the implicit "<KR> direct work" milestone from its issues, which stay loaded.

    Issues labelled `kr:ID` are few, so they are kept per issue and grouped by the roll-up
    itself; their open ones are therefore always listed, with or without `detail`.
    """
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


def in_progress_weights(settings: Any) -> dict[str, float]:
    """Say, per source, what share of in-progress work counts as done when a KR sets none."""
    return {name: float(getattr(s, "in_progress_weight", 0.0)) for name, s in settings.sources.items()}


def status_for(
    settings: Any, okrs: OkrSet, engine: Any, *, moment: datetime, cycle: str | None
) -> dict[str, Any]:
    """Roll up from the store and build the `status` document (SPEC §4)."""
    from okrsync.statusview import status_document  # its tables are for `status`, not a sync

    with session(engine) as db:
        rollup, gathered = compute(db, okrs, settings, today=local_day(moment, settings.okrsync.tz))
        states = {s.name: s for s in db.execute(select(SourceState)).scalars()}
        latest = {kr_id: checkins.checkin_json(c) for kr_id, c in checkins.latest(db).items()}
        written = {w.source: w for w in db.execute(select(WritebackState)).scalars()}
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
        writeback={name: writeback_json(s, written.get(name)) for name, s in settings.sources.items()},
    )


def writeback_json(source: Any, state: WritebackState | None) -> dict[str, Any]:
    """A source's write-back health for `status --json` (SPEC §10): `{enabled, ok, last_error, ...}`."""
    return {
        "enabled": bool(source.writeback.enabled),
        "ok": state is None or state.last_error is None,
        "last_error": state.last_error if state else None,
        "last_attempt": _utc_text(state.last_attempt) if state else None,
        "last_success": _utc_text(state.last_success) if state else None,
    }


def _utc_text(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None
