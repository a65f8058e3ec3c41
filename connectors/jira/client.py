"""Build a `jira` client for Cloud or Data Center, and call it with bounded rate-limit waits.

Why the library's own retry is switched off (`max_retries=0`): `ResilientSession` reads
`Retry-After` with `int()`, so the HTTP-date form Jira may send (`Retry-After: Sun, 22 Nov 2026
10:00:05 GMT`, RFC 9110 §10.2.3) raises a ValueError out of its retry loop, and it sleeps as
long as it likes. Instead every request goes through `Caller.call`, which waits out a 429 or
503 for as long as `Retry-After` asks (seconds or a date) within `max_rate_limit_wait`,
through an injectable `sleep`, and turns every other failure into a `SourceError` that names
the source, what was asked and Jira's `errorMessages`, never a credential (a `JIRAError`'s
own text prints the request headers, Authorization included, so it is never shown).

The field list (`/rest/api/2/field`) is read once per client: it finds the story points and
Epic Link fields, and it seeds the client's field cache, which the client would otherwise
re-fetch before every search while it is empty (SPEC §8).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import requests
from jira import JIRA, JIRAError
from pydantic import SecretStr

from connectors.jira.records import SiteFields
from connectors.net import network_problem
from okrsync.errors import SourceError

logger = logging.getLogger(__name__)

T = TypeVar("T")

RETRY_STATUSES = (429, 503)
# Names Jira gives the story points field: company-managed projects and Data Center say
# "Story Points", Cloud team-managed projects "Story point estimate"; the id differs per site.
STORY_POINTS_NAMES = ("story points", "story point estimate")
EPIC_LINK_SCHEMA = "com.pyxis.greenhopper.jira:gh-epic-link"
_MAX_ATTEMPTS = 10  # a server answering "Retry-After: 0" forever must not spin us forever


def make_jira(
    *, url: str, email: str | None, token: SecretStr | None, timeout: float, ca_bundle: str | None = None
) -> JIRA:
    """Make a client: Basic email + API token when an email is given (Cloud), else a Bearer PAT.

    Building it asks for `serverInfo`, whose `deploymentType` tells Cloud from Data Center.
    `ca_bundle` (a PEM path) replaces the default trusted CAs (the client's `verify` option);
    proxies come from HTTPS_PROXY / NO_PROXY, which its requests session reads itself.
    """
    secret = token.get_secret_value() if token is not None else None
    auth: dict[str, Any] = {}
    if email and secret:
        auth["basic_auth"] = (email, secret)
    elif secret:
        auth["token_auth"] = secret
    return JIRA(
        server=url.rstrip("/"),
        max_retries=0,
        timeout=timeout,
        get_server_info=True,
        options={"check_update": False, "verify": ca_bundle if ca_bundle is not None else True},
        **auth,
    )


def is_cloud(jira: JIRA) -> bool:
    """Say whether the site is Jira Cloud, from `serverInfo.deploymentType` (read at connect)."""
    return jira.deploymentType == "Cloud"


def site_fields(fields: list[dict[str, Any]], *, story_points: str, cloud: bool) -> SiteFields:
    """Find the story points field (by name when `story_points` is "auto") and, on Data Center,
    the Epic Link field (Cloud links an epic's children through `parent` instead)."""
    points: str | None = story_points
    if story_points == "auto":
        named = [f for f in fields if str(f.get("name", "")).casefold() in STORY_POINTS_NAMES]
        named.sort(key=lambda f: (STORY_POINTS_NAMES.index(str(f["name"]).casefold()), not f.get("custom")))
        points = str(named[0]["id"]) if named else None
        if points is None:
            logger.info("no story points field on this site; points weighting falls back to counts")
    epic_link = None
    if not cloud:
        for f in fields:
            schema = f.get("schema") or {}
            if schema.get("custom") == EPIC_LINK_SCHEMA or f.get("name") == "Epic Link":
                epic_link = str(f["id"])
                break
    return SiteFields(story_points=points, epic_link=epic_link)


def find_field(fields: list[dict[str, Any]], wanted: str) -> str | None:
    """Find a field's id by its id (`customfield_10016`) or its name (`Story Points`, any case).

    A name several fields share picks a custom field first, as users who name a field in a
    KR mean their own field rather than a system one of the same name.
    """
    for f in fields:
        if str(f.get("id")) == wanted:
            return wanted
    named = [f for f in fields if str(f.get("name", "")).casefold() == wanted.casefold()]
    named.sort(key=lambda f: not f.get("custom"))
    return str(named[0]["id"]) if named else None


def seed_field_cache(jira: JIRA, fields: list[dict[str, Any]]) -> None:
    """Fill the client's name → id field cache from a field list we already have.

    The client maps field names through this cache before each search and reloads it from
    `/field` whenever it is empty, which would be one extra request per search page (SPEC §8).
    An entry is always present, so even a site listing no clause names is not asked again.
    """
    cache = {name: str(f["id"]) for f in fields for name in f.get("clauseNames") or () if "id" in f}
    jira._fields_cache_value = cache or {"issuekey": "issuekey"}


def retry_after_seconds(value: str | None, *, now: datetime) -> float | None:
    """Read `Retry-After` as seconds to wait: a number of seconds, or an HTTP date.

    Return None when the header is missing or unreadable; a date in the past is 0.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # RFC 9110 dates are GMT
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


def fresh_connections(jira: JIRA) -> None:
    """Drop the client's pooled connections (in a forked child: the parent's sockets).

    A child made by fork holds copies of the parent's open connections; writing a request on
    one would mix two processes' traffic on a socket. Closing the pools closes only this
    process's copies; the next request opens a connection of its own.
    """
    for adapter in jira._session.adapters.values():
        adapter.close()


class Caller:
    """Make one source's requests: count them, wait out rate limits within a bound, classify failures.

    `sleep` and `clock` are the test seams: tests pass a sleep that records the wait and moves
    a fake clock, so a 2 s `Retry-After` costs no wall time.
    """

    def __init__(
        self,
        source: str,
        *,
        max_wait: float,
        sleep: Callable[[float], None],
        clock: Callable[[], datetime],
    ) -> None:
        self.source = source
        self.max_wait = max_wait
        self.sleep = sleep
        self.clock = clock
        self.requests = 0
        self.waited = 0.0

    def call(self, what: str, fn: Callable[[], T], *, passthrough: Collection[int] = ()) -> T:
        """Run `fn` (one request through the client) and return its result.

        A 429 or 503 is retried after the wait Jira asks for, while the waits for this call
        stay within `max_wait`; statuses in `passthrough` re-raise the `JIRAError` for the
        caller to read (a 404 that means "does not exist"); anything else is a SourceError.
        """
        waited = 0.0
        for attempt in range(_MAX_ATTEMPTS):
            self.requests += 1
            try:
                return fn()
            except JIRAError as exc:
                status = exc.status_code
                if status in passthrough:
                    raise
                if status not in RETRY_STATUSES:
                    raise self.error(what, exc) from None
                delay = self._delay(exc, attempt)
                if waited + delay > self.max_wait:
                    raise self._limited(what, exc, delay=delay, waited=waited) from None
                logger.warning(
                    "source %s: %s answered %s; waiting %.1f s as asked",
                    self.source,
                    what,
                    status,
                    delay,
                    extra={"source": self.source},
                )
                self.sleep(delay)
                waited += delay
                self.waited += delay
            except ValueError as exc:  # a malformed body (requests' JSONDecodeError is one)
                msg = f"{what}: Jira answered something that is not JSON ({_short(str(exc))})"
                raise SourceError(self.source, msg, retriable=True) from None
            except requests.RequestException as exc:  # ConnectionError, Timeout, …
                msg = f"{what} failed: {network_problem(exc)}"
                raise SourceError(self.source, msg, retriable=True) from None
        msg = f"{what}: still rate limited after {_MAX_ATTEMPTS} attempts ({waited:g} s waited)"
        raise SourceError(self.source, msg, retriable=True)

    def _delay(self, exc: JIRAError, attempt: int) -> float:
        """Seconds to wait before the next attempt: what `Retry-After` says, else 1, 2, 4 … s.

        A date is measured against the response's own `Date` (the server's clock, so no skew)
        when there is one, else against our clock. At least 1 s, as Jira's client also does.
        """
        headers = exc.response.headers if exc.response is not None else {}
        now = self.clock()
        server_date = headers.get("Date")
        if server_date:
            try:
                now = parsedate_to_datetime(server_date)
            except (TypeError, ValueError, IndexError):
                pass
        asked = retry_after_seconds(headers.get("Retry-After"), now=now)
        if asked is None:
            return float(2**attempt)
        return max(1.0, float(math.ceil(asked)))

    def _limited(self, what: str, exc: JIRAError, *, delay: float, waited: float) -> SourceError:
        reason = "rate limited" if exc.status_code == 429 else "unavailable"
        spent = f" after waiting {waited:g} s" if waited else ""
        msg = (
            f"{what}: Jira answered {exc.status_code} ({reason}){spent} and asks to wait {delay:g} s more, "
            f"beyond max_rate_limit_wait = {self.max_wait:g} s; the source is skipped this cycle"
        )
        return SourceError(self.source, msg, retriable=True)

    def error(self, what: str, exc: JIRAError) -> SourceError:
        """Describe a failed request with its status and Jira's `errorMessages`, and no secret."""
        status = exc.status_code
        text = _short(str(exc.text or "").strip())
        msg = f"{what}: Jira answered {status if status is not None else 'nothing'}"
        if text:
            msg += f": {text}"
        if status == 401:
            msg += " (check the source's email and token: Cloud uses email + API token, Data Center a PAT)"
        elif status == 403:
            msg += " (the account may lack permission to browse this project)"
        retriable = status is None or status >= 500 or status == 408
        return SourceError(self.source, msg, retriable=retriable)


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
