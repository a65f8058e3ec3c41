"""What every alert channel receives and promises, and the HTTP classification they share.

A channel is one class with one method, `notify(alert)`, after healthchecks' transports: it
either returns (the channel took the alert) or raises `DeliveryError(permanent=...)`. The
outbox retries a retriable error with backoff and marks a permanent one failed (SPEC §5), so
the classification here decides whether a user ever sees a broken channel.

Nothing a channel raises may hold a secret: webhook and Slack URLs embed tokens, so messages
name the channel (its table name in config.toml) and never the URL (an untrusted TLS
certificate names the host alone, which holds no token), and errors from the HTTP
library are reduced to their class name and raised `from None`, so a traceback printed at the
daemon boundary cannot reveal them through `__cause__` either.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from okrsync import __version__
from okrsync.channels.text import strip_controls
from okrsync.errors import DeliveryError

if TYPE_CHECKING:
    import httpx

    from okrsync.settings import Person

USER_AGENT = f"okrsync/{__version__}"
HTTP_TIMEOUT = 10.0
"""Seconds for one HTTP delivery; a hung endpoint must not stall the delivery loop."""


@dataclass(frozen=True)
class Recipient:
    """The KR owner, resolved through `[people]`; any part may be unknown (SPEC §5)."""

    id: str
    name: str | None = None
    email: str | None = None
    slack: str | None = None

    @classmethod
    def from_person(cls, owner_id: str, person: Person | None) -> Recipient:
        """Resolve an owner id; a person missing from `[people]` keeps only the id."""
        if person is None:
            return cls(id=owner_id)
        return cls(id=owner_id, name=person.name, email=person.email, slack=person.slack)

    @property
    def display_name(self) -> str:
        """The owner's name for humans: the `[people]` name, else the id."""
        return self.name or self.id


@dataclass(frozen=True)
class Alert:
    """One event to deliver: its id doubles as the delivery id, so retries are recognisable."""

    id: str
    """The event id; also the delivery id (`X-Okrsync-Delivery`, the email's Message-ID)."""
    type: str
    """milestone.overdue | milestone.rescheduled | milestone.at_risk | link.broken | kr.stale |
    kr.confidence_drop | digest.weekly | test."""
    payload: dict[str, Any]
    """Exactly the SPEC §5 webhook JSON; tracker text in it is untrusted."""
    recipient: Recipient | None
    """The KR owner, or None when the event has no owner (a test alert)."""


class Channel(Protocol):
    """One way alerts leave okrsync."""

    name: str

    def notify(self, alert: Alert) -> None:
        """Deliver `alert`, or raise `DeliveryError(permanent=...)`."""
        ...


def is_retriable_status(status: int) -> bool:
    """Say whether an HTTP status is worth retrying: 408, 429 and 5xx (SPEC §5)."""
    return status in (408, 429) or status >= 500


_DEFAULT_PORTS = {"http": 80, "https": 443}


def endpoint(url: str) -> str:
    """Name the host and port of `url`, so an operator knows what could not be reached.

    Only those two: a webhook URL's path and query often are the secret (Slack's hooks), and
    its user part may hold a password.
    """
    import httpx

    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "the configured URL"
    port = parsed.port or _DEFAULT_PORTS.get(parsed.scheme)
    return f"{parsed.host}:{port}" if port else parsed.host


def tls_verify(ca_bundle: Path | None) -> ssl.SSLContext | bool:
    """Say what httpx should trust: the `[http] ca_bundle` PEM file, else its defaults (certifi).

    httpx takes an `SSLContext` (a path string is deprecated); the bundle replaces the default
    CAs, as `verify=<path>` does for requests under jira and PyGithub, so both stacks trust
    the same certificates.
    """
    if ca_bundle is None:
        return True
    return ssl.create_default_context(cafile=str(ca_bundle))


def _untrusted_certificate(exc: Exception) -> str | None:
    """Return the TLS verification failure inside a transport error, or None for any other."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen.verify_message or "certificate verify failed"
        seen = seen.__cause__ or seen.__context__
    text = str(exc)
    return "certificate verify failed" if "CERTIFICATE_VERIFY_FAILED" in text else None


def post(
    channel: str,
    url: str,
    *,
    content: bytes,
    headers: dict[str, str],
    client: httpx.Client | None = None,
    detail: bool = False,
    ca_bundle: Path | None = None,
) -> httpx.Response:
    """POST `content` to `url` and return the 2xx response, or raise a classified error.

    `channel` names the channel in messages instead of the secret URL. Redirects are not
    followed: a POST that is redirected was not delivered, and the user must fix the URL.
    `detail` adds the first bytes of the response body to the message, for vendors whose
    answers are short error codes (Slack's `no_service`); a generic endpoint's body could
    echo anything, so it is left out. A certificate that is not trusted is named with the
    host (not the URL, whose path may hold a token) and the `[http] ca_bundle` cure.
    Proxies come from HTTPS_PROXY / HTTP_PROXY / NO_PROXY, which httpx reads (`trust_env`).
    """
    import httpx  # here, not at the top: a cycle that sends nothing never loads it

    try:
        if client is None:
            with httpx.Client(
                timeout=HTTP_TIMEOUT, follow_redirects=False, verify=tls_verify(ca_bundle)
            ) as own:
                response = own.post(url, content=content, headers=headers)
        else:
            response = client.post(url, content=content, headers=headers)
    except httpx.TimeoutException as exc:
        msg = f"{channel}: timed out after {HTTP_TIMEOUT:g} s waiting for {endpoint(url)} ({type(exc).__name__})"
        raise DeliveryError(msg) from None
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        msg = f"{channel}: the URL is not a valid http(s) address ({type(exc).__name__})"
        raise DeliveryError(msg, permanent=True) from None
    except httpx.TransportError as exc:
        untrusted = _untrusted_certificate(exc)
        if untrusted is not None:
            host = urlsplit(url).hostname or "the server"
            msg = (
                f"{channel}: the TLS certificate of {host} is not trusted ({untrusted}); "
                "if a company CA signs it, set [http] ca_bundle to its PEM file"
            )
            raise DeliveryError(msg) from None
        what = "cannot reach" if isinstance(exc, httpx.ConnectError) else "network error with"
        msg = f"{channel}: {what} {endpoint(url)} ({type(exc).__name__})"
        raise DeliveryError(msg) from None
    status = response.status_code
    if 200 <= status < 300:
        return response
    answer = f"answered {status} {response.reason_phrase}".rstrip()
    if detail:
        body = strip_controls(response.text)[:100]
        if body:
            answer += f" ({body})"
    if 300 <= status < 400:
        msg = f"{channel}: {answer}, a redirect; the channel's URL needs updating"
        raise DeliveryError(msg, permanent=True)
    retriable = is_retriable_status(status)
    msg = f"{channel}: {answer}" + ("" if retriable else "; not retrying")
    raise DeliveryError(msg, permanent=not retriable)
