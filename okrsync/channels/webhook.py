"""The webhook channel: the SPEC §5 payload as signed JSON, GitHub's way and the Standard Webhooks way.

The body is serialised once and those exact bytes are signed and posted. Two signatures ride
on each POST when the channel has a secret:

- `X-Okrsync-Signature-256: sha256=<hex HMAC-SHA256 of the body>`, GitHub's scheme
  (https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries), kept
  unchanged for receivers written against it;
- the Standard Webhooks headers (https://www.standardwebhooks.com/, spec
  `standard-webhooks.md`): `webhook-id` (the event id, the same on every retry, an idempotency
  key), `webhook-timestamp` (integer Unix seconds of this attempt) and `webhook-signature`
  (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`). The timestamp is signed, so a receiver
  that refuses old timestamps (the spec's libraries allow 5 minutes) and ids it has seen
  refuses replays, which the body-only GitHub signature cannot do.

How the one `secret` serves both schemes (`standard_key`): the spec serialises a symmetric
secret as `whsec_` + base64 of the key bytes. A secret written that way (`whsec_…`) is decoded,
so a receiver gives the same string to any Standard Webhooks library. Any other secret is used
as its UTF-8 bytes, exactly as the GitHub-style signature uses it; such a receiver gives the
library the bytes (`Webhook(secret.encode())`) or `whsec_` + base64 of them. The GitHub-style
header is always keyed on the secret exactly as written, so existing receivers keep working.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretBytes

from okrsync.channels.base import USER_AGENT, Alert, post
from okrsync.settings import ChannelSettings

if TYPE_CHECKING:
    import httpx

STANDARD_SECRET_PREFIX = "whsec_"


def signature(secret: bytes, body: bytes) -> str:
    """Return the `X-Okrsync-Signature-256` value for `body`: `sha256=<hex HMAC>`."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def standard_key(secret: str) -> bytes:
    """Turn the channel's secret into the Standard Webhooks HMAC key (see the module docstring).

    Raises ValueError when a `whsec_` secret is not base64, rather than signing with a key the
    receiver's library would decode differently.
    """
    if not secret.startswith(STANDARD_SECRET_PREFIX):
        return secret.encode("utf-8")
    encoded = secret[len(STANDARD_SECRET_PREFIX) :]
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        msg = "a secret starting with whsec_ must continue in base64 (the Standard Webhooks format)"
        raise ValueError(msg) from None
    if not key:
        raise ValueError("a whsec_ secret must hold a key after the prefix")
    return key


def standard_signature(key: bytes, *, webhook_id: str, timestamp: int, body: bytes) -> str:
    """Return the `webhook-signature` value: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")


class WebhookChannel:
    """POST each alert's payload to a URL, signed when the channel has a secret."""

    def __init__(
        self,
        settings: ChannelSettings,
        *,
        client: httpx.Client | None = None,
        ca_bundle: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if settings.url is None:
            msg = f"webhook channel {settings.name!r}: expected a url"
            raise ValueError(msg)
        self.name = settings.name
        self._url = settings.url
        self._secret = settings.secret
        self._standard_key: SecretBytes | None = None  # Secret*: a repr or a traceback hides it
        if settings.secret is not None:
            try:
                self._standard_key = SecretBytes(standard_key(settings.secret.get_secret_value()))
            except ValueError as exc:
                msg = f"webhook channel {settings.name!r}: secret: {exc}"
                raise ValueError(msg) from None
        self._client = client
        self._ca_bundle = ca_bundle
        self._clock = clock

    def notify(self, alert: Alert) -> None:
        """Deliver the payload; 408, 429, 5xx and network errors are retriable (SPEC §5)."""
        body = json.dumps(alert.payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        timestamp = int(self._clock())  # this attempt's time: a retry is signed anew
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Okrsync-Event": alert.type,
            "X-Okrsync-Delivery": alert.id,
            "webhook-id": alert.id,
            "webhook-timestamp": str(timestamp),
        }
        if self._secret is not None and self._standard_key is not None:
            headers["X-Okrsync-Signature-256"] = signature(
                self._secret.get_secret_value().encode("utf-8"), body
            )
            headers["webhook-signature"] = standard_signature(
                self._standard_key.get_secret_value(), webhook_id=alert.id, timestamp=timestamp, body=body
            )
        post(
            f"webhook channel {self.name!r}",
            self._url.get_secret_value(),
            content=body,
            headers=headers,
            client=self._client,
            ca_bundle=self._ca_bundle,
        )
