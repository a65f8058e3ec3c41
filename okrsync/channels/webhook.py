"""The webhook channel: the SPEC §5 payload as signed JSON, GitHub's way.

The signature is an HMAC-SHA256 of the exact bytes sent, so the body is serialised once and
those bytes are both signed and posted; a receiver verifies it with a constant-time compare,
as it would for GitHub (https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries).
`X-Okrsync-Delivery` is the event id, the same on every retry, so a receiver can de-duplicate.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import TYPE_CHECKING

from okrsync.channels.base import USER_AGENT, Alert, post
from okrsync.settings import ChannelSettings

if TYPE_CHECKING:
    import httpx


def signature(secret: bytes, body: bytes) -> str:
    """Return the `X-Okrsync-Signature-256` value for `body`: `sha256=<hex HMAC>`."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class WebhookChannel:
    """POST each alert's payload to a URL, signed when the channel has a secret."""

    def __init__(self, settings: ChannelSettings, *, client: httpx.Client | None = None) -> None:
        if settings.url is None:
            msg = f"webhook channel {settings.name!r}: expected a url"
            raise ValueError(msg)
        self.name = settings.name
        self._url = settings.url
        self._secret = settings.secret
        self._client = client

    def notify(self, alert: Alert) -> None:
        """Deliver the payload; 408, 429, 5xx and network errors are retriable (SPEC §5)."""
        body = json.dumps(alert.payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Okrsync-Event": alert.type,
            "X-Okrsync-Delivery": alert.id,
        }
        if self._secret is not None:
            headers["X-Okrsync-Signature-256"] = signature(
                self._secret.get_secret_value().encode("utf-8"), body
            )
        post(
            f"webhook channel {self.name!r}",
            self._url.get_secret_value(),
            content=body,
            headers=headers,
            client=self._client,
        )
