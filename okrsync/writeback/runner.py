"""One write-back pass: for each opted-in source, render its targets, write what changed, record.

Called after a cycle's poll and roll-up (engine.run_cycle, the daemon's cycle) with the
sources fetched in that cycle, and by `okrsync writeback [--dry-run]`. It never raises: a
failed write is logged, recorded in `writeback_state` (shown by `status` under the source)
and tried again next cycle, because the targets it did not write keep their old hash.

Each write is recorded in its own transaction right after it is made, so a crash costs at
most the one write in flight; a dashboard created but not recorded is found again by its
label and marker (see writeback.github).

Only repos and projects named by the config (a source's `repos` / `projects`) or by a mapping
link are written: issue labels from elsewhere never make okrsync write into a repo.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from okrsync.days import local_day
from okrsync.errors import WriteError
from okrsync.okrs import OkrSet
from okrsync.rollup import Rollup
from okrsync.sources import jira_projects, mapped_containers
from okrsync.store import SourceState, TrackerIssue, WritebackState, WritebackTarget, session
from okrsync.writeback import render
from okrsync.writeback.pacing import Pacer
from okrsync.writeback.plan import Result, Target, needs_write
from okrsync.writeback.render import Context

logger = logging.getLogger(__name__)

# GitHub: "make requests for a single user or client ID serially … wait at least one second
# between each" content-creating request. Jira publishes no such pace; its 429s are honoured.
MIN_WRITE_INTERVAL = {"github": 1.0, "jira": 0.0}


def _write_interval(source: Any) -> float:
    """The configured pause between content writes, else the tracker's own guidance."""
    configured = source.writeback.min_interval
    return MIN_WRITE_INTERVAL.get(source.kind, 1.0) if configured is None else float(configured)


class Writer(Protocol):
    def apply(self, target: Target, stored: WritebackTarget | None) -> Result: ...


@dataclass
class SourceWriteback:
    """What write-back did for one source."""

    name: str
    results: list[Result] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: str | None = None  # why nothing was tried (not the leader, never synced, ...)

    @property
    def ok(self) -> bool:
        return not self.errors

    def count(self, action: str) -> int:
        return sum(1 for r in self.results if r.action == action)

    def summary(self) -> str:
        """One line: `3 created, 1 updated, 12 unchanged` (plus failures)."""
        if self.skipped:
            return f"skipped: {self.skipped}"
        parts = [
            f"{n} {action}"
            for action in ("created", "updated", "unchanged", "closed")
            if (n := self.count(action))
        ]
        if self.errors:
            parts.append(f"{len(self.errors)} failed")
        return ", ".join(parts) or "nothing to write"


@dataclass
class WritebackReport:
    sources: list[SourceWriteback] = field(default_factory=list)


def enabled(settings: Any) -> list[str]:
    """Name the sources that opted in to write-back."""
    return [name for name, s in settings.sources.items() if s.writeback.enabled]


@contextmanager
def leading(database_url: str) -> Iterator[bool]:
    """Hold the leader lock for a one-off command, if no daemon holds it (SPEC §9, §10).

    Only the leader writes: a `sync` or `writeback` run beside a daemon leaves the writing
    to the daemon rather than race it into duplicate dashboards.
    """
    from okrsync.leader import make_elector

    elector = make_elector(database_url)
    try:
        yield elector.acquire()
    finally:
        elector.release()


def run_writeback(
    settings: Any,
    okrs: OkrSet,
    engine: Engine,
    *,
    now: datetime,
    sources: Collection[str] | None = None,
    rollup: Rollup | None = None,
    dry_run: bool = False,
    clients: Mapping[str, Any] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> WritebackReport:
    """Write back for every opted-in source (or those of `sources`); never raises.

    `clients` lets a caller hand over a tracker client per source (a daemon reuses them);
    `monotonic` and `sleep` drive the pacing, so tests never sleep.
    """
    report = WritebackReport()
    names = [n for n in enabled(settings) if sources is None or n in sources]
    if not names:
        return report
    if rollup is None:
        from okrsync.progress import compute

        with session(engine) as db:
            rollup, _ = compute(db, okrs, settings, today=local_day(now, settings.okrsync.tz))
    with session(engine) as db:
        synced = {
            state.name
            for state in db.exec(select(SourceState).where(col(SourceState.last_success).is_not(None)))
        }
    ctx = Context(
        okrs=okrs,
        rollup=rollup,
        public_url=getattr(settings.server, "public_url", None),
        label_prefix=settings.okrsync.label_prefix,
    )
    for name in names:
        source = settings.sources[name]
        outcome = SourceWriteback(name)
        report.sources.append(outcome)
        pacer = Pacer(
            _write_interval(source),
            max_wait=source.max_rate_limit_wait,
            monotonic=monotonic,
            sleep=sleep,
        )
        if name not in synced:
            outcome.skipped = "never synced; run `okrsync sync` first"
            continue
        try:
            client = (clients or {}).get(name)
            _write_source(
                source, okrs, engine, ctx, outcome, now=now, pacer=pacer, client=client, dry_run=dry_run
            )
        except WriteError as exc:
            outcome.errors.append(str(exc))
        except Exception as exc:  # noqa: BLE001 - write-back must never stop a cycle
            detail = " ".join(str(exc).split())[:300]
            outcome.errors.append(f"write-back to {name!r}: unexpected {type(exc).__name__}: {detail}")
            logger.debug("write-back to %r failed", name, exc_info=True)
        for error in outcome.errors:
            logger.warning("%s", error)
        if not dry_run:
            try:
                _record_health(engine, outcome, now=now)
            except Exception:  # noqa: BLE001 - the database failing here is the cycle's to report
                logger.warning("write-back to %r: its outcome could not be recorded", name, exc_info=True)
    return report


def _write_source(
    source: Any,
    okrs: OkrSet,
    engine: Engine,
    ctx: Context,
    outcome: SourceWriteback,
    *,
    now: datetime,
    pacer: Pacer,
    client: Any,
    dry_run: bool,
) -> None:
    with session(engine) as db:
        stored = {
            t.target: t for t in db.exec(select(WritebackTarget).where(WritebackTarget.source == source.name))
        }
        targets = TARGETS[source.kind](source, okrs, ctx, db, stored)
        reopened = _reopened(db, source.name, stored, kind=source.kind)
        writer: Writer | None = None
        for target in targets:
            record = stored.get(target.key)
            if record is not None and record.state == "closed" and record.target not in reopened:
                outcome.results.append(
                    Result(target, "closed", remote_id=record.remote_id, note="left closed")
                )
                continue
            if record is not None and record.state == "active" and not needs_write(target, record):
                outcome.results.append(Result(target, "unchanged", remote_id=record.remote_id))
                continue
            try:
                if writer is None:  # made only now: a quiet cycle does not even connect
                    writer = WRITERS[source.kind](source, client, pacer=pacer, ctx=ctx, dry_run=dry_run)
                result = writer.apply(target, record)
            except WriteError as exc:
                outcome.errors.append(str(exc))
                if exc.stop:
                    return
                continue
            outcome.results.append(result)
            if not dry_run:
                _remember(db, source.name, result, record, now=now)


def _reopened(db: Session, source: str, stored: Mapping[str, WritebackTarget], *, kind: str) -> set[str]:
    """Closed dashboards a person has since reopened, as the last poll saw them (no request).

    The dashboard is an issue of a polled repo or project, so the store knows its state: its
    key is `owner/repo#number` on GitHub, the issue key on Jira.
    """

    def issue_key(target: WritebackTarget) -> str:
        container = target.target.split(":", 1)[1]
        return f"{container}#{target.remote_id}" if kind == "github" else str(target.remote_id)

    closed = {
        issue_key(t): t.target
        for t in stored.values()
        if t.state == "closed" and t.target.startswith("dashboard:") and t.remote_id
    }
    if not closed:
        return set()
    rows = db.exec(
        select(TrackerIssue.key).where(
            TrackerIssue.source == source,
            col(TrackerIssue.key).in_(list(closed)),
            TrackerIssue.status == "open",
        )
    )
    return {closed[key] for key in rows}


def _remember(
    db: Session, source: str, result: Result, record: WritebackTarget | None, *, now: datetime
) -> None:
    """Record what was written (or found) for one target, in its own transaction."""
    target = result.target
    if target.remove:
        if record is not None:
            db.delete(record)
            db.commit()
        return
    row = record or WritebackTarget(source=source, target=target.key)
    row.remote_id = result.remote_id or row.remote_id
    if result.action == "closed":
        if row.state != "closed":
            logger.warning(
                "write-back %s: %s was closed by a person; okrsync leaves it closed and will not recreate it",
                source,
                target.label,
            )
        row.state = "closed"
    else:
        row.state = "active"
        row.content_hash = target.digest
        if result.action in ("created", "updated"):
            row.written_at = now
    db.add(row)
    db.commit()


def _record_health(engine: Engine, outcome: SourceWriteback, *, now: datetime) -> None:
    if outcome.skipped:
        return
    with session(engine) as db:
        row = db.get(WritebackState, outcome.name) or WritebackState(source=outcome.name)
        row.last_attempt = now
        if outcome.ok:
            row.last_success = now
            row.last_error = None
        else:
            row.last_error = "; ".join(outcome.errors)[:2000]
        db.add(row)
        db.commit()


def health(engine: Engine) -> dict[str, WritebackState]:
    """The last write-back outcome per source, for `status`."""
    with session(engine) as db:
        return {row.source: row for row in db.exec(select(WritebackState))}


# --- targets per kind of source ---------------------------------------------------------------


def _fed_by_labels(db: Session, source: str) -> dict[str, set[str]]:
    """KR ids per repo or project, from the issues labelled `kr:ID` there."""
    fed: dict[str, set[str]] = defaultdict(set)
    rows = db.exec(
        select(TrackerIssue.container, TrackerIssue.kr_ids).where(
            TrackerIssue.source == source, col(TrackerIssue.has_kr_label)
        )
    )
    for container, kr_ids in rows:
        fed[container].update(kr_ids)
    return fed


def github_targets(
    source: Any, okrs: OkrSet, ctx: Context, db: Session, stored: Mapping[str, WritebackTarget]
) -> list[Target]:
    """A dashboard per named repo that feeds a KR (or had one), a section per linked milestone."""
    named = {repo.lower(): repo for repo in set(source.repos) | mapped_containers(okrs, source.name)}
    feeds: dict[str, set[str]] = defaultdict(set)
    milestones: dict[tuple[str, int], set[str]] = defaultdict(set)
    titles: dict[tuple[str, int], str] = {}
    for kr_id, progress in ctx.rollup.key_results.items():
        for m in progress.milestones:
            if m.source != source.name or m.missing or m.implicit:
                continue
            repo, sep, number = m.key.rpartition("#")
            if not sep or not number.isdigit() or repo.lower() not in named:
                continue
            feeds[named[repo.lower()]].add(kr_id)
            milestones[(named[repo.lower()], int(number))].add(kr_id)
            titles[(named[repo.lower()], int(number))] = m.title
    for container, kr_ids in _fed_by_labels(db, source.name).items():
        if container.lower() in named:
            feeds[named[container.lower()]].update(k for k in kr_ids if k in ctx.rollup.key_results)
    targets = []
    for repo in sorted(named.values()):
        if feeds.get(repo) or f"dashboard:{repo}" in stored:
            section = render.dashboard_section(repo, feeds.get(repo, set()), ctx, "markdown")
            targets.append(Target("dashboard", repo, "", section, f"{repo} {render.DASHBOARD_TITLE}"))
    for (home, milestone_number), kr_ids in sorted(milestones.items()):
        key = f"{home}#{milestone_number}"
        section = render.milestone_section(key, kr_ids, ctx, "markdown")
        label = f"{home} milestone {milestone_number} ({titles[(home, milestone_number)]})"
        targets.append(Target("milestone", home, str(milestone_number), section, label))
    # A milestone no longer linked to any KR loses okrsync's section, rather than show a
    # stale status forever; its record goes with it.
    kept = {t.key for t in targets}
    for key, record in sorted(stored.items()):
        if key.startswith("milestone:") and key not in kept and record.remote_id:
            home = key.removeprefix("milestone:").rpartition("#")[0]
            label = f"{home} milestone {record.remote_id} (no longer linked)"
            targets.append(Target("milestone", home, record.remote_id, "", label, remove=True))
    return targets


def jira_targets(
    source: Any, okrs: OkrSet, ctx: Context, db: Session, stored: Mapping[str, WritebackTarget]
) -> list[Target]:
    """A dashboard per named project that feeds a KR, a property and a comment per linked epic."""
    named = {p.upper(): p for p in set(source.projects) | jira_projects(okrs, source.name)}
    feeds: dict[str, set[str]] = defaultdict(set)
    epics: dict[str, set[str]] = defaultdict(set)
    for kr_id, progress in ctx.rollup.key_results.items():
        for m in progress.milestones:
            if m.source != source.name or m.missing or m.implicit or not m.key.startswith("jira:"):
                continue
            ref = m.key.removeprefix("jira:")
            if ref.startswith("jql:"):
                continue  # a JQL set spans projects: it belongs to no dashboard
            project = ref.split("/", 1)[0] if "/" in ref else ref.rsplit("-", 1)[0]
            if project.upper() not in named:
                continue
            feeds[named[project.upper()]].add(kr_id)
            if "/" not in ref:
                epics[ref].add(kr_id)
    for container, kr_ids in _fed_by_labels(db, source.name).items():
        if container.upper() in named:
            feeds[named[container.upper()]].update(k for k in kr_ids if k in ctx.rollup.key_results)
    targets = []
    for project in sorted(named.values()):
        if feeds.get(project) or f"dashboard:{project}" in stored:
            section = render.dashboard_section(project, feeds.get(project, set()), ctx, "jira")
            targets.append(Target("dashboard", project, "", section, f"{project} {render.DASHBOARD_TITLE}"))
    for epic, kr_ids in sorted(epics.items()):
        prop = render.canonical(render.epic_property(kr_ids, ctx))
        targets.append(
            Target("epic-property", epic.rsplit("-", 1)[0], epic, prop, f"{epic} okrsync property")
        )
        comment = render.epic_comment(kr_ids, ctx)
        targets.append(
            Target("epic-comment", epic.rsplit("-", 1)[0], epic, comment, f"{epic} okrsync comment")
        )
    return targets


def _github_writer(source: Any, client: Any, *, pacer: Pacer, ctx: Context, dry_run: bool) -> Writer:
    from okrsync.writeback.github import GitHubWriter, make_client

    return GitHubWriter(
        source.name,
        client or make_client(source),
        pacer=pacer,
        label_prefix=ctx.label_prefix,
        dry_run=dry_run,
    )


def _jira_writer(source: Any, client: Any, *, pacer: Pacer, ctx: Context, dry_run: bool) -> Writer:
    from okrsync.writeback.jira import JiraWriter, connect

    return JiraWriter(
        source.name,
        client or connect(source, pacer=pacer),
        pacer=pacer,
        issue_type=source.writeback.issue_type,
        label_prefix=ctx.label_prefix,
        dry_run=dry_run,
    )


TARGETS: dict[str, Callable[[Any, OkrSet, Context, Session, Mapping[str, WritebackTarget]], list[Target]]] = {
    "github": github_targets,
    "jira": jira_targets,
}
WRITERS: dict[str, Callable[..., Writer]] = {"github": _github_writer, "jira": _jira_writer}
