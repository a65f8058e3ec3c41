"""`okrsync run`: a cycle every `poll_interval`, on the leader only, until SIGTERM or SIGINT.

The loop follows healthchecks' `sendalerts`: `while not self.shutdown`, the clock read once per
step, and a signal handler that only sets the flag. A step is one small unit of work — check
the leader lock, poll one source, or finish a cycle (detect slips, deliver alerts) — and the
one broad `except Exception` sits around each step, so a bug met by one source costs that
source its turn (and a backoff), never the loop, the other sources or the alerts.

A cycle is the engine's cycle (engine.run_cycle) taken apart into those steps: every due
source is polled in its own transaction (`poll_source`), then slips are detected on what was
fetched and alerts are delivered, every interval, even when no source was due. A source that
fails is retried after 1, 2, 4, 8, then at most 10 intervals, while the others keep theirs.

Stopping: after the flag is set the loop ends after the current step; a source poll in
progress is abandoned at its next page (`Stopping`, raised from the progress hook), which
rolls its transaction back, so its cursor stays where the committed data is. A stop thus
leaves the database as a kill would, never half a cycle (SPEC §9), and exits within a page.

Why not the `schedule` library: its jobs run on the naive local wall clock
(`datetime.now()`), so a daylight-saving change or an NTP step stalls a seconds-interval job for
up to an hour, and its clock cannot be injected into tests. The loop below keeps time on
`time.monotonic()` (injectable), and per-source backoff is two fields on a slot rather than
rescheduling jobs through schedule's private API.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import FrameType
from typing import Any

from sqlalchemy import Engine

from okrsync.crashpoints import freeze_point
from okrsync.engine import (
    CycleReport,
    SourceOutcome,
    SourceProgress,
    deliver_alerts,
    detect_slips,
    measure_metrics,
    poll_source,
    write_back_fetched,
    writes_back,
)
from okrsync.leader import Elector, make_elector
from okrsync.liveness import Heartbeat, longest_step
from okrsync.metrics import Metrics
from okrsync.okrs import OkrSet
from okrsync.progressview import LogProgress, every_from_env
from okrsync.sources import Poller, make_poller

logger = logging.getLogger(__name__)

MAX_BACKOFF_INTERVALS = 10
LOCK_CHECKS_PER_INTERVAL = 2  # a follower takes over within half an interval of the leader's death
SLEEP_SLICE = 0.1  # seconds; how quickly an idle loop notices the shutdown flag


def backoff_intervals(failures: int) -> int:
    """Say how many intervals a source waits after `failures` failures in a row: 1, 2, 4, 8, 10."""
    if failures <= 0:
        return 1
    return int(min(2 ** (failures - 1), MAX_BACKOFF_INTERVALS))


@dataclass
class SourceSlot:
    """When a source is next due, on the monotonic clock, and how often it failed in a row."""

    name: str
    kind: str
    next_due: float = 0.0
    failures: int = 0

    def due(self, t: float) -> bool:
        return t >= self.next_due

    def succeeded(self) -> None:
        self.failures = 0
        self.next_due = 0.0  # due at every cycle again

    def failed(self, *, tick: float, interval: float) -> int:
        """Record a failure of the poll started at cycle `tick`; return the intervals to wait."""
        self.failures += 1
        wait = backoff_intervals(self.failures)
        self.next_due = tick + wait * interval
        return wait


class Stopping(BaseException):  # noqa: N818 - it is a signal to unwind, not an error
    """Raised from the progress hook to abandon a poll when shutdown was asked for.

    A BaseException, like KeyboardInterrupt: it must pass through the engine's per-source
    boundary (`except Exception`, which makes a poll's unexpected errors its `last_error`)
    rather than be recorded as the source failing.
    """


@dataclass
class Cycle:
    """A cycle in progress: its start (tick and wall time), the sources left, and the report."""

    tick: float
    moment: datetime
    todo: list[SourceSlot]
    report: CycleReport
    current: SourceSlot | None = None


class Daemon:
    """The loop: leadership, per-source scheduling with backoff, and one boundary for errors."""

    def __init__(
        self,
        settings: Any,
        okrs: OkrSet,
        engine: Engine,
        *,
        elector: Elector,
        metrics: Metrics,
        clock: Callable[[], datetime],
        migrate: Callable[[], None] = lambda: None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        self.settings = settings
        self.okrs = okrs
        self.engine = engine
        self.elector = elector
        self.metrics = metrics
        self.clock = clock
        self.migrate = migrate
        self.monotonic = monotonic
        self.sleep = sleep
        self.interval = float(settings.okrsync.poll_interval)
        self.heartbeat = heartbeat or Heartbeat(
            interval=self.interval, grace=longest_step(settings.sources.values()), monotonic=monotonic
        )
        self.shutdown = False
        self.stopped_by: int | None = None  # the signal that asked for shutdown, if one did
        self.leader = False
        self.migrated = False
        self.cycles = 0
        self.cycle: Cycle | None = None
        self.next_cycle = 0.0
        self.next_lock_check = 0.0
        self.slots = {name: SourceSlot(name, source.kind) for name, source in settings.sources.items()}
        self.pollers: dict[str, Poller] = {}
        # A long first sync says how far it got in the log every few seconds (progressview).
        self.shown = LogProgress(every=every_from_env(), clock=monotonic)

    # --- the loop ------------------------------------------------------------------------

    def request_shutdown(self, signum: int = 0, frame: FrameType | None = None) -> None:
        """Ask the loop to stop after its current step; safe to call from a signal handler."""
        self.shutdown = True  # only the flag: logging or I/O in a handler can deadlock
        self.stopped_by = self.stopped_by or signum or None

    def role(self) -> str:
        return "leader" if self.leader else "follower"

    def run(self) -> None:
        """Step until shutdown is asked for, then give up leadership."""
        logger.info(
            "okrsync run: %d source(s) every %gs; leader election by %s",
            len(self.slots),
            self.interval,
            self.elector.description,
        )
        while not self.shutdown:
            t = self.monotonic()  # the clock, once per step
            self.heartbeat.beat()
            try:
                self.step(t)
            except Stopping:
                logger.info("poll abandoned for shutdown; its transaction was rolled back")
            except Exception:
                logger.exception("daemon step failed; going on with the next one")
                self._after_failed_step(t)
            if self.cycle is None:
                self._sleep_until(self._next_wake())
        logger.info("shutdown asked for: stopping after %d cycle(s)", self.cycles)
        self.leader = False
        self.metrics.is_leader.set(0)
        self.elector.release()

    def step(self, t: float) -> None:
        """Do one unit of work: the lock check when due, then one task of the current cycle."""
        freeze_point("daemon.step")
        if t >= self.next_lock_check:
            self.next_lock_check = t + self.interval / LOCK_CHECKS_PER_INTERVAL
            self._set_leader(self.elector.acquire())
        if not self.leader:
            if self.cycle is not None:
                logger.warning("leadership lost in the middle of a cycle; abandoning it")
                self.cycle = None
            return
        if not self.migrated:
            self.migrate()  # under the lock: two replicas starting at once never race Alembic
            self.migrated = True
        if self.cycle is None:
            if t < self.next_cycle:
                return
            self.next_cycle = t + self.interval
            self.cycle = self._begin(t)
        cycle = self.cycle
        if cycle.todo:
            slot = cycle.todo.pop(0)
            cycle.current = slot
            self._poll(cycle, slot)
            cycle.current = None
        else:
            self.cycle = None
            self._finish(cycle, t)

    # --- the tasks -----------------------------------------------------------------------

    def _begin(self, t: float) -> Cycle:
        moment = self.clock()  # one wall time for the whole cycle, as engine.run_cycle has
        due = [slot for slot in self.slots.values() if slot.due(t)]
        return Cycle(tick=t, moment=moment, todo=due, report=CycleReport(started_at=moment))

    def _poll(self, cycle: Cycle, slot: SourceSlot) -> None:
        poller = self.pollers.get(slot.name)
        if poller is None:
            poller = self.pollers[slot.name] = make_poller(
                self.settings.sources[slot.name], self.okrs, ca_bundle=self.settings.http.ca_bundle
            )
        outcome = poll_source(
            poller,
            self.engine,
            kind=slot.kind,
            now=cycle.moment,
            settings=self.settings,
            progress=self._progress,
        )
        cycle.report.sources.append(outcome)
        if outcome.ok:
            slot.succeeded()
            cycle.report.measured.update(measure_metrics(poller, self.okrs, self.engine, now=cycle.moment))
        else:
            self._backoff(cycle, slot)

    def _finish(self, cycle: Cycle, t: float) -> None:
        report = cycle.report
        fetched = {o.name for o in report.sources if o.ok}
        report.events, report.rollup = detect_slips(
            self.settings,
            self.okrs,
            self.engine,
            now=cycle.moment,
            fetched=fetched,
            all_fetched=fetched == set(self.settings.sources),
        )
        if report.rollup is not None:
            self.metrics.record_rollup(report.rollup, self.okrs)
        report.delivery = deliver_alerts(
            self.settings, self.engine, now=cycle.moment, on_attempt=self.heartbeat.beat
        )
        if writes_back(self.settings, report):
            # This process leads (step() runs a cycle only then): only the leader writes.
            report.writeback = write_back_fetched(
                self.settings,
                self.okrs,
                self.engine,
                report,
                now=cycle.moment,
                monotonic=self.monotonic,
                sleep=self.sleep,
            )
        duration = self.monotonic() - cycle.tick
        self.metrics.record_cycle(report, duration=duration)
        self.cycles += 1
        logger.info(
            "cycle %d done in %.2fs: %s",
            self.cycles,
            duration,
            _summary(report),
            extra={"cycle": self.cycles},
        )

    def _backoff(self, cycle: Cycle, slot: SourceSlot) -> None:
        wait = slot.failed(tick=cycle.tick, interval=self.interval)
        logger.warning(
            "source %s failed %d time(s) in a row; next try in %d interval(s) (%gs)",
            slot.name,
            slot.failures,
            wait,
            wait * self.interval,
            extra={"source": slot.name, "cycle": self.cycles + 1},
        )

    def _progress(self, where: SourceProgress) -> None:
        self.heartbeat.beat()  # a long poll that keeps writing pages is not stuck
        if self.shutdown:
            raise Stopping
        self.shown(where)

    def _after_failed_step(self, t: float) -> None:
        """Keep the books after an unexpected error: the source that raised backs off like a failure."""
        cycle = self.cycle
        if cycle is None:
            return
        if cycle.current is not None:
            slot, cycle.current = cycle.current, None
            cycle.report.sources.append(SourceOutcome(name=slot.name, ok=False, error="internal error"))
            self._backoff(cycle, slot)
        elif not cycle.todo:
            self.cycle = None  # detection or delivery failed; the next cycle tries again

    # --- leadership and time -------------------------------------------------------------

    def _set_leader(self, leader: bool) -> None:
        if leader == self.leader:
            return
        self.leader = leader
        self.metrics.is_leader.set(1 if leader else 0)
        if leader:
            logger.info("leading: this process polls and delivers (%s)", self.elector.description)
            self.next_cycle = 0.0
            for slot in self.slots.values():
                slot.succeeded()
        else:
            logger.info("following: another process leads; idle until it stops")

    def _next_wake(self) -> float:
        wake = self.next_lock_check
        if self.leader:
            wake = min(wake, self.next_cycle)
        return wake

    def _sleep_until(self, deadline: float) -> None:
        """Sleep in short slices, so the shutdown flag is seen within SLEEP_SLICE."""
        while not self.shutdown:
            left = deadline - self.monotonic()
            if left <= 0:
                return
            self.sleep(min(SLEEP_SLICE, left))


def _summary(report: CycleReport) -> str:
    parts = []
    for o in report.sources:
        if o.ok:
            parts.append(f"{o.name} ok ({o.requests} requests, {o.not_modified} not modified)")
        else:
            parts.append(f"{o.name} failed ({o.error})")
    if not report.sources:
        parts.append("no source due")
    parts.append(f"{len(report.events)} new event(s)")
    for written in report.writeback.sources if report.writeback else []:
        parts.append(f"write-back {written.name}: {written.summary()}")
    sent = report.delivery
    parts.append(f"{sent.delivered} delivered, {sent.retrying} to retry, {sent.failed} failed")
    return "; ".join(parts)


def serve(settings: Any, okrs: OkrSet, *, clock: Callable[[], datetime]) -> int | None:
    """Run the daemon and its HTTP server until SIGTERM or SIGINT; return that signal once stopped."""
    from okrsync.report import LivePages
    from okrsync.server import SourceHealthReader, StatusServer, health_probe
    from okrsync.store import make_engine, migrate_if_behind

    url = settings.okrsync.database_url
    engine = make_engine(url)  # migrations wait for the leader lock (Daemon.step), if any are due
    elector = make_elector(url)
    metrics = Metrics()
    metrics.known_sources(settings.sources)
    metrics.known_channels(settings.alerts.channels)

    def migrate() -> None:
        migrate_if_behind(engine, url=url)  # a cheap revision read when nothing is due

    daemon = Daemon(settings, okrs, engine, elector=elector, metrics=metrics, clock=clock, migrate=migrate)
    reader = SourceHealthReader(
        engine, list(settings.sources), interval=daemon.interval, started_at=clock(), clock=clock
    )
    metrics.watch_sources(reader)
    server = StatusServer(
        host=settings.server.host,
        port=settings.server.port,
        health=health_probe(reader, daemon.role),
        live=daemon.heartbeat.probe,
        metrics=metrics,
        token=settings.server.token,
        pages=LivePages(settings, okrs, engine, clock=clock),
    )
    previous = {sig: signal.signal(sig, daemon.request_shutdown) for sig in (signal.SIGTERM, signal.SIGINT)}
    server.start()
    try:
        daemon.run()
    finally:
        server.stop()
        elector.release()  # run() released it already unless it raised; releasing is idempotent
        engine.dispose()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return daemon.stopped_by
