"""Liveness apart from health: is the daemon's loop still turning, whatever the trackers do?

`/healthz` answers about the sources (a GitHub outage makes it 503), which is right for a
readiness probe and for monitors, and wrong for a liveness probe: restarting the container
cannot fix GitHub, and a restart loop during an outage only loses the backoff state. `/livez`
answers only "is the loop stuck?", so an orchestrator restarts okrsync when a restart can help.

The loop beats its `Heartbeat` at every step (a lock check, one source's poll, the end of a
cycle), at every batch a poll writes (at least one per repo or project) and at every delivery
attempt; when idle it steps at least every half interval (the lock check). So a loop that has
not beaten within two intervals is stuck: a deadlock, a call that never returns, a database
that never answers. A long first sync is not stuck, since its batches keep beating.

One request may legitimately go longer than two short intervals without a beat: a tracker that
hangs until the request timeout, retried, then a rate-limit wait. So the limit is two
intervals or that bound (`longest_step`), whichever is longer; with the defaults (300 s
interval, 30 s timeout, 60 s wait) it is the two intervals, 600 s. A hanging or failing
tracker thus reads as unhealthy (`/healthz`), not as stuck. Time is `time.monotonic()`, so a clock step (NTP, daylight saving)
never reads as a stall.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

LIVE_WITHIN_INTERVALS = 2
REQUEST_ATTEMPTS = 3
"""Tries of one tracker request: PyGithub's first plus its two retries (connectors/github/client.py)."""
STEP_MARGIN = 5.0
"""Seconds for what else a request may spend: retry backoff, connecting, writing the batch."""


def longest_step(sources: Iterable[Any]) -> float:
    """Say how long the loop may go without a beat on one request of the slowest source: every
    try timing out, the longest rate-limit wait, and a margin (0 with no source)."""
    bounds = [REQUEST_ATTEMPTS * float(s.timeout) + float(s.max_rate_limit_wait) for s in sources]
    return max(bounds) + STEP_MARGIN if bounds else 0.0


class Heartbeat:
    """The loop's last sign of life, written by the loop and read by the HTTP server's threads."""

    def __init__(
        self, *, interval: float, grace: float = 0.0, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = max(LIVE_WITHIN_INTERVALS * interval, grace)
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._last = monotonic()  # the process start counts: the first step may migrate a while

    def beat(self) -> None:
        """Record that the loop is turning."""
        now = self._monotonic()
        with self._lock:
            self._last = now

    def probe(self) -> tuple[int, dict[str, Any]]:
        """Build the /livez answer: 200 "ok" while the loop beat within the limit, else 503 "stuck"."""
        with self._lock:
            last = self._last
        age = max(0.0, self._monotonic() - last)
        alive = age <= self.limit
        document = {
            "status": "ok" if alive else "stuck",
            "last_tick_seconds_ago": round(age, 1),
            "stuck_after_seconds": self.limit,
        }
        return (200 if alive else 503), document
