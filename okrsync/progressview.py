"""Show a long poll's progress: a Rich bar per source on a terminal, a log line elsewhere (SPEC §4).

A first sync of 30,000 issues takes minutes. On a terminal each source gets a bar with its
repos or projects done of total, the issues fetched, the rate limit left and an estimate of
the time left. Off a terminal (cron, CI, `okrsync run` under a service manager) a bar is
noise, so a plain log line says the same at most every `OKRSYNC_PROGRESS_EVERY` seconds
(default 5; the first after that long, so a quick sync prints none):

    progress: github: 3/10 repos, 12,300 issues fetched, rate limit 4,100 left, about 1m 40s left

The estimate follows the tracker's own issue count when it gives one (Jira Data Center),
else the share of repos or projects done — rough while repos differ in size, and honest
about it: none is shown before the first unit is done.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console

from okrsync.engine import ProgressHook, SourceProgress

logger = logging.getLogger(__name__)

EVERY_ENV = "OKRSYNC_PROGRESS_EVERY"
DEFAULT_EVERY = 5.0


def share_done(p: SourceProgress) -> float | None:
    """Say how much of the poll is done, 0..1, or None when nothing can tell yet."""
    if p.expected_issues:
        return min(1.0, p.issues / p.expected_issues)
    if p.total:
        return p.done / p.total
    return None


def seconds_left(p: SourceProgress, *, elapsed: float) -> float | None:
    """Estimate the time left from the share done so far; None before any share is done."""
    share = share_done(p)
    if share is None or share <= 0:
        return None
    return elapsed * (1 - share) / share


def duration_words(seconds: float) -> str:
    """Write a duration the way people read an estimate: `45s`, `3m 05s`, `1h 12m`."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def describe(p: SourceProgress, *, left: float | None) -> str:
    """One line for a source: units done of total, issues, rate limit left, estimate."""
    parts = [f"{p.name}: {p.done}/{p.total} {p.unit}" if p.total is not None else p.name]
    issues = f"{p.issues:,} issues fetched"
    if p.expected_issues:
        issues += f" of {p.expected_issues:,}"
    parts.append(issues)
    if p.rate_remaining is not None:
        parts.append(f"rate limit {p.rate_remaining:,} left")
    if left is not None:
        parts.append(f"about {duration_words(left)} left")
    return ", ".join(parts)


def every_from_env() -> float:
    """Read `OKRSYNC_PROGRESS_EVERY` (seconds between lines); a bad value keeps the default."""
    text = os.environ.get(EVERY_ENV, "").strip()
    try:
        every = float(text) if text else DEFAULT_EVERY
    except ValueError:
        logger.warning("%s=%r: expected a number of seconds; using %g", EVERY_ENV, text, DEFAULT_EVERY)
        return DEFAULT_EVERY
    return max(0.0, every)


class LogProgress:
    """Off a terminal: a log line at most every `every` seconds, the first after `every` seconds."""

    def __init__(self, *, every: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.every = every
        self.clock = clock
        self.last = clock()
        self.started: dict[str, float] = {}

    def __call__(self, p: SourceProgress) -> None:
        now = self.clock()
        started = self.started.setdefault(p.name, now)
        if now - self.last < self.every:
            return
        self.last = now
        logger.info("progress: %s", describe(p, left=seconds_left(p, elapsed=now - started)))


class BarProgress:
    """On a terminal: a Rich progress bar per source, updated as the connector reports."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar
        self.tasks: dict[str, Any] = {}

    def __call__(self, p: SourceProgress) -> None:
        if p.name not in self.tasks:
            self.tasks[p.name] = self.bar.add_task(p.name, total=None, units="", issues="", rate="")
        if p.expected_issues:
            total, completed = float(p.expected_issues), float(min(p.issues, p.expected_issues))
        elif p.total:
            total, completed = float(p.total), float(p.done)
        else:
            total, completed = None, 0.0
        self.bar.update(
            self.tasks[p.name],
            total=total,
            completed=completed,
            units=f"{p.done}/{p.total} {p.unit}" if p.total is not None else "",
            issues=f"{p.issues:,} issues" + (f" of {p.expected_issues:,}" if p.expected_issues else ""),
            rate=f"rate limit {p.rate_remaining:,} left" if p.rate_remaining is not None else "",
        )


@contextmanager
def progress_hook(console: Console) -> Iterator[ProgressHook]:
    """Yield the hook that shows progress on `console`: bars on a terminal, log lines elsewhere."""
    if not console.is_terminal:
        yield LogProgress(every=every_from_env())
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[units]}"),
        TextColumn("{task.fields[issues]}"),
        TextColumn("{task.fields[rate]}", style="dim"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        yield BarProgress(bar)
