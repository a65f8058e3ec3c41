"""The Apprise channel: any of Apprise's services (Teams, Discord, ntfy, ...) from one URL.

The module is not called `apprise.py`, which would shadow the library inside this package.
Apprise reports success as a boolean and hides the reason in its own log, so a False is
treated as retriable (it is usually an unreachable or failing service) and only a URL that
Apprise cannot parse at all is permanent. The URL holds the service's token: it is never put
in a message here, and Apprise's own logging masks secrets (`secure_logging`, on by default).
"""

from __future__ import annotations

from okrsync.channels.base import Alert
from okrsync.channels.text import alert_lines, alert_title
from okrsync.errors import DeliveryError
from okrsync.settings import ChannelSettings


class AppriseChannel:
    """Send each alert as a plain-text notification through an Apprise URL."""

    def __init__(self, settings: ChannelSettings) -> None:
        if settings.url is None:
            msg = f"apprise channel {settings.name!r}: expected a url"
            raise ValueError(msg)
        self.name = settings.name
        self._url = settings.url
        self._label = f"apprise channel {settings.name!r}"

    def notify(self, alert: Alert) -> None:
        """Notify through Apprise; an unparsable URL is permanent, any other failure retriable.

        The body is sent as text (`NotifyFormat.TEXT`) so services that render Markdown or
        HTML get it escaped by Apprise, not interpreted.
        """
        import apprise  # here, not at the top: loading Apprise's plugins is slow, sending is rare

        client = apprise.Apprise(asset=apprise.AppriseAsset(secure_logging=True))
        if not client.add(self._url.get_secret_value()):
            msg = f"{self._label}: Apprise cannot use the URL (unknown scheme or missing parts)"
            raise DeliveryError(msg, permanent=True)
        sent = client.notify(
            title=alert_title(alert),
            body="\n".join(alert_lines(alert)),
            notify_type=apprise.NotifyType.WARNING,
            body_format=apprise.NotifyFormat.TEXT,
        )
        if not sent:
            msg = f"{self._label}: the service did not accept the notification (see the apprise log)"
            raise DeliveryError(msg)
