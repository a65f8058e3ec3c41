"""A simulated GitHub REST API: milestones, issues, search, paging, ETags and rate limits.

The demo, the tests and the benchmark point the real PyGithub client (and httpx) at it, so it
answers in GitHub's own shapes (see `fixtures/github/`) and with GitHub's quirks that a
connector must survive:

- plain issues omit the `pull_request` key; pull requests carry it (and `draft`);
- `since` keeps items whose `updated_at` is at or after it, at one-second granularity;
- `Link` headers point at `/repositories/{id}/...` (as api.github.com does), keep every query
  parameter and only carry the relations that apply (`prev`, `next`, `last`, `first`);
- every 200 has a weak ETag computed from its body; a matching `If-None-Match` answers 304,
  which costs no rate limit;
- a deleted issue answers 410, a transferred one 301 to its new address;
- milestone `open_issues`/`closed_issues` count pull requests too.

It must serve 100,000 issues quickly (SPEC §8), so each issue's JSON is serialised once and
cached in two fragments around its embedded milestone (whose counts change when a sibling
issue changes), and each filtered, sorted list is computed once per repo version and then
sliced for every page.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import math
import re
import ssl
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.utils import format_datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from okrsync.sandbox.http import Fault, Request, Response, SimServer

DOCS_URL = "https://docs.github.com/rest"
RATE_LIMIT_DOCS_URL = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
SEARCH_DOCS_URL = "https://docs.github.com/v3/search/"
# The recorded body of a secondary ("abuse") limit, fixtures/github/secondary_rate_limited.json.
SECONDARY_LIMIT_BODY = {
    "documentation_url": "https://developer.github.com/v3/#abuse-rate-limits",
    "message": "You have triggered an abuse detection mechanism. Please wait a few minutes before you try again.",
}
CORE_LIMIT = 5000
SEARCH_LIMIT = 30
MAX_PER_PAGE = 100
MAX_SEARCH_RESULTS = 1000  # GitHub's search API only ever pages through the first 1000 hits
ISSUE_STATE_REASONS = ("completed", "not_planned", "duplicate", "reopened")

_T = TypeVar("_T")
_PACIFIC = ZoneInfo("America/Los_Angeles")
_SLOT = "\x00milestone\x00"  # stands for the embedded milestone in an issue's cached JSON
_SLOT_JSON = json.dumps(_SLOT).encode()
# A user stands as "\x00user:<login>\x00" until the JSON is written, then its cached bytes go
# in: most of an issue's JSON is user objects, and encoding them once makes a cold page cheap.
_USER_SLOT = re.compile(rb'"\\u0000user:([^"\\]*)\\u0000"')
_LIST_CACHE_SIZE = 16


def _ts(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def _utc(value: datetime) -> datetime:
    """Return `value` in UTC at whole seconds, as GitHub stores timestamps."""
    if value.tzinfo is None or value.utcoffset() is None:
        msg = f"expected a timezone-aware datetime, got naive {value!r}"
        raise ValueError(msg)
    return value.astimezone(UTC).replace(microsecond=0)


def _node_id(kind: str, number: int) -> str:
    # GitHub's legacy global ids are base64 of "<len(kind)>:<Kind><id>", e.g. "05:Issue4653757".
    return base64.b64encode(f"{len(kind):02d}:{kind}{number}".encode()).decode()


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _error(status: int, message: str, **extra: Any) -> Response:
    return Response(status, {"message": message, **extra, "documentation_url": DOCS_URL})


def _not_found() -> Response:
    return _error(404, "Not Found")


def _validation_failed(*errors: dict[str, Any], docs: str = DOCS_URL) -> Response:
    return Response(422, {"message": "Validation Failed", "errors": list(errors), "documentation_url": docs})


def _invalid_param(name: str, value: str) -> Response:
    return _validation_failed({"resource": "Issue", "field": name, "code": "invalid", "value": value})


# --- state ----------------------------------------------------------------------------------


@dataclass(eq=False)
class Milestone:
    """A milestone of one repo; counts are kept up to date by every issue change."""

    repo: Repo
    number: int
    id: int
    title: str
    description: str
    state: str
    due_on: datetime | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    open_issues: int = 0
    closed_issues: int = 0
    _json: bytes | None = field(default=None, repr=False)


@dataclass(eq=False)
class Issue:
    """An issue or pull request (GitHub numbers both from one counter per repo)."""

    repo: Repo
    number: int
    id: int
    title: str
    body: str | None
    state: str
    state_reason: str | None
    labels: tuple[str, ...]
    assignee: str | None
    milestone: Milestone | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    pull_request: bool = False
    comments: int = 0
    # The cached JSON, split around the milestone: head + milestone JSON + tail.
    _json: tuple[bytes, bytes] | None = field(default=None, repr=False)


@dataclass(eq=False)
class Repo:
    """One repository: its issues and milestones by number, and what happened to old numbers."""

    owner: str
    name: str
    id: int
    created_at: datetime
    issues: dict[int, Issue] = field(default_factory=dict)
    milestones: dict[int, Milestone] = field(default_factory=dict)
    deleted: set[int] = field(default_factory=set)  # answer 410
    moved: dict[int, tuple[Repo, int]] = field(default_factory=dict)  # answer 301
    labels: dict[str, int] = field(default_factory=dict)  # name -> label id
    next_number: int = 1
    next_milestone: int = 1
    version: int = 0  # bumped by every change; keys the cached lists
    _lists: dict[tuple[Any, ...], tuple[int, list[Any]]] = field(default_factory=dict, repr=False)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def cached(self, key: tuple[Any, ...], compute: Callable[[], list[_T]]) -> list[_T]:
        """Return the list for `key`, computing it once per repo version (pages reuse it)."""
        hit = self._lists.get(key)
        if hit is not None and hit[0] == self.version:
            return hit[1]
        value = compute()
        if len(self._lists) >= _LIST_CACHE_SIZE:
            self._lists.pop(next(iter(self._lists)))
        self._lists[key] = (self.version, value)
        return value


@dataclass
class Hook:
    """Something to do to the org just before a matching request is answered (`GitHubSim.before`).

    `path` is a substring of the request path; `params` must all match the query (so
    `{"page": "2"}` picks page 2 of a list); `times` is how many requests it fires for.
    """

    action: Callable[[], object]
    path: str = ""
    params: dict[str, str] = field(default_factory=dict)
    times: int | None = 1

    def matches(self, request: Request) -> bool:
        if self.path not in request.path:
            return False
        return all(request.param(name) == value for name, value in self.params.items())


@dataclass
class _Bucket:
    """One client's rate-limit window for one resource (core or search)."""

    resource: str
    limit: int
    window: int
    reset: int
    used: int = 0

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def roll(self, now: int) -> None:
        if now >= self.reset:
            self.used = 0
            self.reset = now + self.window

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
            "X-RateLimit-Used": str(self.used),
            "X-RateLimit-Resource": self.resource,
        }

    def as_json(self) -> dict[str, int]:
        return {"limit": self.limit, "used": self.used, "remaining": self.remaining, "reset": self.reset}


# --- the server -----------------------------------------------------------------------------


class GitHubSim(SimServer):
    """Simulated api.github.com, served at the root of `url` (no `/api/v3` prefix).

    `tokens` maps token values to client names; without it any `token X`/`Bearer X` is
    accepted and the client is named by the token's last four characters. `clock` returns
    the aware UTC now used for every timestamp, so tests control `updated_at` to the second.
    """

    def __init__(
        self,
        tokens: dict[str, str] | None = None,
        clock: Callable[[], datetime] | None = None,
        *,
        html_base: str = "https://github.com",
        login: str = "octocat",
        core_limit: int = CORE_LIMIT,
        search_limit: int = SEARCH_LIMIT,
        api_prefix: str = "",
    ) -> None:
        super().__init__()
        # GitHub Enterprise Server serves the API under /api/v3; api.github.com at the root.
        self.api_prefix = api_prefix.rstrip("/")
        self.tokens = tokens
        self.clock = clock or (lambda: datetime.now(UTC))
        self.html_base = html_base.rstrip("/")
        self.login = login  # author of every issue and milestone
        self.core_limit = core_limit
        self.search_limit = search_limit
        self.repos: dict[str, Repo] = {}  # lower-case full name -> repo
        self._repos_by_id: dict[int, Repo] = {}
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._ids = itertools.count(1_000_001)
        self._user_ids: dict[str, int] = {}
        self._users: dict[str, dict[str, Any]] = {}
        self._apps: dict[int, tuple[int, str]] = {}  # installation id -> (app id, public key PEM)
        self._user_json: dict[str, bytes] = {}
        self._request_ids = itertools.count(1)
        self._api = ""
        self.hooks: list[Hook] = []
        # Clients whose token may read but not write (a read-only fine-grained token): their
        # writes answer 403 as GitHub does (okrsync.sandbox.github_writes).
        self.read_only: set[str] = set()

    # --- lifecycle -------------------------------------------------------------------------

    def start(self, port: int = 0, *, tls: ssl.SSLContext | None = None) -> GitHubSim:
        """Start serving; API urls in bodies use this server's address, so drop cached JSON."""
        super().start(port, tls=tls)
        with self.lock:
            self._api = self.url + self.api_prefix
            self._users.clear()
            self._user_json.clear()
            for repo in self.repos.values():
                repo._lists.clear()
                for milestone in repo.milestones.values():
                    milestone._json = None
                for issue in repo.issues.values():
                    issue._json = None
        return self

    def __enter__(self) -> GitHubSim:
        return self.start()

    def prime(self) -> None:
        """Encode every issue and milestone now, so a benchmark's first run is not the only cold one."""
        with self.lock:
            for repo in self.repos.values():
                for milestone in repo.milestones.values():
                    self._milestone_bytes(milestone)
                for issue in repo.issues.values():
                    self._issue_bytes(issue)

    # --- seeding and changing the org ------------------------------------------------------

    def now(self) -> datetime:
        """Return the simulator's clock, in UTC at whole seconds."""
        return _utc(self.clock())

    def add_repo(self, full_name: str) -> Repo:
        """Create an empty repository `owner/name`."""
        owner, _, name = full_name.partition("/")
        if not owner or not name or "/" in name:
            msg = f"expected a repository as 'owner/name', got {full_name!r}"
            raise ValueError(msg)
        with self.lock:
            if full_name.lower() in self.repos:
                msg = f"repository {full_name} already exists"
                raise ValueError(msg)
            repo = Repo(owner=owner, name=name, id=next(self._ids), created_at=self.now())
            self.repos[full_name.lower()] = repo
            self._repos_by_id[repo.id] = repo
            return repo

    def repo(self, repo: Repo | str) -> Repo:
        """Return a repository by name (or itself)."""
        if isinstance(repo, Repo):
            return repo
        found = self.repos.get(repo.lower())
        if found is None:
            msg = f"no repository {repo!r} in the simulator (add_repo it first)"
            raise KeyError(msg)
        return found

    def issue(self, repo: Repo | str, number: int) -> Issue:
        """Return a live issue or pull request by number."""
        found = self.repo(repo).issues.get(number)
        if found is None:
            msg = f"no issue #{number} in {self.repo(repo).full_name}"
            raise KeyError(msg)
        return found

    def milestone(self, repo: Repo | str, number: int) -> Milestone:
        """Return a milestone by number."""
        found = self.repo(repo).milestones.get(number)
        if found is None:
            msg = f"no milestone {number} in {self.repo(repo).full_name}"
            raise KeyError(msg)
        return found

    def add_milestone(
        self,
        repo: Repo | str,
        title: str,
        *,
        due_on: datetime | date | None = None,
        description: str = "",
        state: str = "open",
        created_at: datetime | None = None,
    ) -> int:
        """Create a milestone and return its number.

        A bare `date` for `due_on` is stored as GitHub's web UI stores it: midnight Pacific,
        in UTC (07:00 or 08:00 depending on daylight saving time).
        """
        _check_state(state)
        with self.lock:
            target = self.repo(repo)
            now = self.now()
            created = _utc(created_at) if created_at else now
            number = target.next_milestone
            target.next_milestone += 1
            target.milestones[number] = Milestone(
                repo=target,
                number=number,
                id=next(self._ids),
                title=title,
                description=description,
                state=state,
                due_on=_due(due_on),
                created_at=created,
                updated_at=created,
                closed_at=now if state == "closed" else None,
            )
            target.version += 1
            return number

    def add_issue(
        self,
        repo: Repo | str,
        title: str,
        *,
        milestone: int | None = None,
        labels: Iterable[str] = (),
        assignee: str | None = None,
        state: str = "open",
        state_reason: str | None = None,
        closed_at: datetime | None = None,
        created_at: datetime | None = None,
        body: str | None = None,
        pull_request: bool = False,
    ) -> int:
        """Create an issue (or a pull request) and return its number.

        `updated_at` is the latest of `created_at` and `closed_at` (both default to now), so
        seeded history looks like history.
        """
        _check_state(state)
        with self.lock:
            target = self.repo(repo)
            now = self.now()
            created = _utc(created_at) if created_at else now
            closed = (_utc(closed_at) if closed_at else now) if state == "closed" else None
            if state == "closed" and state_reason is None:
                state_reason = "completed"
            if state_reason is not None and state_reason not in ISSUE_STATE_REASONS:
                msg = f"state_reason must be one of {ISSUE_STATE_REASONS}, got {state_reason!r}"
                raise ValueError(msg)
            number = target.next_number
            target.next_number += 1
            issue = Issue(
                repo=target,
                number=number,
                id=next(self._ids),
                title=title,
                body=body,
                state=state,
                state_reason=state_reason,
                labels=tuple(labels),
                assignee=assignee,
                milestone=self.milestone(target, milestone) if milestone is not None else None,
                created_at=created,
                updated_at=max(created, closed) if closed else created,
                closed_at=closed,
                pull_request=pull_request,
            )
            for name in issue.labels:
                self._label_id(target, name)
            target.issues[number] = issue
            target.version += 1
            self._recount(issue, before=(None, state), now=now)
            return number

    def close_issue(
        self, repo: Repo | str, number: int, *, reason: str = "completed", at: datetime | None = None
    ) -> None:
        """Close an issue with a `state_reason` (completed, not_planned, duplicate)."""
        if reason not in ISSUE_STATE_REASONS:
            msg = f"reason must be one of {ISSUE_STATE_REASONS}, got {reason!r}"
            raise ValueError(msg)
        with self.lock:
            issue = self.issue(repo, number)
            now = self.now()
            before = (issue.milestone, issue.state)
            issue.state, issue.state_reason = "closed", reason
            issue.closed_at = _utc(at) if at else now
            self._touch(issue, now)
            self._recount(issue, before=before, now=now)

    def reopen_issue(self, repo: Repo | str, number: int) -> None:
        """Reopen an issue; GitHub then reports `state_reason: reopened`."""
        with self.lock:
            issue = self.issue(repo, number)
            now = self.now()
            before = (issue.milestone, issue.state)
            issue.state, issue.state_reason, issue.closed_at = "open", "reopened", None
            self._touch(issue, now)
            self._recount(issue, before=before, now=now)

    def update_issue(self, repo: Repo | str, number: int, **fields: Any) -> None:
        """Change `title`, `body`, `labels`, `assignee`, `milestone` (a number or None) or `comments`."""
        unknown = set(fields) - {"title", "body", "labels", "assignee", "milestone", "comments"}
        if unknown:
            msg = f"update_issue cannot change {sorted(unknown)}; use close_issue/reopen_issue for state"
            raise TypeError(msg)
        with self.lock:
            issue = self.issue(repo, number)
            now = self.now()
            before = (issue.milestone, issue.state)
            if "milestone" in fields:
                ms = fields.pop("milestone")
                issue.milestone = self.milestone(issue.repo, ms) if ms is not None else None
            if "labels" in fields:
                issue.labels = tuple(fields.pop("labels"))
                for name in issue.labels:
                    self._label_id(issue.repo, name)
            for name, value in fields.items():
                setattr(issue, name, value)
            self._touch(issue, now)
            self._recount(issue, before=before, now=now)

    def delete_issue(self, repo: Repo | str, number: int) -> None:
        """Delete an issue: it is never listed again and its URL answers 410 Gone."""
        with self.lock:
            issue = self.issue(repo, number)
            now = self.now()
            before = (issue.milestone, issue.state)
            del issue.repo.issues[number]
            issue.repo.deleted.add(number)
            issue.repo.version += 1
            issue.milestone = None
            self._recount(issue, before=before, now=now)

    def transfer_issue(self, repo: Repo | str, number: int, to_repo: Repo | str) -> int:
        """Move an issue to another repo; the old URL answers 301 to the new one.

        The issue keeps its id, title, labels and assignee, takes the next number of the
        target repo, and leaves its milestone (milestones belong to one repo).
        """
        with self.lock:
            issue = self.issue(repo, number)
            target = self.repo(to_repo)
            if target is issue.repo:
                msg = f"cannot transfer {target.full_name}#{number} to its own repository"
                raise ValueError(msg)
            now = self.now()
            source = issue.repo
            before = (issue.milestone, issue.state)
            del source.issues[number]
            issue.milestone = None
            self._recount(issue, before=before, now=now)
            new_number = target.next_number
            target.next_number += 1
            source.moved[number] = (target, new_number)
            source.version += 1
            issue.repo, issue.number = target, new_number
            for name in issue.labels:
                self._label_id(target, name)
            target.issues[new_number] = issue
            self._touch(issue, now)
            return new_number

    def set_due(self, repo: Repo | str, number: int, due_on: datetime | date | None) -> None:
        """Move (or, with None, remove) a milestone's due date."""
        with self.lock:
            milestone = self.milestone(repo, number)
            milestone.due_on = _due(due_on)
            self._touch_milestone(milestone, self.now())

    def rename_milestone(self, repo: Repo | str, number: int, title: str) -> None:
        """Give a milestone a new title."""
        with self.lock:
            milestone = self.milestone(repo, number)
            milestone.title = title
            self._touch_milestone(milestone, self.now())

    def update_milestone(self, repo: Repo | str, number: int, *, description: str) -> None:
        """Change a milestone's description (where `kr:` links live)."""
        with self.lock:
            milestone = self.milestone(repo, number)
            milestone.description = description
            self._touch_milestone(milestone, self.now())

    def close_milestone(self, repo: Repo | str, number: int, *, at: datetime | None = None) -> None:
        """Close a milestone."""
        with self.lock:
            milestone = self.milestone(repo, number)
            now = self.now()
            milestone.state, milestone.closed_at = "closed", _utc(at) if at else now
            self._touch_milestone(milestone, now)

    def reopen_milestone(self, repo: Repo | str, number: int) -> None:
        """Reopen a closed milestone."""
        with self.lock:
            milestone = self.milestone(repo, number)
            milestone.state, milestone.closed_at = "open", None
            self._touch_milestone(milestone, self.now())

    def delete_milestone(self, repo: Repo | str, number: int) -> None:
        """Delete a milestone; its issues lose it (and so count as updated)."""
        with self.lock:
            milestone = self.milestone(repo, number)
            now = self.now()
            home = milestone.repo
            del home.milestones[number]
            for issue in home.issues.values():
                if issue.milestone is milestone:
                    issue.milestone = None
                    self._touch(issue, now)
            home.version += 1

    def before(
        self,
        action: Callable[[], object],
        *,
        path: str = "",
        params: dict[str, str] | None = None,
        times: int | None = 1,
    ) -> Hook:
        """Run `action` (e.g. delete or transfer an issue) just before answering a matching GET.

        This is how a test makes the org change *during* a paged walk: a hook on page 2 of a
        list deletes an issue that page 1 already showed, and page 2 is served shifted.
        """
        hook = Hook(action, path=path, params=dict(params or {}), times=times)
        with self.lock:
            self.hooks.append(hook)
        return hook

    def _run_hooks(self, request: Request) -> None:
        for hook in [h for h in self.hooks if h.matches(request)]:
            if hook.times is not None:
                hook.times -= 1
                if hook.times <= 0:
                    self.hooks.remove(hook)
            hook.action()

    def rate_remaining(self, client: str, resource: str = "core") -> int:
        """Return how many requests `client` has left in the current window."""
        with self.lock:
            return self._bucket(client, resource).remaining

    def rate_limit(
        self,
        seconds: int,
        *,
        secondary: bool = False,
        status: int = 403,
        path: str = "",
        times: int | None = 1,
    ) -> Fault:
        """Inject a rate-limit answer in GitHub's shape, lifted after `seconds`.

        Primary: `status` (403, or 429) with `X-RateLimit-Remaining: 0` and `X-RateLimit-Reset`
        `seconds` from now. Secondary: `status` with `Retry-After: seconds` and the abuse body,
        without X-RateLimit-* headers, as recorded in fixtures/github/secondary_rate_limited.*.
        """
        if secondary:
            headers = {"Retry-After": str(seconds)}
            body: dict[str, Any] = dict(SECONDARY_LIMIT_BODY)
        else:
            reset = int(self.now().timestamp()) + seconds
            headers = {
                "X-RateLimit-Limit": str(self.core_limit),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(reset),
                "X-RateLimit-Used": str(self.core_limit),
                "X-RateLimit-Resource": "core",
            }
            if status == 429:
                headers["Retry-After"] = str(seconds)
            body = {
                "message": "API rate limit exceeded for user ID 1.",
                "documentation_url": RATE_LIMIT_DOCS_URL,
            }
        return self.inject(Fault(status=status, path=path, times=times, body=body, headers=headers))

    # --- bookkeeping -----------------------------------------------------------------------

    def _touch(self, issue: Issue, now: datetime) -> None:
        issue.updated_at = now
        issue._json = None
        issue.repo.version += 1

    def _touch_milestone(self, milestone: Milestone, now: datetime) -> None:
        milestone.updated_at = now
        milestone._json = None
        milestone.repo.version += 1

    def _recount(self, issue: Issue, *, before: tuple[Milestone | None, str], now: datetime) -> None:
        """Move the issue's weight between milestone counts after a change, if it moved."""
        live = issue.repo.issues.get(issue.number) is issue
        after = (issue.milestone, issue.state) if live else (None, issue.state)
        if before == after:
            return
        for (milestone, state), step in ((before, -1), (after, 1)):
            if milestone is None:
                continue
            if state == "open":
                milestone.open_issues += step
            else:
                milestone.closed_issues += step
            self._touch_milestone(milestone, now)

    def _label_id(self, repo: Repo, name: str) -> int:
        if name not in repo.labels:
            repo.labels[name] = next(self._ids)
        return repo.labels[name]

    def _bucket(self, client: str, resource: str) -> _Bucket:
        now = int(self.now().timestamp())
        bucket = self._buckets.get((client, resource))
        if bucket is None:
            search = resource == "search"
            window = 60 if search else 3600
            limit = self.search_limit if search else self.core_limit
            bucket = _Bucket(resource, limit, window, reset=now + window)
            self._buckets[(client, resource)] = bucket
        bucket.roll(now)
        return bucket

    # --- authentication --------------------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        """Serve paths under `api_prefix` as GitHub Enterprise does; the log keeps them relative."""
        if self.api_prefix:
            if not request.path.startswith(self.api_prefix + "/"):
                return _not_found()
            request.path = request.path[len(self.api_prefix) :]
        return super().dispatch(request)

    def add_app(self, app_id: int, public_key_pem: str, *, installation_id: int) -> None:
        """Register a GitHub App installation; its JWTs (RS256, `iss` = app id) are verified."""
        with self.lock:
            self._apps[installation_id] = (app_id, public_key_pem)

    def _app_client(self, jwt_text: str) -> str | None:
        """Name the app whose signed JWT this is, or None (only for the /app/ endpoints)."""
        import jwt  # PyGithub's own dependency (pyjwt[crypto])

        for app_id, public_key in self._apps.values():
            try:
                claims = jwt.decode(jwt_text, public_key, algorithms=["RS256"])
            except jwt.PyJWTError:
                continue
            if str(claims.get("iss")) == str(app_id):
                return f"app-{app_id}"
        return None

    def authenticate(self, request: Request) -> str | None:
        """Accept `token X` or `Bearer X`; check X against `tokens` when given.

        A GitHub App signs in to `/app/...` with a JWT, and to everything else with the
        installation token that `POST /app/installations/{id}/access_tokens` hands out.
        """
        scheme, _, token = request.authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() not in ("token", "bearer") or not token:
            return None
        if request.path.startswith("/app/") and self._apps:
            return self._app_client(token)
        if self.tokens is None:
            return token[-4:]
        return self.tokens.get(token)

    def unauthorized(self, request: Request) -> Response:
        if not request.authorization:
            return _error(401, "Requires authentication")
        return _error(401, "Bad credentials")

    # --- serving ---------------------------------------------------------------------------

    def route(self, request: Request) -> Response:
        """Charge the rate limit, answer the endpoint, and turn a matching ETag into a 304."""
        assert request.client is not None
        resource = "search" if request.path.startswith("/search/") else "core"
        free = request.path.rstrip("/") == "/rate_limit"  # GitHub does not charge for it
        bucket = self._bucket(request.client, resource)
        if not free and bucket.remaining <= 0:
            return Response(
                403,
                {
                    "message": f"API rate limit exceeded for user ID {self._user_id(self.login)}.",
                    "documentation_url": RATE_LIMIT_DOCS_URL,
                },
                bucket.headers(),
            )
        if request.method == "POST" and request.client.startswith("app-"):
            return self._installation_token(request)
        if request.method == "GET":
            self._run_hooks(request)
        if request.method == "GET":
            response = self._endpoint(request)
        else:
            from okrsync.sandbox.github_writes import handle_write

            response = handle_write(self, request)
        if response.status == 200:
            payload = response.encode()
            response.raw = payload
            etag = f'W/"{hashlib.sha1(payload).hexdigest()}"'
            response.headers["ETag"] = etag
            if _etag_matches(request.headers.get("if-none-match"), etag):
                kept = {k: v for k, v in response.headers.items() if k in ("ETag", "Last-Modified")}
                response = Response(304, None, kept)
        if response.status != 304 and not free:
            bucket.used += 1
        response.headers.update(bucket.headers())
        response.headers["X-GitHub-Media-Type"] = "github.v3; format=json"
        response.headers["X-GitHub-Api-Version-Selected"] = "2022-11-28"
        response.headers["X-GitHub-Request-Id"] = f"51D:{next(self._request_ids):X}"
        return response

    def _installation_token(self, request: Request) -> Response:
        """`POST /app/installations/{id}/access_tokens`: mint a one-hour installation token."""
        parts = [p for p in request.path.split("/") if p]
        if len(parts) != 4 or parts[:2] != ["app", "installations"] or parts[3] != "access_tokens":
            return _not_found()
        installation = int(parts[2]) if parts[2].isdigit() else -1
        app = self._apps.get(installation)
        if app is None or request.client != f"app-{app[0]}":
            return _not_found()
        token = f"ghs_{hashlib.sha1(f'{installation}:{next(self._ids)}'.encode()).hexdigest()[:36]}"
        if self.tokens is not None:
            self.tokens[token] = f"installation-{installation}"
        # Expiry on the real clock: clients compare it with theirs, not with the simulated one.
        expires = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
        body = {
            "token": token,
            "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "permissions": {"issues": "read", "metadata": "read"},
            "repository_selection": "all",
        }
        return Response(201, body)

    def _endpoint(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p]
        if parts == ["rate_limit"]:
            return self._rate_limit_body(request)
        if parts == ["search", "issues"]:
            return self._search_issues(request)
        repo: Repo | None = None
        rest: list[str] = []
        if len(parts) >= 3 and parts[0] == "repos":
            repo, rest = self.repos.get(f"{parts[1]}/{parts[2]}".lower()), parts[3:]
        elif len(parts) >= 2 and parts[0] == "repositories" and parts[1].isdigit():
            repo, rest = self._repos_by_id.get(int(parts[1])), parts[2:]
        if repo is None:
            return _not_found()
        match rest:
            case []:
                return Response(200, self._repo_json(repo))
            case ["milestones"]:
                return self._milestone_list(repo, request)
            case ["milestones", number] if number.isdigit():
                milestone = repo.milestones.get(int(number))
                if milestone is None:
                    return _not_found()
                return Response(200, raw=self._milestone_bytes(milestone), headers=_last_modified(milestone))
            case ["issues"]:
                return self._issue_list(repo, request)
            case ["issues", number] if number.isdigit():
                return self._issue_get(repo, int(number))
        return _not_found()

    def _rate_limit_body(self, request: Request) -> Response:
        assert request.client is not None
        core = self._bucket(request.client, "core").as_json()
        search = self._bucket(request.client, "search").as_json()
        graphql = {"limit": 5000, "used": 0, "remaining": 5000, "reset": core["reset"]}
        return Response(
            200, {"resources": {"core": core, "search": search, "graphql": graphql}, "rate": core}
        )

    def _issue_get(self, repo: Repo, number: int) -> Response:
        issue = repo.issues.get(number)
        if issue is not None:
            return Response(200, raw=self._issue_bytes(issue), headers=_last_modified(issue))
        if number in repo.moved:
            target, new_number = repo.moved[number]
            location = f"{self._api}/repos/{target.full_name}/issues/{new_number}"
            body = {
                "message": "Moved Permanently",
                "url": location,
                "documentation_url": "https://docs.github.com/rest/guides/best-practices-for-using-the-rest-api#follow-redirects",
            }
            return Response(301, body, {"Location": location})
        if number in repo.deleted:
            return Response(
                410,
                {
                    "message": "This issue was deleted",
                    "documentation_url": "https://docs.github.com/rest/issues/issues#get-an-issue",
                },
            )
        return _not_found()

    def _milestone_list(self, repo: Repo, request: Request) -> Response:
        state = request.param("state") or "open"
        sort = request.param("sort") or "due_on"
        direction = request.param("direction") or "asc"
        for name, value, allowed in (
            ("state", state, ("open", "closed", "all")),
            ("sort", sort, ("due_on", "completeness")),
            ("direction", direction, ("asc", "desc")),
        ):
            if value not in allowed:
                return _invalid_param(name, value)

        def compute() -> list[Milestone]:
            chosen = [m for m in repo.milestones.values() if state in ("all", m.state)]
            if sort == "due_on":
                # Milestones without a due date come after the dated ones either way.
                dated = sorted((m for m in chosen if m.due_on), key=lambda m: (m.due_on, m.number))
                if direction == "desc":
                    dated.reverse()
                return dated + sorted((m for m in chosen if not m.due_on), key=lambda m: m.number)
            return sorted(chosen, key=lambda m: (_completeness(m), m.number), reverse=direction == "desc")

        items = repo.cached(("milestones", state, sort, direction), compute)
        page, links = self._page(request, items, f"/repositories/{repo.id}/milestones")
        return Response(200, raw=_join(self._milestone_bytes(m) for m in page), headers=links)

    def _issue_list(self, repo: Repo, request: Request) -> Response:
        state = request.param("state") or "open"
        sort = request.param("sort") or "created"
        direction = request.param("direction") or "desc"
        for name, value, allowed in (
            ("state", state, ("open", "closed", "all")),
            ("sort", sort, ("created", "updated", "comments")),
            ("direction", direction, ("asc", "desc")),
        ):
            if value not in allowed:
                return _invalid_param(name, value)
        since_text = request.param("since")
        since = _parse_since(since_text) if since_text else None
        if since_text and since is None:
            return _invalid_param("since", since_text)
        milestone = request.param("milestone")
        if milestone not in (None, "*", "none") and not milestone.isdigit():
            return _invalid_param("milestone", milestone)
        labels = frozenset(s.strip() for s in (request.param("labels") or "").split(",") if s.strip())
        assignee = request.param("assignee")

        def keep(issue: Issue) -> bool:
            if state != "all" and issue.state != state:
                return False
            if since is not None and issue.updated_at < since:
                return False
            if milestone == "*" and issue.milestone is None:
                return False
            if milestone == "none" and issue.milestone is not None:
                return False
            if (
                milestone
                and milestone.isdigit()
                and (issue.milestone is None or issue.milestone.number != int(milestone))
            ):
                return False
            if labels and not labels.issubset(issue.labels):
                return False
            if assignee == "none":
                return issue.assignee is None
            if assignee == "*":
                return issue.assignee is not None
            return assignee is None or issue.assignee == assignee

        def compute() -> list[Issue]:
            return sorted(
                filter(keep, repo.issues.values()), key=_sort_key(sort), reverse=direction == "desc"
            )

        key = ("issues", state, sort, direction, since, milestone, labels, assignee)
        items = repo.cached(key, compute)
        page, links = self._page(request, items, f"/repositories/{repo.id}/issues")
        return Response(200, raw=_join(self._issue_bytes(i) for i in page), headers=links)

    def _search_issues(self, request: Request) -> Response:
        query = (request.param("q") or "").strip()
        if not query:
            return _validation_failed(
                {"resource": "Search", "field": "q", "code": "missing"}, docs=SEARCH_DOCS_URL
            )
        parsed = _parse_search(query)
        if isinstance(parsed, str):
            return _validation_failed(
                {"message": parsed, "resource": "Search", "field": "q", "code": "invalid"},
                docs=SEARCH_DOCS_URL,
            )
        repo_names, predicates = parsed
        repos: list[Repo] = []
        for name in repo_names:
            found = self.repos.get(name.lower())
            if found is None:
                return _validation_failed(
                    {
                        "message": "The listed users and repositories cannot be searched either because the "
                        "resources do not exist or you do not have permission to view them.",
                        "resource": "Search",
                        "field": "q",
                        "code": "invalid",
                    },
                    docs=SEARCH_DOCS_URL,
                )
            repos.append(found)
        sort = request.param("sort") or "created"
        order = request.param("order") or "desc"
        if sort not in ("created", "updated", "comments") or order not in ("asc", "desc"):
            return _invalid_param("sort" if order in ("asc", "desc") else "order", f"{sort}/{order}")
        hits = [
            issue
            for repo in repos or list(self.repos.values())
            for issue in repo.issues.values()
            if all(p(issue) for p in predicates)
        ]
        hits.sort(key=_sort_key(sort), reverse=order == "desc")
        per_page = _int_param(request, "per_page", 30, 1, MAX_PER_PAGE)
        page_no = _int_param(request, "page", 1, 1, None)
        if (page_no - 1) * per_page >= MAX_SEARCH_RESULTS:
            return Response(
                422,
                {
                    "message": "Only the first 1000 search results are available",
                    "documentation_url": SEARCH_DOCS_URL,
                },
            )
        reachable = hits[:MAX_SEARCH_RESULTS]
        page, links = self._page(request, reachable, "/search/issues")
        items = _join(self._issue_bytes(i)[:-1] + b',"score":1.0}' for i in page)
        body = b'{"total_count":%d,"incomplete_results":false,"items":%s}' % (len(hits), items)
        return Response(200, raw=body, headers=links)

    def _page(self, request: Request, items: Sequence[_T], path: str) -> tuple[Sequence[_T], dict[str, str]]:
        """Slice one page and build GitHub's Link header (absent when there is one page)."""
        per_page = _int_param(request, "per_page", 30, 1, MAX_PER_PAGE)
        page = _int_param(request, "page", 1, 1, None)
        last = max(1, math.ceil(len(items) / per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        if last == 1 and page == 1:
            return chunk, {}

        def url(number: int) -> str:
            # Keep every parameter where the client put it; `page` replaces or joins them.
            pairs = [(k, str(number) if k == "page" else v) for k, v in _pairs(request)]
            if "page" not in request.query:
                pairs.append(("page", str(number)))
            return f"{self._api}{path}?{urlencode(pairs)}"

        rels: list[str] = []
        if page > 1:
            rels.append(f'<{url(min(page - 1, last))}>; rel="prev"')
        if page < last:
            rels.append(f'<{url(page + 1)}>; rel="next"')
            rels.append(f'<{url(last)}>; rel="last"')
        if page > 1:
            rels.append(f'<{url(1)}>; rel="first"')
        return chunk, {"Link": ", ".join(rels)}

    # --- JSON ------------------------------------------------------------------------------

    def _user_id(self, login: str) -> int:
        if login not in self._user_ids:
            self._user_ids[login] = 100_000 + len(self._user_ids) + 1
        return self._user_ids[login]

    def _dumps(self, value: Any) -> bytes:
        """Encode `value`, putting each user's cached JSON in place of its slot."""
        return _USER_SLOT.sub(lambda m: self._user_bytes(m.group(1).decode()), _dumps(value))

    def _user_bytes(self, login: str) -> bytes:
        cached = self._user_json.get(login)
        if cached is None:
            cached = self._user_json[login] = _dumps(self._user(login))
        return cached

    def _user(self, login: str) -> dict[str, Any]:
        """Return a user object shaped like the fixtures' (cached: users never change here)."""
        user = self._users.get(login)
        if user is None:
            uid = self._user_id(login)
            api = f"{self._api}/users/{login}"
            user = {
                "login": login,
                "id": uid,
                "node_id": _node_id("User", uid),
                "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4",
                "gravatar_id": "",
                "url": api,
                "html_url": f"{self.html_base}/{login}",
                "followers_url": f"{api}/followers",
                "following_url": f"{api}/following{{/other_user}}",
                "gists_url": f"{api}/gists{{/gist_id}}",
                "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
                "subscriptions_url": f"{api}/subscriptions",
                "organizations_url": f"{api}/orgs",
                "repos_url": f"{api}/repos",
                "events_url": f"{api}/events{{/privacy}}",
                "received_events_url": f"{api}/received_events",
                "type": "User",
                "user_view_type": "public",
                "site_admin": False,
            }
            self._users[login] = user
        return user

    def _repo_json(self, repo: Repo) -> dict[str, Any]:
        api = f"{self._api}/repos/{repo.full_name}"
        open_count = sum(1 for i in repo.issues.values() if i.state == "open")
        return {
            "id": repo.id,
            "node_id": _node_id("Repository", repo.id),
            "name": repo.name,
            "full_name": repo.full_name,
            "private": False,
            "owner": self._user(repo.owner) | {"type": "Organization"},
            "html_url": f"{self.html_base}/{repo.full_name}",
            "description": None,
            "fork": False,
            "url": api,
            "issues_url": f"{api}/issues{{/number}}",
            "milestones_url": f"{api}/milestones{{/number}}",
            "labels_url": f"{api}/labels{{/name}}",
            "pulls_url": f"{api}/pulls{{/number}}",
            "created_at": _ts(repo.created_at),
            "updated_at": _ts(repo.created_at),
            "pushed_at": _ts(repo.created_at),
            "homepage": None,
            "size": 0,
            "has_issues": True,
            "archived": False,
            "disabled": False,
            "open_issues_count": open_count,
            "open_issues": open_count,
            "visibility": "public",
            "default_branch": "main",
        }

    def _milestone_bytes(self, milestone: Milestone) -> bytes:
        if milestone._json is None:
            repo = milestone.repo
            api = f"{self._api}/repos/{repo.full_name}/milestones/{milestone.number}"
            milestone._json = self._dumps(
                {
                    "url": api,
                    "html_url": f"{self.html_base}/{repo.full_name}/milestone/{milestone.number}",
                    "labels_url": f"{api}/labels",
                    "id": milestone.id,
                    "node_id": _node_id("Milestone", milestone.id),
                    "number": milestone.number,
                    "title": milestone.title,
                    "description": milestone.description,
                    "creator": _user_slot(self.login),
                    "open_issues": milestone.open_issues,
                    "closed_issues": milestone.closed_issues,
                    "state": milestone.state,
                    "created_at": _ts(milestone.created_at),
                    "updated_at": _ts(milestone.updated_at),
                    "due_on": _ts(milestone.due_on),
                    "closed_at": _ts(milestone.closed_at),
                }
            )
        return milestone._json

    def _issue_bytes(self, issue: Issue) -> bytes:
        if issue._json is None:
            head, sep, tail = self._dumps(self._issue_json(issue)).partition(_SLOT_JSON)
            assert sep, "the milestone slot is always in the issue JSON"
            issue._json = (head, tail)
        head, tail = issue._json
        milestone = self._milestone_bytes(issue.milestone) if issue.milestone is not None else b"null"
        return head + milestone + tail

    def _issue_json(self, issue: Issue) -> dict[str, Any]:
        """Build an issue as GET /repos/{o}/{r}/issues lists it (2024 field set, key order kept)."""
        repo = issue.repo
        repo_api = f"{self._api}/repos/{repo.full_name}"
        api = f"{repo_api}/issues/{issue.number}"
        web = f"{self.html_base}/{repo.full_name}"
        user = _user_slot(self.login)
        assignee = _user_slot(issue.assignee) if issue.assignee else None
        data: dict[str, Any] = {
            "url": api,
            "repository_url": repo_api,
            "labels_url": f"{api}/labels{{/name}}",
            "comments_url": f"{api}/comments",
            "events_url": f"{api}/events",
            "html_url": f"{web}/pull/{issue.number}"
            if issue.pull_request
            else f"{web}/issues/{issue.number}",
            "id": issue.id,
            "node_id": _node_id("PullRequest" if issue.pull_request else "Issue", issue.id),
            "number": issue.number,
            "title": issue.title,
            "user": user,
            "labels": [self._label_json(repo, name) for name in issue.labels],
            "state": issue.state,
            "locked": False,
            "assignee": assignee,
            "assignees": [assignee] if assignee else [],
            "milestone": _SLOT,
            "comments": issue.comments,
            "created_at": _ts(issue.created_at),
            "updated_at": _ts(issue.updated_at),
            "closed_at": _ts(issue.closed_at),
            "author_association": "MEMBER",
            "active_lock_reason": None,
        }
        if issue.pull_request:
            merged = issue.closed_at if issue.state_reason == "completed" else None
            data["draft"] = False
            data["pull_request"] = {
                "url": f"{repo_api}/pulls/{issue.number}",
                "html_url": f"{web}/pull/{issue.number}",
                "diff_url": f"{web}/pull/{issue.number}.diff",
                "patch_url": f"{web}/pull/{issue.number}.patch",
                "merged_at": _ts(merged),
            }
        data["body"] = issue.body
        data["closed_by"] = user if issue.state == "closed" else None
        data["reactions"] = {
            "url": f"{api}/reactions",
            "total_count": 0,
            "+1": 0,
            "-1": 0,
            "laugh": 0,
            "hooray": 0,
            "confused": 0,
            "heart": 0,
            "rocket": 0,
            "eyes": 0,
        }
        data["timeline_url"] = f"{api}/timeline"
        data["performed_via_github_app"] = None
        data["state_reason"] = issue.state_reason
        return data

    def _label_json(self, repo: Repo, name: str) -> dict[str, Any]:
        label_id = self._label_id(repo, name)
        return {
            "id": label_id,
            "node_id": _node_id("Label", label_id),
            "url": f"{self._api}/repos/{repo.full_name}/labels/{quote(name, safe='')}",
            "name": name,
            "color": hashlib.sha1(name.encode()).hexdigest()[:6],
            "default": False,
            "description": None,
        }


# --- helpers --------------------------------------------------------------------------------


def _user_slot(login: str) -> str:
    return f"\x00user:{login}\x00"


def _check_state(state: str) -> None:
    if state not in ("open", "closed"):
        msg = f"state must be 'open' or 'closed', got {state!r}"
        raise ValueError(msg)


def _due(value: datetime | date | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return _utc(value)
    return _utc(datetime.combine(value, time(0), tzinfo=_PACIFIC))


def _completeness(milestone: Milestone) -> float:
    total = milestone.open_issues + milestone.closed_issues
    return milestone.closed_issues / total if total else 0.0


def _sort_key(sort: str) -> Callable[[Issue], tuple[Any, int]]:
    if sort == "updated":
        return lambda i: (i.updated_at, i.number)
    if sort == "comments":
        return lambda i: (i.comments, i.number)
    return lambda i: (i.created_at, i.number)


def _join(parts: Iterable[bytes]) -> bytes:
    return b"[" + b",".join(parts) + b"]"


def _pairs(request: Request) -> list[tuple[str, str]]:
    return [(k, v) for k, values in request.query.items() for v in values]


def _int_param(request: Request, name: str, default: int, low: int, high: int | None) -> int:
    """Read an integer query parameter as GitHub does: garbage means the default."""
    try:
        value = int(request.param(name) or default)
    except ValueError:
        return default
    value = max(low, value)
    return min(high, value) if high is not None else value


def _parse_since(text: str) -> datetime | None:
    """Parse an ISO 8601 `since`; GitHub reads a time without an offset as UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0)


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    # If-None-Match uses the weak comparison (RFC 9110 §13.1.2): W/ prefixes do not matter.
    wanted = etag.removeprefix("W/")
    tags = (tag.strip() for tag in header.split(","))
    return any(tag == "*" or tag.removeprefix("W/") == wanted for tag in tags)


def _last_modified(item: Issue | Milestone) -> dict[str, str]:
    return {"Last-Modified": format_datetime(item.updated_at, usegmt=True)}


# --- search ---------------------------------------------------------------------------------

_SEARCH_TOKEN = re.compile(r'(-?)([A-Za-z_-]+):("[^"]*"|\S+)|"([^"]*)"|(\S+)')
_Predicate = Callable[[Issue], bool]


def _parse_search(query: str) -> tuple[list[str], list[_Predicate]] | str:
    """Turn a search string into repo names and predicates, or return a message for a 422."""
    repos: list[str] = []
    predicates: list[_Predicate] = []
    for match in _SEARCH_TOKEN.finditer(query):
        negate, name, raw, quoted, word = match.groups()
        if name is None:
            text = (quoted if quoted is not None else word).lower()
            if text in ("and", "or", "not") or not text:
                continue
            predicates.append(_title_has(text))
            continue
        value = raw[1:-1] if raw.startswith('"') and raw.endswith('"') and len(raw) > 1 else raw
        name = name.lower()
        if name == "repo" and not negate:
            repos.append(value)
            continue
        predicate = _qualifier(name, value)
        if predicate is None:
            return (
                f"The qualifier `{name}:{value}` is not supported (by GitHub's search or by this simulator)."
            )
        predicates.append(_negated(predicate) if negate else predicate)
    return repos, predicates


def _title_has(text: str) -> _Predicate:
    return lambda issue: text in issue.title.lower()


def _negated(predicate: _Predicate) -> _Predicate:
    return lambda issue: not predicate(issue)


def _qualifier(name: str, value: str) -> _Predicate | None:
    low = value.lower()
    kinds: dict[str, _Predicate] = {
        "issue": lambda i: not i.pull_request,
        "pr": lambda i: i.pull_request,
        "pull-request": lambda i: i.pull_request,
        "open": lambda i: i.state == "open",
        "closed": lambda i: i.state == "closed",
    }
    if name == "is" and low in kinds:
        return kinds[low]
    if name == "type" and low in ("issue", "pr"):
        return kinds[low]
    if name == "state" and low in ("open", "closed"):
        return kinds[low]
    if name == "label":
        wanted = {v.lower() for v in value.split(",")}  # label:a,b means either
        return lambda i: any(label.lower() in wanted for label in i.labels)
    if name == "milestone":
        return lambda i: i.milestone is not None and i.milestone.title.lower() == low
    if name == "assignee":
        return lambda i: i.assignee is not None and i.assignee.lower() == low
    if name == "no" and low in ("milestone", "label", "assignee"):
        return {
            "milestone": lambda i: i.milestone is None,
            "label": lambda i: not i.labels,
            "assignee": lambda i: i.assignee is None,
        }[low]
    if name == "reason":
        reason = low.replace(" ", "_")
        if reason in ISSUE_STATE_REASONS:
            return lambda i: i.state_reason == reason
    if name == "in" and low in ("title", "body", "comments"):
        return lambda i: True
    if name in ("org", "user", "owner"):
        return lambda i: i.repo.owner.lower() == low
    return None
