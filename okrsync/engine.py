"""One cycle, top to bottom: poll each source → store → roll up → detect slips → outbox → deliver.

Each source is polled in its own transaction: its records and its new cursor are committed
together, or not at all. A failing source is recorded (`last_error`) in a separate small
transaction and never stops the others; its cursor does not move, so the next healthy
cycle catches up with nothing missed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlmodel import Session

from connectors.records import PollRun
from okrsync import checkins, history, krsignals
from okrsync.alerts import MAX_OPEN_ISSUES, build_payload, new_event_id
from okrsync.days import local_day
from okrsync.errors import DeliveryError, SourceError
from okrsync.ingest import IssueWriter, StoredIssues, save_milestones
from okrsync.okrs import KeyResult, OkrSet
from okrsync.outbox import (
    DispatchReport,
    NewEvent,
    RecordedEvent,
    dispatch,
    known_keys,
    load_watches,
    record,
)
from okrsync.progress import compute, include_pull_requests, open_issues
from okrsync.rollup import Rollup
from okrsync.slips import Slip, detect
from okrsync.sources import Poller, make_poller
from okrsync.store import Event, KrValue, SourceState, session

if TYPE_CHECKING:
    # Imported where used: a cycle without a channel builds no digest, and one without a
    # source that writes back never loads the write-back package (issue 9: process start).
    from okrsync.writeback import WritebackReport

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceProgress:
    """Where one source's poll stands, for whoever shows progress (okrsync.progressview).

    `issues` were fetched and written so far; `done` of `total` are the connector's units
    (`repos`, `projects`); `expected_issues` is the tracker's own count when it gives one.
    """

    name: str
    issues: int
    unit: str
    done: int
    total: int | None
    expected_issues: int | None
    rate_remaining: int | None


ProgressHook = Callable[[SourceProgress], None]


@dataclass
class SourceOutcome:
    """What one source's poll did this cycle."""

    name: str
    ok: bool
    error: str | None = None
    issues: int = 0
    changed: int = 0
    milestones: int = 0
    removed: int = 0
    requests: int = 0
    not_modified: int = 0
    rate_remaining: int | None = None


@dataclass
class CycleReport:
    """What a cycle did, for the summary line, the exit code and (later) metrics."""

    started_at: datetime
    sources: list[SourceOutcome] = field(default_factory=list)
    measured: dict[str, float] = field(default_factory=dict)
    events: list[RecordedEvent] = field(default_factory=list)
    delivery: DispatchReport = field(default_factory=DispatchReport)
    rollup: Rollup | None = None  # the roll-up slips were judged on, for the summary
    writeback: WritebackReport | None = None  # None when no source polled this cycle writes back

    @property
    def failed(self) -> list[SourceOutcome]:
        return [s for s in self.sources if not s.ok]


def run_cycle(
    settings: Any,
    okrs: OkrSet,
    engine: Engine,
    *,
    now: datetime,
    only: str | None = None,
    pollers: dict[str, Poller] | None = None,
    progress: ProgressHook | None = None,
    deliver: bool = True,
    channels: dict[str, Any] | None = None,
    write_back: bool = True,
) -> CycleReport:
    """Run one cycle at `now`; `pollers` and `channels` let a daemon reuse clients across cycles.

    Write-back (for the sources that opted in) runs only while this process holds the
    leader lock, so a `sync` beside a running daemon leaves the writing to the daemon.
    """
    report = CycleReport(started_at=now)
    pollers = pollers if pollers is not None else {}
    for name, source in settings.sources.items():
        if only is not None and name != only:
            continue
        poller = pollers.get(name) or pollers.setdefault(
            name, make_poller(source, okrs, ca_bundle=settings.http.ca_bundle)
        )
        outcome = poll_source(poller, engine, kind=source.kind, now=now, settings=settings, progress=progress)
        report.sources.append(outcome)
        if outcome.ok:
            report.measured.update(measure_metrics(poller, okrs, engine, now=now))
    fetched = {o.name for o in report.sources if o.ok}
    report.events, report.rollup = detect_slips(
        settings, okrs, engine, now=now, fetched=fetched, all_fetched=fetched == set(settings.sources)
    )
    if deliver:
        report.delivery = deliver_alerts(settings, engine, now=now, channels=channels)
    if write_back and writes_back(settings, report):
        from okrsync.writeback import leading

        with leading(settings.okrsync.database_url) as leader:
            if leader:
                report.writeback = write_back_fetched(settings, okrs, engine, report, now=now)
            else:
                logger.info("write-back skipped: another okrsync process leads and writes")
    return report


def writes_back(settings: Any, report: CycleReport) -> bool:
    """Say whether a source polled successfully in this cycle opted in to write-back."""
    return any(o.ok and settings.sources[o.name].writeback.enabled for o in report.sources)


def write_back_fetched(
    settings: Any,
    okrs: OkrSet,
    engine: Engine,
    report: CycleReport,
    *,
    now: datetime,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> WritebackReport:
    """Write KR status back into the sources polled successfully this cycle (SPEC §10).

    Last in the cycle, after the alerts: a write never delays or fails them, and it reads
    the roll-up the slips were judged on. The caller makes sure this process leads;
    `monotonic` and `sleep` pace the writes (a daemon passes its own, tests fake ones).
    """
    from okrsync.writeback import run_writeback

    fetched = {o.name for o in report.sources if o.ok}
    return run_writeback(
        settings,
        okrs,
        engine,
        now=now,
        sources=fetched,
        rollup=report.rollup,
        monotonic=monotonic,
        sleep=sleep,
    )


def detect_slips(
    settings: Any, okrs: OkrSet, engine: Engine, *, now: datetime, fetched: set[str], all_fetched: bool
) -> tuple[list[RecordedEvent], Rollup]:
    """Roll up, judge every linked milestone of the sources fetched, and record new events.

    The roll-up only counts open issues; the alert of a slip not raised before lists them, so
    they are loaded for those milestones alone (`with_open_issues`). A slip raised before
    (the rules fire every cycle while their condition holds) is dropped here, as `record`
    would drop it, before any payload is built.

    The KR steps (history snapshot, kr.stale, kr.confidence_drop, the weekly digest) run on
    the same roll-up, and their rows are committed by `record` with every event, in one
    transaction.
    """
    today = local_day(now, settings.okrsync.tz)
    with session(engine) as db:
        rollup, _gathered = compute(db, okrs, settings, today=today)
        slips, watches = detect(
            rollup, load_watches(db), today=today, fetched=fetched, all_fetched=all_fetched
        )
        known = known_keys(db, [slip.dedupe_key for slip in slips])
        new_slips = with_open_issues(
            db,
            [slip for slip in slips if slip.dedupe_key not in known],
            include_pull_requests=include_pull_requests(settings),
        )
        events = [
            _event(
                slip,
                build_payload,
                milestone_key=slip.milestone.key,
                context=(settings, okrs, rollup, now, today),
            )
            for slip in new_slips
        ]
        events += detect_kr_events(
            db, settings, okrs, rollup, now=now, today=today, fetched=fetched, all_fetched=all_fetched
        )
        created = record(
            db,
            events,
            watches,
            channels=list(settings.alerts.channels),
            now=now,
            today=today,
            send_backlog=settings.alerts.send_backlog,
        )
    backlog = 0
    for event in created:
        if event.backlog:
            backlog += 1  # a first sync can record hundreds: one line for them all, below
            continue
        logger.info(
            "detected %s: %s",
            event.type,
            event.payload["text"],
            extra={"event_id": event.id, "kr": event.kr_id},
        )
    if backlog:
        logger.info("recorded %d backlog alert(s), not sent: see `okrsync alerts --all`", backlog)
    return created, rollup


def with_open_issues(
    db: Session, slips: list[Slip], *, include_pull_requests: Mapping[str, bool]
) -> list[Slip]:
    """Put the first `MAX_OPEN_ISSUES` in-scope open issues on each slip's milestone, for its alert.

    A milestone with nothing open, a missing one and a `kr:` label milestone (whose issues
    the roll-up already holds) are left as they are.
    """
    wanted = {
        (s.milestone.source, s.milestone.key)
        for s in slips
        if s.milestone.open_count and not s.milestone.missing and not s.milestone.implicit
    }
    loaded = open_issues(db, wanted, include_pull_requests=include_pull_requests, limit=MAX_OPEN_ISSUES)
    return [
        replace(s, milestone=replace(s.milestone, open_issues=issues))
        if (issues := loaded.get((s.milestone.source, s.milestone.key)))
        else s
        for s in slips
    ]


def detect_kr_events(
    db: Session,
    settings: Any,
    okrs: OkrSet,
    rollup: Rollup,
    *,
    now: datetime,
    today: date,
    fetched: set[str],
    all_fetched: bool,
) -> list[NewEvent]:
    """Snapshot progress into the history, then build kr.* events and any digest that is due.

    The snapshot comes first so a KR that moved today is not judged stale; nothing is
    committed here (the caller's `record` commits history and events together).
    """
    history.snapshot(db, rollup, now=now, today=today)
    signals = krsignals.detect(
        rollup,
        okrs,
        last_changes=history.last_changes(db),
        checkins=checkins.since(db, today - timedelta(days=krsignals.LOOKBACK_DAYS)),
        today=today,
        stale_after_days=settings.alerts.stale_after_days,
        confidence_drop=settings.alerts.confidence_drop,
        judged=krsignals.judged_krs(rollup, okrs, fetched=fetched, all_fetched=all_fetched),
    )
    events = [
        _event(
            signal, krsignals.build_payload, milestone_key=None, context=(settings, okrs, rollup, now, today)
        )
        for signal in signals
    ]
    if not settings.alerts.channels:
        return events  # a digest is a message: with no channel it is not recorded (digest.py)
    from okrsync import digest

    events += digest.due_digests(
        db,
        okrs,
        rollup,
        now=now,
        tz=settings.okrsync.tz,
        weekday=settings.alerts.digest_day,
        hour=settings.alerts.digest_hour,
        people=settings.people,
        new_id=new_event_id,
    )
    return events


def _event(
    found: Any,
    build: Callable[..., dict[str, Any]],
    *,
    milestone_key: str | None,
    context: tuple[Any, OkrSet, Rollup, datetime, date],
) -> NewEvent:
    """Turn a detected slip or KR signal (type, dedupe_key, kr_id, onset) into an outbox event."""
    settings, okrs, rollup, now, today = context
    event_id = new_event_id()
    payload = build(
        found,
        event_id=event_id,
        okrs=okrs,
        kr=rollup.key_results[found.kr_id],
        people=settings.people,
        detected_at=now,
        day=today,
    )
    return NewEvent(
        id=event_id,
        type=found.type,
        dedupe_key=found.dedupe_key,
        kr_id=found.kr_id,
        milestone_key=milestone_key,
        owner=okrs.key_results[found.kr_id].owner,
        day=found.onset,
        payload=payload,
    )


def deliver_alerts(
    settings: Any,
    engine: Engine,
    *,
    now: datetime,
    channels: dict[str, Any] | None = None,
    on_attempt: Callable[[], None] | None = None,
) -> DispatchReport:
    """Send every due delivery to its channel, addressed to the KR owner through [people].

    `on_attempt` is called before each attempt: the daemon's heartbeat, so many deliveries to
    a slow endpoint are not taken for a stuck loop.
    """
    if channels is None and not settings.alerts.channels:
        return DispatchReport()
    from okrsync.channels import Alert, Recipient, make_channel

    if channels is None:
        channels = {
            name: make_channel(c, ca_bundle=settings.http.ca_bundle)
            for name, c in settings.alerts.channels.items()
        }

    def send(event: Event, channel_name: str) -> None:
        if on_attempt is not None:
            on_attempt()
        channel = channels.get(channel_name)
        if channel is None:
            raise DeliveryError(f"channel {channel_name!r} is no longer configured", permanent=True)
        owner = event.owner or ""
        recipient = Recipient.from_person(owner, settings.people.get(owner)) if owner else None
        channel.notify(Alert(id=event.id, type=event.type, payload=event.payload, recipient=recipient))

    return dispatch(engine, send, now=now, channels=list(channels))


def poll_source(
    poller: Poller,
    engine: Engine,
    *,
    kind: str,
    now: datetime,
    settings: Any,
    progress: ProgressHook | None = None,
) -> SourceOutcome:
    """Poll one source and commit its data with its cursor, or record why it failed."""
    name = poller.name
    outcome = SourceOutcome(name=name, ok=False)
    with session(engine) as db:
        state = db.get(SourceState, name) or SourceState(name=name, kind=kind, cursor={})
        try:
            writer = IssueWriter(
                db,
                name,
                label_prefix=settings.okrsync.label_prefix,
                in_progress_labels=getattr(settings.sources[name], "in_progress_labels", ()),
            )
            run = poller.poll(dict(state.cursor), StoredIssues(db, name, writer=writer), now=now)
            if progress is not None:
                hook = progress
                run.progress.listener = lambda: hook(_snapshot(run, outcome))
            try:
                _store_batches(run, db, writer, outcome, settings=settings, progress=progress)
                writer.flush()  # a write that failed behind fails the poll here, not silently
            finally:
                run.close()
                writer.close()  # its thread idle before the commit or the rollback below
            state.cursor = run.cursor
            state.kind = kind
            state.last_attempt = now
            state.last_success = now
            state.last_error = None
            db.add(state)
            db.commit()
            outcome.ok = True
            outcome.requests, outcome.not_modified = run.requests, run.not_modified
            outcome.rate_remaining = run.rate_remaining
        except SourceError as exc:
            db.rollback()
            outcome.error = str(exc)
            logger.warning("%s", exc, extra={"source": name})
        except Exception as exc:  # noqa: BLE001 - a bug or a record the store refuses: this source only
            db.rollback()
            # One line in `status` and the log (the traceback at debug level): the other
            # sources go on, and the next cycle tries again from the same cursor.
            detail = " ".join(str(exc).split())[:300]
            outcome.error = f"source {name!r}: unexpected {type(exc).__name__} while polling: {detail}"
            logger.warning("%s", outcome.error, extra={"source": name})
            logger.debug("poll of source %r failed", name, exc_info=True, extra={"source": name})
    if not outcome.ok:
        _record_failure(engine, name, kind=kind, now=now, error=outcome.error or "failed")
    else:
        logger.info(
            "source %s: %d issues (%d changed), %d milestones, %d removed, %d requests (%d not modified)",
            name,
            outcome.issues,
            outcome.changed,
            outcome.milestones,
            outcome.removed,
            outcome.requests,
            outcome.not_modified,
            extra={"source": name},
        )
    return outcome


def _store_batches(
    run: PollRun,
    db: Session,
    writer: IssueWriter,
    outcome: SourceOutcome,
    *,
    settings: Any,
    progress: ProgressHook | None,
) -> None:
    """Write each batch of a poll as it arrives: milestones, then issues, then removals."""
    for batch in run.batches():
        save_milestones(
            db,
            outcome.name,
            batch.milestones,
            complete=batch.complete,
            removed=batch.removed_milestones,
            tz=settings.okrsync.tz,
        )
        outcome.changed += writer.save(batch.issues)
        writer.remove(batch.removed_issues)
        outcome.issues += len(batch.issues)
        outcome.milestones += len(batch.milestones)
        outcome.removed += len(batch.removed_issues)
        if progress is not None:
            progress(_snapshot(run, outcome))


def _snapshot(run: PollRun, outcome: SourceOutcome) -> SourceProgress:
    told = run.progress
    return SourceProgress(
        name=outcome.name,
        issues=outcome.issues,
        unit=told.unit,
        done=told.done,
        total=told.total,
        expected_issues=told.expected_issues,
        rate_remaining=run.rate_remaining,
    )


def measure(poller: Poller, kr: KeyResult) -> float | None:
    """Measure a metric KR's value on its source: the count of `value_query`'s issues, or the sum or
    average of their `value_field`.

    Issues without a number in the field add nothing to a sum and are left out of an average
    (an unestimated issue is not an estimate of 0); an average over no numbers is no value,
    and the KR keeps its last one.
    """
    query = kr.value_query or ""
    if kr.value_aggregate == "count":
        return float(poller.count(query))
    values = poller.field_values(query, kr.value_field or "")
    if kr.value_aggregate == "sum":
        return float(sum(values))
    return sum(values) / len(values) if values else None


def measure_metrics(poller: Poller, okrs: OkrSet, engine: Engine, *, now: datetime) -> dict[str, float]:
    """Measure each metric KR's `value_query` on its source and store the value."""
    measured: dict[str, float] = {}
    with session(engine) as db:
        for kr in okrs.key_results.values():
            if kr.kind != "metric" or not kr.value_query or kr.value_source != poller.name:
                continue
            try:
                value = measure(poller, kr)
            except SourceError as exc:
                logger.warning(
                    "metric %s not measured: %s", kr.id, exc, extra={"kr": kr.id, "source": poller.name}
                )
                continue
            if value is None:
                logger.info("metric %s not measured: no issue of its query has a %s", kr.id, kr.value_field)
                continue
            db.merge(KrValue(kr_id=kr.id, value=value, source=poller.name, measured_at=now))
            measured[kr.id] = value
        db.commit()
    return measured


def _record_failure(engine: Engine, name: str, *, kind: str, now: datetime, error: str) -> None:
    with Session(engine) as db:
        state = db.get(SourceState, name) or SourceState(name=name, kind=kind, cursor={})
        state.last_attempt = now
        state.last_error = error
        db.add(state)
        db.commit()
