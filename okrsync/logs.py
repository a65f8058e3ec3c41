"""Logging set-up for the CLI: Rich on a terminal, plain lines elsewhere; libraries kept quiet.

PyGithub and urllib3 log request details at DEBUG; they are held at WARNING so nothing
they print can carry a header or a URL with a secret in it.
"""

from __future__ import annotations

import logging
import sys

QUIET_LIBRARIES = ("github", "urllib3", "requests", "jira", "httpx", "alembic", "apprise")


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Write to whatever `sys.stderr` is now, so a swapped stream (a test runner's) never goes stale."""

    @property  # type: ignore[override]
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def configure(*, verbose: bool = False) -> None:
    """Send okrsync's logs to stderr: Rich when it is a terminal, plain text otherwise."""
    level = logging.DEBUG if verbose else logging.INFO
    handler: logging.Handler
    if sys.stderr.isatty():
        from rich.logging import RichHandler

        handler = RichHandler(show_path=False, rich_tracebacks=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = _CurrentStderr()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    # Replace only okrsync's own handler, so handlers others installed (pytest's) stay.
    root.handlers[:] = [h for h in root.handlers if not getattr(h, "okrsync", False)]
    handler.okrsync = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("okrsync").setLevel(level)
    logging.getLogger("connectors").setLevel(level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    # urllib3 warns on every retry with the request path; okrsync reports the outcome itself.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
