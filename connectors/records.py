"""Plain records every connector returns; the engine stores them and the roll-up reads them."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, NamedTuple, Protocol

from connectors.progress import PollProgress

IssueStatus = Literal["open", "done", "excluded"]


def storable(text: str) -> str:
    """Make tracker text storable on every engine: drop NUL, replace lone surrogates.

    PostgreSQL refuses a NUL in text and SQLite's driver cannot encode a lone surrogate
    (`\ud800`, which JSON allows); one such title used to stop the whole source, every
    cycle. Nearly every text is clean ASCII, which costs one C-speed check.
    """
    if text.isascii():
        return text.replace("\x00", "") if "\x00" in text else text
    cleaned = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return cleaned.replace("\x00", "")


MilestoneKind = Literal["github_milestone", "jira_version", "jira_epic", "jira_jql"]


@dataclass(frozen=True)
class MilestoneRecord:
    """A milestone, fix version or epic as the tracker reports it.

    `key` is stable and unique within a source: `acme/web#12` for a GitHub milestone,
    `jira:ONB/2.0` for a version, `jira:ONB-12` for an epic (SPEC §4).
    GitHub reports a due *timestamp* (`due_at`); Jira a due *day* (`due_day`). The engine turns
    both into one calendar day with `okrsync.days.due_day`.
    """

    key: str
    kind: MilestoneKind
    container: str  # repo "acme/web" or Jira project "ONB"
    title: str
    state: Literal["open", "closed"]
    url: str | None = None
    number: int | None = None
    description: str = ""
    due_at: datetime | None = None
    due_day: date | None = None
    updated_at: datetime | None = None
    open_issues: int | None = None
    closed_issues: int | None = None
    labels: tuple[str, ...] = ()


class IssueRecord(NamedTuple):
    """An issue (or pull request) with its state already classified as open, done or excluded.

    A named tuple, not a frozen dataclass: a first sync makes one per issue in a helper process
    and sends it to the store's (`connectors.forked`). A tuple is built without a `__setattr__`
    per field and pickles as its values: per Jira page of 100 issues, classifying went from
    0.96 to 0.74–0.78 ms and reading the pickle back from 0.40 to 0.16 ms (issue 9).
    """

    key: str  # "acme/web#231" or "ONB-231"
    container: str
    title: str
    status: IssueStatus
    updated_at: datetime
    url: str | None = None
    number: int | None = None
    is_pull_request: bool = False
    is_subtask: bool = False
    labels: tuple[str, ...] = ()
    assignee: str | None = None
    points: float | None = None
    done_at: datetime | None = None
    milestone_keys: tuple[str, ...] = ()
    node_id: str | None = None  # GitHub's global id: it survives a transfer, the key does not
    in_progress: bool = False  # open and started, as the tracker says (Jira: status category indeterminate)


@dataclass
class Batch:
    """A slice of one poll, written by the engine as it arrives so a poll never holds the org.

    `complete` lists (container, kind) pairs — a repo's GitHub milestones, a project's Jira
    versions — whose list in this batch is complete: stored milestones of that container and
    kind that are not in it no longer exist. `removed_milestones` names others that are gone
    (an epic found deleted).
    """

    milestones: list[MilestoneRecord] = field(default_factory=list)
    complete: list[tuple[str, MilestoneKind]] = field(default_factory=list)
    issues: list[IssueRecord] = field(default_factory=list)
    removed_issues: list[str] = field(default_factory=list)
    removed_milestones: list[str] = field(default_factory=list)


class KnownIssues(Protocol):
    """What the store knows of a milestone's issues; the engine provides it."""

    def milestone_counts(self, container: str, milestone_keys: Sequence[str]) -> dict[str, tuple[int, int]]:
        """Return (open, closed) stored issues per milestone of a repo, pull requests included."""
        ...

    def milestone_issue_keys(self, milestone_key: str) -> set[str]:
        """Return the keys of the stored issues in the milestone."""
        ...

    def issue_keys(self, container: str) -> set[str]:
        """Return the keys of every stored issue of a repo or project."""
        ...

    def node_ids(self, container: str) -> dict[str, str | None]:
        """Return the node id (None where unknown) of every stored issue of a repo, by key."""
        ...

    def keys_by_node_id(self, node_ids: Collection[str]) -> dict[str, set[str]]:
        """Return the stored keys holding each of these node ids (the ones stored at all)."""
        ...


@dataclass
class PollRun:
    """One poll in progress: iterate `batches()`, then read `cursor` (complete only then)."""

    cursor: dict[str, Any]
    requests: int = 0
    not_modified: int = 0
    rate_remaining: int | None = None
    complete: bool = False
    progress: PollProgress = field(default_factory=PollProgress)
    _batches: Iterator[Batch] = field(default_factory=lambda: iter(()))

    def batches(self) -> Iterator[Batch]:
        yield from self._batches
        self.complete = True

    def close(self) -> None:
        """Stop the poll where it is (its helper threads, if any, stop at their next page)."""
        close = getattr(self._batches, "close", None)
        if close is not None:
            close()

    def add(self, other: PollRun) -> None:
        """Count another run's requests into this one (a fetch done on a helper thread)."""
        self.requests += other.requests
        self.not_modified += other.not_modified
        if other.rate_remaining is not None:
            self.rate_remaining = other.rate_remaining
