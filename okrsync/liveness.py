"""Liveness apart from health: is the daemon's loop still turning, whatever the trackers do?

`/healthz` answers about the sources (a GitHub outage makes it 503), which is right for a
readiness probe and for monitors, and wrong for a liveness probe: restarting the container
cannot fix GitHub, and a restart loop during an outage only loses the backoff state. `/livez`
answers only "is the loop stuck?", so an orchestrator restarts okrsync when a restart can help.

The loop beats its `Heartbeat` at every step (a lock check, one source's poll, the end of a
cycle) and at every page a poll writes; when idle it steps at least every half interval (the
lock check). So a loop that has not beaten within `LIVE_WITHIN_INTERVALS` intervals is stuck:
a request that hangs past any sane timeout, a deadlock, a database that never answers. A long
first sync is not stuck, since its pages keep beating. Time is `time.monotonic()`, so a clock
step (NTP, daylight saving) never reads as a stall.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

LIVE_WITHIN_INTERVALS = 2


class Heartbeat:
    """The loop's last sign of life, written by the loop and read by the HTTP server's threads."""

    def __init__(self, *, interval: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._interval = interval
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._last = monotonic()  # the process start counts: the first step may migrate a while

    def beat(self) -> None:
        """Record that the loop is turning."""
        now = self._monotonic()
        with self._lock:
            self._last = now

    def probe(self) -> tuple[int, dict[str, Any]]:
        """Build the /livez answer: 200 "ok" while the loop beat within two intervals, else 503."""
        with self._lock:
            last = self._last
        age = max(0.0, self._monotonic() - last)
        limit = LIVE_WITHIN_INTERVALS * self._interval
        alive = age <= limit
        document = {
            "status": "ok" if alive else "stuck",
            "last_tick_seconds_ago": round(age, 1),
            "stuck_after_seconds": limit,
        }
        return (200 if alive else 503), document
