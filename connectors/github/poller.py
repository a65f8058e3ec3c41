"""Poll GitHub incrementally: milestones (`state=all`) and issues updated since a cursor.

How one poll of a repo works (SPEC §6):

1. Issues: `GET /repos/{repo}/issues?state=all&sort=updated&direction=desc`. The first page
   is a conditional request with the ETag stored for that exact URL. Sorted by `updated`
   newest first, any change lands on page 1, so a 304 there means nothing changed and costs
   no rate limit. The URL is pinned (no `since` after a first sync) so the ETag stays valid
   after a change too; paging stops at the first page reaching below the high-water mark of
   the `updated_at` values seen (the server's clock, so no skew) minus an overlap, so two
   issues updated in the same second at the boundary are both seen; repeats are
   de-duplicated by key downstream. A burst that needs more than a page moves the pinned
   `since` up to that mark, keeping later answers short.
2. Milestones: `GET /repos/{repo}/milestones?state=all`, also conditional.
3. Deleted issues never show up in an `updated since` list. A deletion does change its
   milestone's `open_issues`/`closed_issues` counts, so when those disagree with what the
   store holds, the milestone's issues are listed in full and each stored issue missing from
   that list is fetched: 404 or 410 removes it, a 301 (PyGithub follows it) is a transfer.
4. Issues in no milestone change no counts, and a deletion during a first sync's paging can
   hide an older issue for good; so at most once per `deleted_check_interval` (and at the end
   of a repo's first sync) the repo's whole list is diffed against the store, with
   conditional pages that cost nothing when nothing changed (`connectors/github/reconcile.py`).
5. A transfer leaves one copy: an issue whose node id is stored under another key replaces
   that old copy in the same batch (`drop_moved`).

The cursor and ETags a poll produces are handed back to the engine, which stores them in
the same transaction as the data (`PollRun.cursor`), so they never run ahead of the data.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import orjson
import requests
from github import Github, GithubException
from github.GithubException import RateLimitExceededExceedsMaxWait

from connectors.github.prefetch import Prefetcher, RepoDone, RepoItem
from connectors.github.reconcile import Reconciler, drop_moved, oldest_reconcile
from connectors.github.records import (
    issue_record,
    milestone_key,
    milestone_record,
    parse_time,
    points_from_labels,
    utc_text,
)
from connectors.net import network_problem
from connectors.records import Batch, IssueRecord, KnownIssues, MilestoneRecord, PollRun
from okrsync.errors import SourceError

_SEARCH_LIMIT = 1000  # GitHub's issue search returns at most this many results for a query

logger = logging.getLogger(__name__)


def html_base_for(base_url: str) -> str:
    """Derive the web address from the API address (api.github.com, or GHE's /api/v3)."""
    base = base_url.rstrip("/")
    if base == "https://api.github.com":
        return "https://github.com"
    return base.removesuffix("/api/v3")


class GitHubPoller:
    """Poll a set of repos of one GitHub source; knows nothing of OKRs or the database."""

    def __init__(
        self,
        name: str,
        github: Github,
        *,
        repos: Sequence[str],
        overlap: timedelta = timedelta(minutes=5),
        per_page: int = 100,
        html_base: str | None = None,
        concurrency: int = 1,
        deleted_check_interval: timedelta = timedelta(hours=1),
    ) -> None:
        self.name = name
        self.github = github
        self.requester = github.requester
        self.repos = sorted(set(repos))
        self.overlap = overlap
        self.deleted_check_interval = deleted_check_interval
        self.per_page = per_page
        self.html_base = html_base or html_base_for(github.requester.base_url)
        self.concurrency = max(1, concurrency)

    # --- the poll ----------------------------------------------------------------------------

    def poll(self, cursor: dict[str, Any], known: KnownIssues, *, now: datetime) -> PollRun:
        """Start a poll from `cursor`; nothing is requested until the batches are iterated."""
        state: dict[str, Any] = {"repos": {r: dict(v) for r, v in cursor.get("repos", {}).items()}}
        run = PollRun(cursor=state)
        run._batches = self._poll_repos(run, known, now=now)
        return run

    def _poll_repos(self, run: PollRun, known: KnownIssues, *, now: datetime) -> Iterator[Batch]:
        """Yield every repo's batches, each with the old copies of transferred issues removed (step 5)."""
        for batch in self._repo_batches(run, known, now=now):
            yield drop_moved(batch, known, source=self.name)

    def _repo_batches(self, run: PollRun, known: KnownIssues, *, now: datetime) -> Iterator[Batch]:
        """Poll every repo in order; with `concurrency` > 1 the next repos are fetched meanwhile.

        Each repo's requests (its issue pages and its milestone list) are a `fetch_repo`; the
        store is written here, on the caller's thread, in repo order, so the data and the
        cursor are committed exactly as a serial poll would. What needs the store (the count
        check, the reconcile of step 4) runs here too.
        """
        reconciler = Reconciler(
            self.name,
            run=run,
            get=functools.partial(self._request, run),
            fetch_issue=functools.partial(self._fetch_issue, run),
            interval=self.deleted_check_interval,
            per_page=self.per_page,
        )
        states = run.cursor["repos"]
        ahead = (
            Prefetcher(self, [(repo, states.setdefault(repo, {})) for repo in self.repos], now=now)
            if self.concurrency > 1 and len(self.repos) > 1
            else None
        )
        run.progress.begin(unit="repos", total=len(self.repos))
        try:
            for done, repo in enumerate(self.repos, start=1):
                state = states.setdefault(repo, {})
                listed_all = "high_water" not in state
                items = ahead.take(repo) if ahead is not None else self.fetch_repo(repo, state, run, now=now)
                for item in items:
                    if isinstance(item, RepoDone):
                        state.clear()
                        state.update(item.state)
                        run.add(item.stats)
                    elif item.milestones is None:
                        yield Batch(issues=item.issues)
                    else:
                        yield from self._settle_milestones(
                            run, repo, item.milestones, known, listed_all=listed_all
                        )
                if listed_all:
                    # A first sync just read every issue: the reconcile's clock starts here
                    # (README, "How okrsync reads GitHub"), instead of listing the repo twice.
                    state.setdefault("reconciled_at", utc_text(now))
                yield from reconciler.reconcile(repo, state, known, now=now)
                run.progress.reach(done)
            run.cursor["reconciled_at"] = oldest_reconcile(states, self.repos)
        finally:
            if ahead is not None:
                ahead.close()

    def fetch_repo(
        self, repo: str, state: dict[str, Any], run: PollRun, *, now: datetime
    ) -> Iterator[RepoItem]:
        """Request one repo's issue pages, then its milestones (None when unchanged: 304)."""
        for records in self._poll_issues(run, repo, state, now=now):
            yield RepoItem(issues=records)
        params = {"state": "all", "per_page": self.per_page}
        url = f"/repos/{_path(repo)}/milestones"
        pages = self._list(run, url, params, state, etag_key="milestones_etag")
        if pages is not None:
            milestones = [
                milestone_record(raw, repo, html_base=self.html_base) for page in pages for raw in page
            ]
            yield RepoItem(milestones=milestones)

    def worker_copy(self) -> GitHubPoller:
        """Return a poller that shares this one's settings with a requester of its own (threads)."""
        clone = copy.copy(self)
        clone.requester = self.requester.withAuth(self.requester.auth)
        return clone

    def _poll_issues(
        self, run: PollRun, repo: str, state: dict[str, Any], *, now: datetime
    ) -> Iterator[list[IssueRecord]]:
        """Page the repo's issues, newest update first, down to the cursor minus the overlap.

        The list's URL is pinned (`state["since"]`, absent for a full listing) so its stored
        ETag stays valid: a poll with nothing changed is a 304, the first one after a change
        included. Paging stops at the first page reaching below the cursor, so a change costs
        ⌈changed / 100⌉ pages whatever the pinned `since`. `since` moves up to the cursor only
        when that was not enough (a change needed a second page), keeping the answer short.
        """
        params: dict[str, Any] = {
            "state": "all",
            "sort": "updated",
            "direction": "desc",
            "per_page": self.per_page,
        }
        high_water = parse_time(state.get("high_water"))
        if state.get("since"):
            params["since"] = state["since"]
        floor = high_water - self.overlap if high_water is not None else None
        url = f"/repos/{_path(repo)}/issues"
        newest = high_water
        pages = 0
        for page in self._list(run, url, params, state, etag_key="issues_etag") or ():
            pages += 1
            records = [issue_record(raw, repo) for raw in page]
            for record in records:
                if newest is None or record.updated_at > newest:
                    newest = record.updated_at
            yield records
            if floor is not None and records and records[-1].updated_at < floor:
                break  # every later page is older still: seen before
        if newest is not None:
            # Never past the poll's start: an item stamped later is seen again next time.
            state["high_water"] = utc_text(min(newest, now))
        if floor is not None and pages > 1:
            state["since"] = utc_text(floor)

    def _settle_milestones(
        self,
        run: PollRun,
        repo: str,
        milestones: list[MilestoneRecord],
        known: KnownIssues,
        *,
        listed_all: bool,
    ) -> Iterator[Batch]:
        """Store a repo's milestones, then check their issue counts against the store.

        A deletion shows only in its milestone's counts (point 3 of the module docstring). The
        check is one grouped query for the repo, skipped when every issue was just listed.
        """
        yield Batch(milestones=milestones, complete=[(repo, "github_milestone")])
        if listed_all:
            return
        stored = known.milestone_counts(repo, [m.key for m in milestones])
        for milestone in milestones:
            counts = (milestone.open_issues, milestone.closed_issues)
            if None in counts or counts == stored[milestone.key]:
                continue
            logger.info(
                "%s: %s counts changed without updates; reconciling",
                self.name,
                milestone.key,
                extra={"source": self.name},
            )
            yield from self._reconcile(run, repo, milestone.number or 0, known)

    def _reconcile(self, run: PollRun, repo: str, number: int, known: KnownIssues) -> Iterator[Batch]:
        """List a milestone's issues in full and check each stored one that is missing."""
        params = {"state": "all", "milestone": number, "per_page": self.per_page}
        listed: list[IssueRecord] = []
        for page in self._list(run, f"/repos/{_path(repo)}/issues", params, None, etag_key=None) or ():
            listed += [issue_record(raw, repo) for raw in page]
        yield Batch(issues=listed)
        missing = known.milestone_issue_keys(milestone_key(repo, number)) - {r.key for r in listed}
        for key in sorted(missing):
            fetched = self._fetch_issue(run, key)
            if fetched is None:
                yield Batch(removed_issues=[key])
            elif fetched.key != key:  # transferred: PyGithub followed the 301 to its new home
                yield Batch(issues=[fetched], removed_issues=[key])
            else:
                yield Batch(issues=[fetched])

    def _fetch_issue(self, run: PollRun, key: str) -> IssueRecord | None:
        """Fetch one issue; None when GitHub says it is gone (404, 410)."""
        repo, number = key.rsplit("#", 1)
        try:
            _headers, raw = self._request(run, f"/repos/{_path(repo)}/issues/{number}", None, None)
        except GithubException as exc:
            if exc.status in (404, 410):
                return None
            raise self._source_error(exc) from exc
        return issue_record(raw, repo)

    # --- paging and requests -----------------------------------------------------------------

    def _list(
        self,
        run: PollRun,
        url: str,
        params: dict[str, Any] | None,
        state: dict[str, Any] | None,
        *,
        etag_key: str | None,
    ) -> Iterator[list[dict[str, Any]]] | None:
        """Request a list's first page, conditionally when an ETag is stored for that exact URL.

        Return None on 304 (the stored ETag stays), else an iterator over every page's raw
        items; the fresh first page's ETag is recorded in `state[etag_key]`.
        """
        stored = state.get(etag_key, {}) if state is not None and etag_key else {}
        first_url = _full(url, params)
        etag = stored.get("etag") if stored.get("url") == first_url else None
        headers, data = self._request(run, url, params, {"If-None-Match": etag} if etag else None)
        if data is None:
            run.not_modified += 1
            return None
        if state is not None and etag_key:
            state[etag_key] = {"url": first_url, "etag": headers.get("etag")}
        return self._follow(run, url, headers, data)

    def _follow(
        self, run: PollRun, url: str, headers: dict[str, Any], data: Any
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield this page and every next one (`Link: rel="next"`), refusing a repeated link."""
        seen_next: set[str] = set()
        while True:
            if not isinstance(data, list):
                msg = f"GET {url} answered {type(data).__name__}, expected a JSON list"
                raise SourceError(self.name, msg, retriable=True)
            yield data
            next_url = _next_link(headers.get("link", ""))
            if next_url is None:
                return
            if next_url in seen_next:
                raise SourceError(self.name, f"GET {url} repeated a page link", retriable=True)
            seen_next.add(next_url)
            headers, data = self._request(run, next_url, None, None)

    def _request(
        self, run: PollRun, url: str, params: dict[str, Any] | None, headers: dict[str, str] | None
    ) -> tuple[dict[str, Any], Any]:
        """GET through PyGithub's requester; classify failures as SourceError."""
        run.requests += 1
        try:
            status, response_headers, body = self.requester.requestJson("GET", url, params, headers)
            data = decode_json(body)
            if status >= 400:
                raise self.requester.createException(status, response_headers, data)
        except RateLimitExceededExceedsMaxWait as exc:
            msg = (
                f"GET {_strip(url)}: rate limited; GitHub asks to wait {exc.wait:.0f} s, longer than"
                " max_rate_limit_wait; will try again next cycle"
            )
            raise SourceError(self.name, msg, retriable=True) from exc
        except GithubException as exc:
            if exc.status in (404, 410) and "/issues/" in url:
                raise
            raise self._source_error(exc, url=url) from exc
        except requests.exceptions.RetryError as exc:
            reason = str(getattr(exc.args[0], "reason", None) if exc.args else None or exc)
            limited = " (rate limited)" if "403" in reason or "429" in reason else ""
            msg = f"GET {_strip(url)} failed after retries{limited}: {_short(reason)}"
            raise SourceError(self.name, msg, retriable=True) from exc
        except requests.RequestException as exc:
            raise SourceError(
                self.name, f"GET {_strip(url)}: {network_problem(exc)}", retriable=True
            ) from exc
        except (RuntimeError, ValueError) as exc:
            msg = f"GET {_strip(url)} failed: {type(exc).__name__}: {_short(str(exc))}"
            raise SourceError(self.name, msg, retriable=True) from exc
        remaining = response_headers.get("x-ratelimit-remaining")
        if remaining is not None and str(remaining).isdigit():
            run.rate_remaining = int(remaining)
        return response_headers, data

    def _source_error(self, exc: GithubException, *, url: str = "") -> SourceError:
        message = exc.data.get("message") if isinstance(exc.data, dict) else None
        retriable = exc.status in (403, 429) or exc.status >= 500
        where = f"GET {_strip(url)} " if url else ""
        msg = f"{where}answered {exc.status}: {_short(str(message or exc.data or ''))}"
        if exc.status == 401:
            msg += " (check the source's token)"
        return SourceError(self.name, msg, retriable=retriable)

    # --- checks ------------------------------------------------------------------------------

    def milestones(self, repo: str) -> list[tuple[int, str]]:
        """List (number, title) of every milestone of `repo`, for `validate --tracker`."""
        run = PollRun(cursor={})
        params = {"state": "all", "per_page": self.per_page}
        pages = self._list(run, f"/repos/{_path(repo)}/milestones", params, None, etag_key=None) or ()
        return [(int(raw["number"]), str(raw.get("title") or "")) for page in pages for raw in page]

    # --- metric KRs ----------------------------------------------------------------------------

    def count(self, query: str) -> int:
        """Count issues matching a GitHub issue-search query (a metric KR's `value_query`)."""
        run = PollRun(cursor={})
        _headers, data = self._request(run, "/search/issues", {"q": query, "per_page": 1}, None)
        return int(data.get("total_count", 0))

    def field_values(self, query: str, field: str) -> list[float]:
        """Read the estimate of every issue an issue search matches (a metric KR's sum or average).

        GitHub issues have no numeric fields; an estimate is a `points:N` label (as for
        `weighting = "points"`), so `points` is the one field (validation refuses others). The
        search API returns at most 1,000 results, so a query matching more is an error rather
        than a silently partial sum.
        """
        if field != "points":
            raise SourceError(
                self.name,
                f"value_field {field!r}: GitHub issues have only 'points' (points:N labels)",
                retriable=False,
            )
        run = PollRun(cursor={})
        values: list[float] = []
        page = 1
        while True:
            params = {"q": query, "per_page": 100, "page": page}
            _headers, data = self._request(run, "/search/issues", params, None)
            items = data.get("items") or []
            if page == 1 and int(data.get("total_count", 0)) > _SEARCH_LIMIT:
                msg = f"value_query {query!r} matches {data['total_count']} issues; GitHub's search returns at most {_SEARCH_LIMIT}: narrow it"
                raise SourceError(self.name, msg, retriable=False)
            for item in items:
                labels = tuple(str(label.get("name", "")) for label in item.get("labels") or ())
                points = points_from_labels(labels)
                if points is not None:
                    values.append(points)
            if len(items) < 100:
                return values
            page += 1


def decode_json(body: str) -> Any:
    """Decode an answer as PyGithub's `requestJsonAndCheck` would, with orjson (3× faster).

    Decoding is the largest part of the client's work on a bulk list (SPEC §8: about 6 ms
    for a page of 100 issues with the stdlib); an empty body (304) is None, and a non-JSON
    error page becomes `{"data": text}`, as PyGithub does.
    """
    if not body:
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        # orjson refuses what JSON allows and trackers send: a lone surrogate (`"\ud800"`) in a
        # title. The stdlib reads it; the records then make the text storable.
        return json.loads(body)
    except ValueError:
        if body.startswith(("{", "[")):
            raise
        return {"data": body}


def _path(repo: str) -> str:
    return quote(repo, safe="/")


def _full(url: str, params: dict[str, Any] | None) -> str:
    if not params:
        return url
    return url + "?" + "&".join(f"{k}={params[k]}" for k in sorted(params))


def _next_link(link_header: str) -> str | None:
    """Find the `rel="next"` URL in a `Link` header."""
    for part in link_header.split(","):
        section = part.split(";")
        if len(section) >= 2 and any(s.strip() == 'rel="next"' for s in section[1:]):
            return section[0].strip().strip("<>")
    return None


def _strip(url: str) -> str:
    """Drop the query string: it is noise in a message."""
    return url.split("?", 1)[0]


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
