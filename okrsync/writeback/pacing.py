"""Pace writes and wait out rate limits, on an injectable clock so tests never sleep.

GitHub asks integrations to make content-creating requests "at most one a second" and to wait
`Retry-After` seconds after a secondary limit (docs: "Best practices for using the REST API",
and "Rate limits for the REST API": secondary limits). Jira Cloud answers 429 with
`Retry-After` too. A write-back is never urgent, so it keeps to that pace and waits out a
limit, but only up to the source's `max_rate_limit_wait`: past it the write-back stops for this
cycle and is retried at the next one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Pacer:
    """Space writes at least `min_interval` seconds apart; wait out limits up to `max_wait`."""

    min_interval: float
    max_wait: float
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _last_write: float | None = field(default=None, init=False)

    def before_write(self) -> None:
        """Wait, if needed, so this write comes `min_interval` after the previous one."""
        if self._last_write is not None:
            wait = self._last_write + self.min_interval - self.monotonic()
            if wait > 0:
                self.sleep(wait)
        self._last_write = self.monotonic()

    def wait_out(self, seconds: float) -> bool:
        """Wait `seconds` for a limit to lift, if within `max_wait`; say whether it waited."""
        if seconds > self.max_wait:
            return False
        if seconds > 0:
            self.sleep(seconds)
        return True
