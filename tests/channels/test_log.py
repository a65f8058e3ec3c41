"""The log channel: one WARNING line on okrsync.alerts, tracker text kept on that line."""

from __future__ import annotations

import logging

import pytest

from okrsync.channels import Alert, LogChannel, make_channel
from okrsync.settings import ChannelSettings
from tests.channels.conftest import hostile_alert


def channel() -> LogChannel:
    made = make_channel(ChannelSettings(name="log", type="log"))
    assert isinstance(made, LogChannel)
    return made


def test_logs_one_warning_with_the_alert_text(caplog: pytest.LogCaptureFixture, alert: Alert) -> None:
    caplog.set_level(logging.WARNING, logger="okrsync.alerts")
    channel().notify(alert)
    (record,) = caplog.records
    assert record.name == "okrsync.alerts"
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert message.startswith(f"alert milestone.rescheduled {alert.id} owner=bob: Milestone rescheduled")
    assert alert.payload["text"] in message


def test_tracker_text_cannot_forge_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="okrsync.alerts")
    channel().notify(hostile_alert())
    (record,) = caplog.records
    assert "\n" not in record.getMessage() and "\r" not in record.getMessage()
