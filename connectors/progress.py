"""How far a poll has got, told by the connector that knows: the progress-callback interface.

A first sync of 200 repos or 10 projects takes minutes, and only the connector knows its
units of work and how many there are. It says so through `PollRun.progress` and knows
nothing of who listens — a Rich bar on a terminal, a periodic log line elsewhere, the
daemon's shutdown check (`okrsync.progressview`, `okrsync.daemon`).

- `begin(unit=..., total=...)` once the poll knows its work: `repos` for GitHub, `projects`
  for Jira;
- `reach(done)` as units finish (a repo's issues, milestones and reconcile; a project the
  search has moved past), never backwards;
- `expect(issues)` when the tracker says how many issues are coming (Jira Data Center's
  search `total`), for a better estimate than units alone.

`begin` and `reach` call the listener, so they are called on the thread that consumes the
poll's batches (the engine's); `expect` only records a number and may come from a helper
thread that reads pages ahead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class PollProgress:
    """A poll's units done of total, and the issues the tracker announced (when it does)."""

    unit: str = "items"
    total: int | None = None
    done: int = 0
    expected_issues: int | None = None
    listener: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    def begin(self, *, unit: str, total: int) -> None:
        """Say what the poll's units are and how many it will go through."""
        self.unit, self.total, self.done = unit, total, 0
        self._tell()

    def reach(self, done: int) -> None:
        """Say `done` units are finished (a smaller number than already said is ignored)."""
        if done > self.done:
            self.done = done if self.total is None else min(done, self.total)
            self._tell()

    def expect(self, issues: int) -> None:
        """Record how many issues the tracker says this poll will read (thread-safe: no call)."""
        self.expected_issues = issues

    def _tell(self) -> None:
        if self.listener is not None:
            self.listener()
