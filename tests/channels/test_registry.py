"""make_channel picks the class for each channel type from one registry."""

from __future__ import annotations

from typing import Any

import pytest

from okrsync.channels import (
    CHANNELS,
    AppriseChannel,
    EmailChannel,
    LogChannel,
    SlackChannel,
    WebhookChannel,
    make_channel,
)
from okrsync.settings import ChannelSettings


@pytest.mark.parametrize(
    ("extra", "cls"),
    [
        ({"type": "log"}, LogChannel),
        ({"type": "webhook", "url": "https://hooks.example.test/x"}, WebhookChannel),
        ({"type": "slack", "url": "https://hooks.slack.com/services/T/B/X"}, SlackChannel),
        ({"type": "email", "smtp_host": "127.0.0.1", "sender": "okrsync@acme.test"}, EmailChannel),
        ({"type": "apprise", "url": "json://127.0.0.1/"}, AppriseChannel),
    ],
)
def test_each_type_makes_its_channel_named_after_its_table(extra: dict[str, Any], cls: type) -> None:
    channel = make_channel(ChannelSettings(name="chan", **extra))
    assert isinstance(channel, cls)
    assert channel.name == "chan"


def test_every_configurable_type_is_registered() -> None:
    from typing import get_args

    from okrsync.settings import ChannelType

    assert set(CHANNELS) == set(get_args(ChannelType))


def test_the_channel_repr_holds_no_secret() -> None:
    settings = ChannelSettings(name="hook", type="webhook", url="https://h.test/T0KEN", secret="s3cret")
    shown = repr(vars(make_channel(settings)))
    assert "T0KEN" not in shown and "s3cret" not in shown
