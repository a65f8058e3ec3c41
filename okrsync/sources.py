"""Make a poller for each configured source: a registry from `kind` to a factory.

A poller is anything with `name`, `poll(cursor, known, *, now) -> PollRun` and
`count(query) -> int`; the engine drives them all the same way.

Each factory imports its connector itself: PyGithub and `jira` (with requests, and PyGithub's
JWT and crypto stack) take a noticeable share of a short command's start, so a GitHub-only
install never loads `jira`, and commands that poll nothing load neither.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from connectors.records import KnownIssues, PollRun
from okrsync.okrs import OkrSet

if TYPE_CHECKING:
    from connectors.jira import JqlSet


class Poller(Protocol):
    name: str

    def poll(self, cursor: dict[str, Any], known: KnownIssues, *, now: datetime) -> PollRun: ...

    def count(self, query: str) -> int: ...

    def field_values(self, query: str, field: str) -> list[float]: ...


def mapped_containers(okrs: OkrSet, source: str) -> set[str]:
    """List the repos or projects the mappings link to for `source`."""
    found = set()
    for kr in okrs.key_results.values():
        for link in kr.links:
            if link.source == source and link.kind == "github_milestone":
                found.add(link.target)
    return found


def _github(source: Any, okrs: OkrSet, *, ca_bundle: Path | None) -> Poller:
    from connectors.github import GitHubAuth, GitHubPoller, make_github

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
        ca_bundle=str(ca_bundle) if ca_bundle is not None else None,
    )
    repos = set(source.repos) | mapped_containers(okrs, source.name)
    return GitHubPoller(
        source.name,
        github,
        repos=sorted(repos),
        overlap=timedelta(seconds=source.overlap_seconds),
        per_page=source.per_page,
        concurrency=source.concurrency,
        deleted_check_interval=timedelta(seconds=source.deleted_check_interval),
    )


def jira_projects(okrs: OkrSet, source: str) -> set[str]:
    """List the Jira projects the mappings name for `source` (`ONB/2.0` and `ONB-12` → ONB)."""
    found = set()
    for kr in okrs.key_results.values():
        for link in kr.links:
            if link.source != source:
                continue
            if link.kind == "jira_version":
                found.add(link.target.split("/", 1)[0])
            elif link.kind == "jira_epic":
                found.add(link.target.rsplit("-", 1)[0])
    return found


def jql_sets(okrs: OkrSet, source: str) -> list[JqlSet]:
    """List the JQL sets the mappings define for `source`, one per title (the milestone key)."""
    from connectors.jira import JqlSet

    found: dict[str, JqlSet] = {}
    for kr in okrs.key_results.values():
        for link in kr.links:
            if link.source == source and link.kind == "jira_jql" and link.title is not None:
                found.setdefault(link.title, JqlSet(title=link.title, jql=link.target, due=link.due))
    return list(found.values())


def _jira(source: Any, okrs: OkrSet, *, ca_bundle: Path | None) -> Poller:
    from connectors.jira import JiraPoller

    return JiraPoller(
        source.name,
        url=source.url,
        email=source.email,
        token=source.token,
        projects=sorted(set(source.projects) | jira_projects(okrs, source.name)),
        jql_sets=jql_sets(okrs, source.name),
        story_points_field=source.story_points_field,
        excluded_resolutions=source.excluded_resolutions,
        include_subtasks=source.include_subtasks,
        timeout=source.timeout,
        overlap=timedelta(seconds=source.overlap_seconds),
        max_rate_limit_wait=source.max_rate_limit_wait,
        deleted_check_interval=timedelta(seconds=source.deleted_check_interval),
        concurrency=source.concurrency,
        ca_bundle=str(ca_bundle) if ca_bundle is not None else None,
    )


FACTORIES: dict[str, Callable[..., Poller]] = {"github": _github, "jira": _jira}


def make_poller(source: Any, okrs: OkrSet, *, ca_bundle: Path | None = None) -> Poller:
    """Build the poller for one configured source; `ca_bundle` is `[http] ca_bundle`."""
    return FACTORIES[source.kind](source, okrs, ca_bundle=ca_bundle)
