"""Fetch the next repos while the store writes this one: a few requests in flight, bounded.

A serial poll leaves the client idle while GitHub prepares each page and GitHub idle while
the client decodes and stores it; and on a big first sync the client's own work (requests,
JSON, records) is as large as the store's. Here `concurrency` fetchers (2–4) run each
repo's `fetch_repo` in forked child processes (`connectors.forked`; threads where fork is
missing), each with a requester of its own: repo *k* goes to fetcher *k mod concurrency*, so
the fetchers work on consecutive repos at once and the caller, taking the repos in order,
reads each fetcher's items in the order it made them. What reaches the store, and when the
cursor moves, is exactly what a serial poll would give; the store's writes run on this
process's core while the fetchers use the other.

Bounds: a fetcher runs ahead by at most its pipe (about 1 MiB, some 50 pages), so memory does
not grow with the org. GitHub asks integrators to avoid concurrent requests (secondary rate
limits); two in flight is the default, four the most allowed, and each requester keeps
PyGithub's retry, which honours `Retry-After`. Closing the prefetcher (a failed or abandoned
poll) stops every fetcher where it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from connectors.forked import Produced, start_all
from connectors.records import IssueRecord, MilestoneRecord, PollRun

if TYPE_CHECKING:
    from connectors.github.poller import GitHubPoller


@dataclass
class RepoItem:
    """One step of a repo's fetch: a page of issues, or (last) its milestone list."""

    issues: list[IssueRecord] = field(default_factory=list)
    milestones: list[MilestoneRecord] | None = None


@dataclass
class RepoDone:
    """The end of a repo's fetch by a fetcher: its new cursor state and its request counts."""

    state: dict[str, Any]
    stats: PollRun


Fetched = tuple[str, RepoItem | RepoDone]


class Prefetcher:
    """Run `fetch_repo` for the given repos on `poller.concurrency` fetchers, ahead of the caller."""

    def __init__(
        self, poller: GitHubPoller, repos: Sequence[tuple[str, dict[str, Any]]], *, now: datetime
    ) -> None:
        count = max(1, min(poller.concurrency, len(repos)))
        self._fetcher_of = {repo: index % count for index, (repo, _state) in enumerate(repos)}
        shares = [[(repo, dict(state)) for repo, state in repos[index::count]] for index in range(count)]
        self._fetchers: list[Produced[Fetched]] = start_all(
            [_share_fetch(poller, share, now) for share in shares], name=f"okrsync-{poller.name}-fetch"
        )

    def take(self, repo: str) -> Iterator[RepoItem | RepoDone]:
        """Yield the repo's items as its fetcher produces them; re-raise a fetcher's failure."""
        fetcher = self._fetchers[self._fetcher_of[repo]]
        for fetched_repo, item in fetcher:
            if fetched_repo != repo:  # the caller must take the repos in the order given
                msg = f"prefetcher: expected {repo}, the fetcher is at {fetched_repo}"
                raise RuntimeError(msg)
            yield item
            if isinstance(item, RepoDone):
                return

    def close(self) -> None:
        """Stop every fetcher and drop what was fetched ahead."""
        for fetcher in self._fetchers:
            fetcher.close()


def _share_fetch(
    poller: GitHubPoller, share: list[tuple[str, dict[str, Any]]], now: datetime
) -> Callable[[], Iterator[Fetched]]:
    """Make the producer of one fetcher: its repos in order, each ended by a RepoDone."""

    def produce() -> Iterator[Fetched]:
        worker = poller.worker_copy()  # a requester of its own (PyGithub's is not shared)
        try:
            for repo, state in share:
                stats = PollRun(cursor={})
                for item in worker.fetch_repo(repo, state, stats, now=now):
                    yield repo, item
                yield repo, RepoDone(state=state, stats=stats)
        finally:
            worker.requester.close()

    return produce
