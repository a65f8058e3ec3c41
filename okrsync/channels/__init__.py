"""Alert channels: how an alert leaves okrsync (SPEC §5).

One class per channel type, each with one method, `notify(alert)`, that returns or raises
`DeliveryError(permanent=...)`; `make_channel` picks the class from `CHANNELS` by the
`type` of `[alerts.channels.<name>]`.

    Alert, Recipient        what a channel receives (base)
    LogChannel              a WARNING line on the okrsync.alerts logger (log)
    WebhookChannel          signed JSON POST, GitHub's scheme (webhook)
    SlackChannel            Block Kit to an incoming webhook (slack)
    EmailChannel            SMTP, text + HTML, one message per recipient (email)
    AppriseChannel          any Apprise URL (apprise_channel)
    text                    payload → words, escaping; shared by all of them

The registry names each class by module rather than holding it, and the channel modules
import their libraries (httpx, Apprise) only when sending: a cycle with nothing to
deliver, the daemon's usual one, then loads none of them, and a log-only install never does.
The classes are still importable from here (`from okrsync.channels import SlackChannel`).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

from okrsync.channels.base import Alert, Channel, Recipient

if TYPE_CHECKING:
    from okrsync.channels.apprise_channel import AppriseChannel
    from okrsync.channels.email import EmailChannel
    from okrsync.channels.log import LogChannel
    from okrsync.channels.slack import SlackChannel
    from okrsync.channels.webhook import WebhookChannel
    from okrsync.settings import ChannelSettings

# type -> (module, class); the module is imported when a channel of that type is made.
CHANNELS: dict[str, tuple[str, str]] = {
    "log": ("okrsync.channels.log", "LogChannel"),
    "webhook": ("okrsync.channels.webhook", "WebhookChannel"),
    "slack": ("okrsync.channels.slack", "SlackChannel"),
    "email": ("okrsync.channels.email", "EmailChannel"),
    "apprise": ("okrsync.channels.apprise_channel", "AppriseChannel"),
}
# The types that speak HTTP through httpx, and so take `[http] ca_bundle` (Apprise has its own
# stack, requests, which reads REQUESTS_CA_BUNDLE; email speaks SMTP).
HTTP_CHANNELS = frozenset({"webhook", "slack"})


def channel_class(kind: str) -> Callable[..., Channel]:
    """Import and return the class of channel type `kind`."""
    module, name = CHANNELS[kind]
    cls: Callable[..., Channel] = getattr(import_module(module), name)
    return cls


def make_channel(settings: ChannelSettings, *, ca_bundle: Path | None = None) -> Channel:
    """Build the channel `settings` describes; HTTP channels trust `ca_bundle` when given."""
    cls = channel_class(settings.type)
    if settings.type in HTTP_CHANNELS:
        return cls(settings, ca_bundle=ca_bundle)
    return cls(settings)


def __getattr__(name: str) -> Any:
    """Resolve `okrsync.channels.SlackChannel` and its siblings on first use (PEP 562)."""
    for kind, (_module, class_name) in CHANNELS.items():
        if class_name == name:
            return channel_class(kind)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


__all__ = [
    "CHANNELS",
    "Alert",
    "AppriseChannel",
    "Channel",
    "EmailChannel",
    "LogChannel",
    "Recipient",
    "SlackChannel",
    "WebhookChannel",
    "make_channel",
]
