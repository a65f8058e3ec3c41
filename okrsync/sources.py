"""Make a poller for each configured source: a registry from `kind` to a factory.

A poller is anything with `name`, `poll(cursor, known, *, now) -> PollRun` and
`count(query) -> int`; the engine drives them all the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from connectors.github import GitHubAuth, GitHubPoller, KnownIssues, PollRun, make_github
from okrsync.okrs import OkrSet


class Poller(Protocol):
    name: str

    def poll(self, cursor: dict[str, Any], known: KnownIssues, *, now: datetime) -> PollRun: ...

    def count(self, query: str) -> int: ...


def mapped_containers(okrs: OkrSet, source: str) -> set[str]:
    """List the repos or projects the mappings link to for `source`."""
    found = set()
    for kr in okrs.key_results.values():
        for link in kr.links:
            if link.source == source and link.kind == "github_milestone":
                found.add(link.target)
    return found


def _github(source: Any, okrs: OkrSet) -> Poller:
    auth = GitHubAuth(
        token=source.token,
        app_id=source.app_id,
        app_private_key=source.app_private_key,
        installation_id=source.installation_id,
    )
    github = make_github(
        base_url=source.base_url,
        auth=auth,
        timeout=source.timeout,
        max_rate_limit_wait=source.max_rate_limit_wait,
        per_page=source.per_page,
    )
    repos = set(source.repos) | mapped_containers(okrs, source.name)
    return GitHubPoller(
        source.name,
        github,
        repos=sorted(repos),
        overlap=timedelta(seconds=source.overlap_seconds),
        per_page=source.per_page,
    )


FACTORIES: dict[str, Callable[[Any, OkrSet], Poller]] = {"github": _github}


def make_poller(source: Any, okrs: OkrSet) -> Poller:
    """Build the poller for one configured source."""
    return FACTORIES[source.kind](source, okrs)
