"""Build a PyGithub client for github.com or GitHub Enterprise, with token or App auth.

The bulk lists are paged as raw JSON through `Github.requester` (SPEC §8): PyGithub keeps its
auth, retry and Enterprise URL handling, without materialising every item as an object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from github import Auth, Github, GithubRetry
from github.GithubException import RateLimitExceededExceedsMaxWait
from pydantic import SecretStr


class BoundedRetry(GithubRetry):
    """GithubRetry that also bounds `Retry-After`: urllib3 would sleep whatever it says.

    GitHub's secondary limits answer 403/429 with `Retry-After` (docs: "If the retry-after
    response header is present, you should not retry your request until after that many
    seconds"); a daemon waits that out only up to `max_rate_limit_wait`, then fails the
    source for this cycle.
    """

    def sleep_for_retry(self, response: Any = None) -> bool:
        retry_after = self.get_retry_after(response) if response is not None else None
        if (
            retry_after is not None
            and self.max_rate_limit_wait is not None
            and retry_after > self.max_rate_limit_wait
        ):
            raise RateLimitExceededExceedsMaxWait(
                response.status, {"message": "Retry-After too long"}, {}, wait=retry_after
            )
        return bool(super().sleep_for_retry(response))


@dataclass(frozen=True)
class GitHubAuth:
    """How to authenticate: a token, or a GitHub App installation (app id, key, installation)."""

    token: SecretStr | None = None
    app_id: int | None = None
    app_private_key: SecretStr | None = None
    installation_id: int | None = None

    def to_pygithub(self) -> Auth.Auth | None:
        if self.app_id is not None and self.app_private_key is not None and self.installation_id:
            app = Auth.AppAuth(self.app_id, self.app_private_key.get_secret_value())
            return app.get_installation_auth(self.installation_id)
        if self.token is not None:
            return Auth.Token(self.token.get_secret_value())
        return None


def make_github(
    *,
    base_url: str,
    auth: GitHubAuth,
    timeout: float = 30,
    max_rate_limit_wait: float = 60,
    retries: int = 2,
    per_page: int = 100,
    ca_bundle: str | None = None,
) -> Github:
    """Make a client whose retries and rate-limit waits are bounded.

    PyGithub's defaults would sleep 0.25 s between requests and wait out a rate limit for as
    long as GitHub asks; a daemon needs a bound so a limited source fails this cycle cleanly
    and the others go on. `ca_bundle` (a PEM path) replaces the default trusted CAs; proxies
    come from HTTPS_PROXY / NO_PROXY, which PyGithub's requests session reads itself.
    """
    retry = BoundedRetry(
        total=retries,
        backoff_factor=0.2,
        secondary_rate_wait=min(60.0, max_rate_limit_wait),
        max_rate_limit_wait=max_rate_limit_wait,
    )
    return Github(
        auth=auth.to_pygithub(),
        base_url=base_url.rstrip("/"),
        timeout=max(1, int(timeout)),
        per_page=per_page,
        retry=retry,
        seconds_between_requests=0,
        seconds_between_writes=0,
        verify=ca_bundle if ca_bundle is not None else True,
    )
