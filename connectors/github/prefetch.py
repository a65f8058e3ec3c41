"""Fetch the next repos while the store writes this one: a few requests in flight, bounded.

A serial poll leaves the client idle while GitHub prepares each page and GitHub idle while
the client decodes and stores it. Here up to `concurrency` worker threads (2–4) each run
one repo's `fetch_repo` with a requester of their own (PyGithub's requester holds one
connection and is not shared between threads), and hand its pages over through a small
queue; the caller takes the repos in order, so what reaches the store, and when the
cursor moves, is exactly what a serial poll would give.

Bounds: each repo's queue holds at most `QUEUE_PAGES` pages and at most `concurrency`
repos are fetched at once, so memory does not grow with the org. GitHub asks integrators to
avoid concurrent requests (secondary rate limits); two in flight is the default, four the
most allowed, and each requester keeps PyGithub's retry, which honours `Retry-After`.
Closing the prefetcher (a failed or abandoned poll) stops every worker at its next page;
the workers are daemon threads, so one still waiting on GitHub never delays an exit.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from connectors.ahead import put_unless_stopped
from connectors.records import IssueRecord, MilestoneRecord, PollRun

if TYPE_CHECKING:
    from connectors.github.poller import GitHubPoller

QUEUE_PAGES = 4


@dataclass
class RepoItem:
    """One step of a repo's fetch: a page of issues, or (last) its milestone list."""

    issues: list[IssueRecord] = field(default_factory=list)
    milestones: list[MilestoneRecord] | None = None


@dataclass
class RepoDone:
    """The end of a repo's fetch on a worker: its new cursor state and its request counts."""

    state: dict[str, Any]
    stats: PollRun


@dataclass
class _Failed:
    error: BaseException


class _Stopped(Exception):
    """The prefetcher was closed: a worker leaves its repo."""


class Prefetcher:
    """Run `fetch_repo` for the given repos on worker threads, ahead of the caller."""

    def __init__(
        self, poller: GitHubPoller, repos: Sequence[tuple[str, dict[str, Any]]], *, now: datetime
    ) -> None:
        self._stop = threading.Event()
        self._poller = poller
        self._queues: dict[str, queue.Queue[RepoItem | RepoDone | _Failed]] = {}
        # Workers take repos in order, so the repo the caller waits for is always being fetched.
        self._todo: queue.SimpleQueue[tuple[str, dict[str, Any]]] = queue.SimpleQueue()
        for repo, state in repos:
            self._queues[repo] = queue.Queue(maxsize=QUEUE_PAGES)
            self._todo.put((repo, dict(state)))
        # Daemon threads: a worker waiting on a slow answer must not hold up the process's exit
        # (SIGTERM mid-poll); what it fetched is dropped, and the poll rolled back, anyway.
        for index in range(min(poller.concurrency, len(repos))):
            name = f"okrsync-{poller.name}-fetch-{index}"
            threading.Thread(target=self._work, args=(now,), name=name, daemon=True).start()

    def take(self, repo: str) -> Iterator[RepoItem | RepoDone]:
        """Yield the repo's items as its worker produces them; re-raise a worker's failure."""
        pending = self._queues[repo]
        while True:
            item = pending.get()
            if isinstance(item, _Failed):
                del self._queues[repo]
                raise item.error
            yield item
            if isinstance(item, RepoDone):
                del self._queues[repo]
                return

    def close(self) -> None:
        """Stop every worker at its next page and drop what was fetched ahead."""
        self._stop.set()

    def _work(self, now: datetime) -> None:
        """Fetch repos until none is left (or the prefetcher is closed), on one connection."""
        poller = self._poller.worker_copy()
        try:
            while not self._stop.is_set():
                try:
                    repo, state = self._todo.get_nowait()
                except queue.Empty:
                    return
                self._fetch(poller, repo, state, now)
        finally:
            poller.requester.close()

    def _fetch(self, poller: GitHubPoller, repo: str, state: dict[str, Any], now: datetime) -> None:
        stats = PollRun(cursor={})
        try:
            for item in poller.fetch_repo(repo, state, stats, now=now):
                self._put(repo, item)
            self._put(repo, RepoDone(state=state, stats=stats))
        except _Stopped:
            pass
        except BaseException as exc:  # handed to the caller, who raises it in order
            try:
                self._put(repo, _Failed(exc))
            except _Stopped:
                pass

    def _put(self, repo: str, item: RepoItem | RepoDone | _Failed) -> None:
        target = self._queues.get(repo)
        if target is None or not put_unless_stopped(target, item, self._stop):
            raise _Stopped
