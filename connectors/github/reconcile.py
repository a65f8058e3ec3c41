"""Reconcile a repo's stored issues with its full issue list: what `updated since` cannot show.

The incremental feed (issues updated since a cursor, newest first) never shows a deletion or a
transfer, and an issue deleted while a first sync pages shifts an older one onto a page already
read, which is then never fetched. So at most once per `deleted_check_interval` each repo's
issue list is read in full and diffed against the store (issue 15):

- The list is `state=all&sort=created&direction=asc&per_page=100&page=N`. Oldest first, a new
  issue only changes the last page. Each page is a conditional request with the ETag stored
  for that page number, so an unchanged repo costs only 304s, which cost no rate limit. A 304
  means "the body you read last time", so the issue numbers of that body are kept beside its
  ETag in the repo's cursor, as runs (`[[1, 100]]`: a page of consecutive numbers is 2 ints).
  The walk ends at the first page shorter than a full one (after a full last page, the empty
  page that follows is asked for too, and is itself a 304 next time).
- A stored issue missing from the list is fetched: 404 or 410 removes it; a 301 (PyGithub
  follows it, and `repository_url` names the new repo) stores it under its new key and removes
  the old one; a 200 means the walk missed it (an issue deleted meanwhile shifted it onto a page
  already read) and it is stored as fetched.
- An issue in the list and not in the store is stored from the list page's JSON, which is the
  full issue: no extra request. (A page answered 304 sent no JSON: when the store lacks one
  of its issues, the page is read again unconditionally, one point rather than a GET each.)
  Issues the store already has are left to the incremental feed, which sees every edit;
  re-writing them all would double the cost of a first sync's reconcile for nothing.
  A stored issue without a node id (stored before okrsync kept them) is refreshed from the
  page too, so its transfer can be recognised later.
- More than 100 stored issues missing at once, and over half the repo, is what a lost
  permission or a wrong answer looks like, not a mass deletion (the same guard as Jira's):
  nothing is removed, a warning says why, and the page ETags are dropped so the next check
  lists again (and warns again) instead of trusting the 304s of a list it did not accept.

`drop_moved` sees a transfer from the other end: a listed or fetched issue whose node id
(GitHub keeps it across a transfer) is stored under another key removes that old copy in the
same batch, whichever repo is polled first.

The repo's cursor gets `reconcile_pages` ([etag, runs] per page) and `reconciled_at`; the
source's cursor gets `reconciled_at`, the oldest of its repos' (`status --json` shows it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from connectors.github.records import issue_record, parse_time, repo_of, utc_text
from connectors.records import Batch, IssueRecord, KnownIssues, PollRun
from okrsync.errors import SourceError

logger = logging.getLogger(__name__)

# More missing keys than this, and over half the repo: a permission problem, not deletions.
MAX_UNCONFIRMED = 100

GetPage = Callable[[str, dict[str, Any] | None, dict[str, str] | None], tuple[dict[str, Any], Any]]
FetchIssue = Callable[[str], IssueRecord | None]


@dataclass(frozen=True)
class Reconciler:
    """Reconcile repos through one poll's request helpers.

    `get` is the poller's `_request` bound to the run (None data on 304), `fetch_issue` its
    `_fetch_issue` (None on 404/410, the new home's record after a 301).
    """

    source: str
    run: PollRun
    get: GetPage
    fetch_issue: FetchIssue
    interval: timedelta
    per_page: int = 100

    def due(self, state: Mapping[str, Any], *, now: datetime) -> bool:
        """Say whether the repo's last reconcile is at least an interval old (or never was)."""
        last = parse_time(state.get("reconciled_at"))
        return last is None or now - last >= self.interval

    def reconcile(
        self, repo: str, state: dict[str, Any], known: KnownIssues, *, now: datetime
    ) -> Iterator[Batch]:
        """List `repo`'s issues in full when due, and settle every difference with the store."""
        if not self.due(state, now=now):
            return
        stored = known.node_ids(repo)
        walk = _Walk(stored=stored)
        yield from self._walk(repo, state.get("reconcile_pages") or [], walk)
        missing = sorted(set(stored) - walk.listed)
        if len(missing) > MAX_UNCONFIRMED and len(missing) * 2 > len(stored):
            logger.warning(
                "source %s: the issue list of %s lacks %d of %d stored issues; not removing them "
                "(check that the token may still read the repo)",
                self.source,
                repo,
                len(missing),
                len(stored),
                extra={"source": self.source},
            )
            walk.pages = []  # list afresh next time rather than trust 304s of a rejected list
        elif missing:
            yield self._settle(repo, missing)
        state["reconcile_pages"] = walk.pages
        state["reconciled_at"] = utc_text(now)

    def _walk(self, repo: str, kept: list[list[Any]], walk: _Walk) -> Iterator[Batch]:
        """Page the full list oldest first, each page conditional on the ETag kept for it."""
        url = f"/repos/{quote(repo, safe='/')}/issues"
        previous: list[int] | None = None
        number = 0
        while True:
            number += 1
            params = {"state": "all", "sort": "created", "direction": "asc", "per_page": self.per_page}
            params["page"] = number
            old = kept[number - 1] if number <= len(kept) else None
            etag = old[0] if old else None
            headers, data = self.get(url, params, {"If-None-Match": etag} if etag else None)
            if data is None and old is not None:  # 304: the body read last time
                self.run.not_modified += 1
                numbers = _numbers(old[1])
                keys = [f"{repo}#{n}" for n in numbers]
                if all(key in walk.stored for key in keys):
                    walk.pages.append(old)
                else:  # the store lacks some: one read of the page beats a GET for each
                    headers, data = self.get(url, params, None)
            if data is not None or old is None:  # a 200 (a 304 to an unconditional GET: an error)
                page = self._page(url, data)
                numbers = sorted(int(raw["number"]) for raw in page)
                walk.pages.append([headers.get("etag"), _runs(numbers)])
                keys = [f"{repo_of(raw, repo)}#{raw['number']}" for raw in page]
                # New to the store, or stored before node ids were kept: the page has them whole.
                fresh = [
                    issue_record(raw, repo)
                    for raw, key in zip(page, keys, strict=True)
                    if walk.stored.get(key) is None
                ]
                if fresh:
                    yield Batch(issues=fresh)
            if numbers and numbers == previous:
                raise SourceError(self.source, f"GET {url} repeated page {number - 1}", retriable=True)
            previous = numbers
            walk.listed.update(keys)
            if len(numbers) < self.per_page:
                return

    def _page(self, url: str, data: Any) -> list[dict[str, Any]]:
        if not isinstance(data, list):
            msg = f"GET {url} answered {type(data).__name__}, expected a JSON list"
            raise SourceError(self.source, msg, retriable=True)
        return data

    def _settle(self, repo: str, missing: list[str]) -> Batch:
        """Fetch each stored issue missing from the list: gone, moved, or missed by the walk."""
        batch = Batch()
        gone: list[str] = []
        moved: list[str] = []
        for key in missing:
            fetched = self.fetch_issue(key)
            if fetched is None:
                gone.append(key)
            elif fetched.key != key:  # transferred: PyGithub followed the 301 to its new home
                batch.issues.append(fetched)
                moved.append(key)
            else:  # the walk missed it: a deletion meanwhile shifted it onto a page already read
                batch.issues.append(fetched)
        batch.removed_issues = gone + moved
        if gone or moved:
            logger.info(
                "source %s: reconciled %s: %d deleted, %d transferred: %s",
                self.source,
                repo,
                len(gone),
                len(moved),
                ", ".join((gone + moved)[:10]),
                extra={"source": self.source},
            )
        return batch


@dataclass
class _Walk:
    """What one reconcile's walk has seen so far."""

    stored: dict[str, str | None]  # key -> node id, as the store had them before the walk
    listed: set[str] = field(default_factory=set)
    pages: list[list[Any]] = field(default_factory=list)  # [etag, runs] per page, for next time


def drop_moved(batch: Batch, known: KnownIssues, *, source: str) -> Batch:
    """Remove, in the same batch, the stored copy of each issue now seen under another key.

    GitHub keeps an issue's node id when it is transferred; its key (`repo#number`) changes.
    So a node id already stored under a different key is the issue's old copy, and keeping it
    would count the issue twice (issue 15).
    """
    holders = {r.node_id: r.key for r in batch.issues if r.node_id}
    if not holders:
        return batch
    stale: set[str] = set()
    for node_id, keys in known.keys_by_node_id(holders).items():
        stale |= keys - {holders[node_id]}
    stale -= {r.key for r in batch.issues} | set(batch.removed_issues)
    if not stale:
        return batch
    logger.info(
        "source %s: transferred, removing the old copies: %s",
        source,
        ", ".join(sorted(stale)),
        extra={"source": source},
    )
    return replace(batch, removed_issues=[*batch.removed_issues, *sorted(stale)])


def oldest_reconcile(repos: Mapping[str, Mapping[str, Any]], polled: Collection[str]) -> str | None:
    """Return when the least recently reconciled of `polled` was reconciled; None if one never was."""
    times = [parse_time(repos.get(repo, {}).get("reconciled_at")) for repo in polled]
    known = [t for t in times if t is not None]
    if not polled or len(known) < len(times):
        return None
    return utc_text(min(known))


def _runs(numbers: list[int]) -> list[list[int]]:
    """Compress issue numbers into runs of consecutive ones: [1..100] becomes [[1, 100]]."""
    runs: list[list[int]] = []
    for n in sorted(numbers):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return runs


def _numbers(runs: list[list[int]]) -> list[int]:
    return [n for low, high in runs for n in range(low, high + 1)]
