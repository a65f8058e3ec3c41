"""The log channel: alerts as WARNING lines, for trying okrsync out and as a last resort.

It always succeeds, so an install with no other channel still shows its alerts somewhere.
"""

from __future__ import annotations

import logging

from okrsync.channels.base import Alert
from okrsync.channels.text import describe, strip_controls
from okrsync.settings import ChannelSettings

alert_logger = logging.getLogger("okrsync.alerts")


class LogChannel:
    """Write each alert as one WARNING line to the `okrsync.alerts` logger."""

    def __init__(self, settings: ChannelSettings) -> None:
        self.name = settings.name

    def notify(self, alert: Alert) -> None:
        """Log the alert's title and summary on one line (tracker text cannot forge lines)."""
        text = describe(alert)
        owner = alert.recipient.id if alert.recipient is not None else "-"
        alert_logger.warning(
            "alert %s %s owner=%s: %s: %s",
            strip_controls(alert.type),
            strip_controls(alert.id),
            strip_controls(owner),
            text.title,
            text.summary,
        )
