"""Prometheus metrics of the daemon: what each cycle did, and how fresh each source is.

A registry of its own (not prometheus-client's global one), so a process, or a test, can hold
several without names clashing. Counters and the cycle histogram are fed by `record_cycle`
on the leader; the per-source freshness gauges are read from the database at scrape time
(`SourceStates`), so a follower, or a leader just restarted, reports the same truth.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from okrsync.engine import CycleReport

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
            "Delivery attempts of alerts to channels, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.is_leader = Gauge(
            "okrsync_is_leader",
            "1 while this process is the leader (polls and delivers), else 0.",
            registry=self.registry,
        )
        for outcome in DELIVERY_OUTCOMES:
            self.deliveries.labels(outcome=outcome)  # exported at 0 before the first alert

    def watch_sources(self, read: Callable[[], Iterable[SourceHealth]]) -> None:
        """Export per-source freshness, read by `read()` at each scrape."""
        self.registry.register(SourceStates(read))

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
        for name in DELIVERY_OUTCOMES:
            count = getattr(report.delivery, name)
            if count:
                self.deliveries.labels(outcome=name).inc(count)

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)
