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
"""

from __future__ import annotations

from collections.abc import Callable

from okrsync.channels.apprise_channel import AppriseChannel
from okrsync.channels.base import Alert, Channel, Recipient
from okrsync.channels.email import EmailChannel
from okrsync.channels.log import LogChannel
from okrsync.channels.slack import SlackChannel
from okrsync.channels.webhook import WebhookChannel
from okrsync.settings import ChannelSettings

CHANNELS: dict[str, Callable[[ChannelSettings], Channel]] = {
    "log": LogChannel,
    "webhook": WebhookChannel,
    "slack": SlackChannel,
    "email": EmailChannel,
    "apprise": AppriseChannel,
}


def make_channel(settings: ChannelSettings) -> Channel:
    """Build the channel `settings` describes."""
    return CHANNELS[settings.type](settings)


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
