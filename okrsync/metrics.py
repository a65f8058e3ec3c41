"""Prometheus metrics of the daemon: what each cycle did, how fresh each source is, where each KR stands.

A registry of its own (not prometheus-client's global one), so a process, or a test, can hold
several without names clashing; the standard `process_*` and `python_*` collectors, which the
library puts on its global registry, are registered on it too, with `okrsync_build_info`.
Counters and the cycle histogram are fed by `record_cycle` on the leader; the per-source
freshness gauges are read from the database at scrape time (`SourceStates`), so a follower,
or a leader just restarted, reports the same truth.

The per-KR gauges (`okrsync_kr_progress{kr,objective,owner}`, `okrsync_kr_expected_progress{kr}`,
`okrsync_kr_status{kr,status}`) are what teams chart and alert on in Grafana. They hold the
latest roll-up (`record_rollup`, after each cycle's roll-up) as one snapshot that is replaced
whole, so a KR removed from the mappings disappears instead of freezing at its last value.
The status is one series per possible status, 1 for the current one and 0 for the others
(the "enum as gauges" pattern), so `okrsync_kr_status{status="off_track"} == 1` is an alert
rule and `sum by (status)` counts KRs per status. A follower, which rolls nothing up, exports
no KR series.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import get_args

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from okrsync import __version__
from okrsync.engine import CycleReport
from okrsync.okrs import OkrSet
from okrsync.rollup import Rollup, Status

logger = logging.getLogger(__name__)

DELIVERY_OUTCOMES = ("delivered", "failed", "retrying")
# Cycles run from well under a second (nothing changed) to minutes (a first sync of an org).
CYCLE_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)


@dataclass(frozen=True)
class SourceHealth:
    """One source's freshness as the database records it."""

    name: str
    last_success: datetime | None
    last_error: str | None
    healthy: bool


class SourceStates(Collector):
    """Expose per-source freshness at scrape time, from whatever `read()` finds in the database."""

    def __init__(self, read: Callable[[], Iterable[SourceHealth]]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        last = GaugeMetricFamily(
            "okrsync_source_last_success_timestamp_seconds",
            "Unix time of the source's last successful poll.",
            labels=["source"],
        )
        healthy = GaugeMetricFamily(
            "okrsync_source_healthy",
            "1 when the source had a successful poll within three intervals, else 0.",
            labels=["source"],
        )
        try:
            states = list(self._read())
        except Exception:  # a scrape must not fail because the database is briefly away
            logger.warning("metrics: cannot read source state", exc_info=True)
            states = []
        for state in states:
            if state.last_success is not None:
                last.add_metric([state.name], state.last_success.timestamp())
            healthy.add_metric([state.name], 1.0 if state.healthy else 0.0)
        yield last
        yield healthy

    def describe(self) -> Iterator[Metric]:
        return iter(())  # no reads at registration time


@dataclass(frozen=True)
class KrGauge:
    """One KR's values as the latest roll-up left them."""

    kr: str
    objective: str
    owner: str
    progress: float
    expected: float
    status: str


KR_STATUSES: tuple[str, ...] = get_args(Status)


class KrStates(Collector):
    """Expose the latest roll-up's KRs; `update` replaces the whole snapshot at once."""

    def __init__(self) -> None:
        self._krs: tuple[KrGauge, ...] = ()

    def update(self, rollup: Rollup, okrs: OkrSet) -> None:
        """Take the KRs of `rollup` that the mappings still hold; the rest vanish from /metrics."""
        known = okrs.key_results
        self._krs = tuple(
            KrGauge(
                kr=kr_id,
                objective=known[kr_id].objective_id,
                owner=known[kr_id].owner,
                progress=kr.progress,
                expected=kr.expected,
                status=kr.status,
            )
            for kr_id, kr in sorted(rollup.key_results.items())
            if kr_id in known
        )

    def collect(self) -> Iterator[Metric]:
        krs = self._krs  # one read: a cycle replacing the snapshot mid-scrape is not seen half
        progress = GaugeMetricFamily(
            "okrsync_kr_progress",
            "Progress of the key result, 0 to 1, at the last roll-up.",
            labels=["kr", "objective", "owner"],
        )
        expected = GaugeMetricFamily(
            "okrsync_kr_expected_progress",
            "Elapsed share of the KR's cycle, 0 to 1: where progress should be by now.",
            labels=["kr"],
        )
        status = GaugeMetricFamily(
            "okrsync_kr_status",
            "1 for the KR's current status, 0 for the other possible statuses.",
            labels=["kr", "status"],
        )
        for kr in krs:
            progress.add_metric([kr.kr, kr.objective, kr.owner], kr.progress)
            expected.add_metric([kr.kr], kr.expected)
            for name in KR_STATUSES:
                status.add_metric([kr.kr, name], 1.0 if name == kr.status else 0.0)
        yield progress
        yield expected
        yield status

    def describe(self) -> Iterator[Metric]:
        return iter(())


class Metrics:
    """The daemon's instruments, in one registry."""

    def __init__(self) -> None:
        # The `*_created` series double the output and no okrsync dashboard needs them.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry(auto_describe=True)
        self.cycle_duration = Histogram(
            "okrsync_cycle_duration_seconds",
            "Wall time of one cycle: poll the due sources, detect, deliver.",
            buckets=CYCLE_BUCKETS,
            registry=self.registry,
        )
        self.polls = Counter(
            "okrsync_source_polls_total",
            "Polls of a source, by outcome (ok or failed).",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.requests = Counter(
            "okrsync_source_requests_total",
            "HTTP requests made to a source's tracker.",
            ["source"],
            registry=self.registry,
        )
        self.rate_remaining = Gauge(
            "okrsync_source_rate_limit_remaining",
            "Requests left in the tracker's rate-limit window, as last reported.",
            ["source"],
            registry=self.registry,
        )
        self.events = Counter(
            "okrsync_events_total",
            "Alert events recorded, by type.",
            ["type"],
            registry=self.registry,
        )
        self.deliveries = Counter(
            "okrsync_deliveries_total",
            "Delivery attempts of alerts to channels, by channel and outcome.",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.is_leader = Gauge(
            "okrsync_is_leader",
            "1 while this process is the leader (polls and delivers), else 0.",
            registry=self.registry,
        )
        self.build = Info("okrsync_build", "The running okrsync's version.", registry=self.registry)
        self.build.info({"version": __version__})
        self.krs = KrStates()
        self.registry.register(self.krs)
        # The library's process_* and python_* collectors live on its global registry only;
        # a private registry needs its own instances.
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)

    def watch_sources(self, read: Callable[[], Iterable[SourceHealth]]) -> None:
        """Export per-source freshness, read by `read()` at each scrape."""
        self.registry.register(SourceStates(read))

    def known_channels(self, names: Iterable[str]) -> None:
        """Export the delivery counters of every alert channel at 0 before the first alert."""
        for name in names:
            for outcome in DELIVERY_OUTCOMES:
                self.deliveries.labels(channel=name, outcome=outcome)

    def known_sources(self, names: Iterable[str]) -> None:
        """Export the request and poll counters of every source at 0 from the start."""
        for name in names:
            self.requests.labels(source=name)
            for outcome in ("ok", "failed"):
                self.polls.labels(source=name, outcome=outcome)

    def record_cycle(self, report: CycleReport, *, duration: float) -> None:
        """Count what one cycle did."""
        self.cycle_duration.observe(duration)
        for outcome in report.sources:
            self.polls.labels(source=outcome.name, outcome="ok" if outcome.ok else "failed").inc()
            self.requests.labels(source=outcome.name).inc(outcome.requests)
            if outcome.rate_remaining is not None:
                self.rate_remaining.labels(source=outcome.name).set(outcome.rate_remaining)
        for event in report.events:
            self.events.labels(type=event.type).inc()
        for (channel, result), count in report.delivery.by_channel.items():
            self.deliveries.labels(channel=channel, outcome=result).inc(count)

    def record_rollup(self, rollup: Rollup, okrs: OkrSet) -> None:
        """Replace the per-KR gauges with this roll-up's values."""
        self.krs.update(rollup, okrs)

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)
