"""Turn GitHub's raw issue and milestone JSON into okrsync's plain records."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from typing import Any

from connectors.records import IssueRecord, IssueStatus, MilestoneRecord, storable

_POINTS_LABEL = re.compile(r"^points?\s*[:=]\s*(\d+(?:\.\d+)?)$", re.IGNORECASE)
_EXCLUDED_REASONS = {"not_planned", "duplicate"}


def utc_text(moment: datetime) -> str:
    """Format as GitHub writes times, UTC with `Z` (PyGithub drops a non-UTC offset, SPEC §6)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str | None) -> datetime | None:
    """Parse GitHub's `2026-11-20T08:00:00Z` into an aware datetime."""
    return datetime.fromisoformat(value) if value else None


def issue_status(raw: dict[str, Any]) -> IssueStatus:
    """Classify an issue (SPEC §2): closed as completed (or with no reason) is done;
    closed as not planned or duplicate is excluded; anything else is open."""
    if raw.get("state") != "closed":
        return "open"
    return "excluded" if raw.get("state_reason") in _EXCLUDED_REASONS else "done"


def points_from_labels(labels: tuple[str, ...]) -> float | None:
    """Read an estimate from a `points:3` label (the first one wins)."""
    for label in labels:
        match = _POINTS_LABEL.match(label.strip())
        if match:
            return float(match.group(1))
    return None


def repo_of(raw: dict[str, Any], fallback: str) -> str:
    """Name the issue's repo from its `repository_url` (it changes when an issue is transferred)."""
    url = raw.get("repository_url") or ""
    return _repo_from_url(url) or fallback


@functools.lru_cache(maxsize=1024)
def _repo_from_url(url: str) -> str | None:
    # Every issue of a page carries the same URL: parse it once.
    parts = url.rstrip("/").split("/")
    if len(parts) >= 2 and "repos" in parts:
        return "/".join(parts[-2:])
    return None


def milestone_key(repo: str, number: int) -> str:
    return f"{repo}#{number}"


def issue_record(raw: dict[str, Any], repo: str) -> IssueRecord:
    """Make an IssueRecord; a pull request is recognised by its raw `pull_request` key.

    Old API answers carry `pull_request` with null URLs on every issue, so only a key with a
    non-null `url` (or `html_url`) marks a pull request.
    """
    repo = repo_of(raw, repo)
    labels = tuple(storable(str(label.get("name", ""))) for label in raw.get("labels") or ())
    pull = raw.get("pull_request")
    is_pr = isinstance(pull, dict) and bool(pull.get("url") or pull.get("html_url"))
    status = issue_status(raw)
    milestone = raw.get("milestone")
    assignee = raw.get("assignee") or next(iter(raw.get("assignees") or []), None)
    return IssueRecord(
        key=f"{repo}#{raw['number']}",
        container=repo,
        number=int(raw["number"]),
        title=storable(str(raw.get("title") or "")),
        url=raw.get("html_url"),
        status=status,
        updated_at=parse_time(raw.get("updated_at")) or parse_time(raw.get("created_at")),  # type: ignore[arg-type]
        is_pull_request=is_pr,
        labels=labels,
        assignee=storable(str(assignee.get("login"))) if isinstance(assignee, dict) else None,
        points=points_from_labels(labels) if labels else None,
        done_at=parse_time(raw.get("closed_at")) if status == "done" else None,
        milestone_keys=(milestone_key(repo, int(milestone["number"])),) if milestone else (),
        node_id=raw.get("node_id") or None,
    )


def milestone_record(raw: dict[str, Any], repo: str, *, html_base: str) -> MilestoneRecord:
    """Make a MilestoneRecord; old answers lack `html_url`, so build it the way GitHub does."""
    number = int(raw["number"])
    url = raw.get("html_url") or f"{html_base.rstrip('/')}/{repo}/milestone/{number}"
    return MilestoneRecord(
        key=milestone_key(repo, number),
        kind="github_milestone",
        container=repo,
        title=storable(str(raw.get("title") or "")),
        state="closed" if raw.get("state") == "closed" else "open",
        url=url,
        number=number,
        description=storable(str(raw.get("description") or "")),
        due_at=parse_time(raw.get("due_on")),
        updated_at=parse_time(raw.get("updated_at")),
        open_issues=raw.get("open_issues"),
        closed_issues=raw.get("closed_issues"),
    )
