"""Logging set-up for the CLI: Rich on a terminal, plain lines or JSON lines elsewhere.

PyGithub and urllib3 log request details at DEBUG; they are held at WARNING so nothing
they print can carry a header or a URL with a secret in it.

`--log-format auto` (the default) picks Rich on a terminal; elsewhere JSON lines when
`OKRSYNC_LOG_FORMAT=json` (the Docker image sets it, so `docker logs` and a log shipper get one
object per record), else plain text. `docker run -it` is a terminal, so a person watching
still gets readable lines.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["auto", "text", "json"]
FORMAT_ENV = "OKRSYNC_LOG_FORMAT"

QUIET_LIBRARIES = ("github", "urllib3", "requests", "jira", "httpx", "alembic", "apprise")


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Write to whatever `sys.stderr` is now, so a swapped stream (a test runner's) never goes stale."""

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


# Fields okrsync's call sites pass with `extra=` (a source's name, the daemon's cycle number, an
# alert's event id and KR, an outbox delivery's row id and channel). Only these are copied: a
# record's other attributes are logging's own, and copying unknown extras could put into the
# log whatever a library attached to its records.
STRUCTURED_FIELDS = ("source", "cycle", "event_id", "kr", "delivery_id", "channel")


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object on one line: time, level, logger, message, fields, exception.

    The message is formatted (its `%s` arguments applied) before encoding, so a log shipper
    needs no knowledge of Python's logging; a traceback stays inside the object as text. The
    structured fields a call site gave (`STRUCTURED_FIELDS`) are top-level keys besides the
    message, so a shipper can filter on `source` or `kr` without parsing prose.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in STRUCTURED_FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value if isinstance(value, int | float | bool) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)


def resolve_format(requested: LogFormat, *, tty: bool, env: str | None) -> Literal["rich", "text", "json"]:
    """Decide how to write logs: an explicit choice wins; `auto` reads the terminal and env."""
    if requested == "json":
        return "json"
    if requested == "text":
        return "text"
    if tty:
        return "rich"
    return "json" if (env or "").strip().lower() == "json" else "text"


def configure(*, verbose: bool = False, fmt: LogFormat = "auto") -> None:
    """Send okrsync's logs to stderr: Rich on a terminal, else plain text or JSON lines."""
    level = logging.DEBUG if verbose else logging.INFO
    handler: logging.Handler
    chosen = resolve_format(fmt, tty=sys.stderr.isatty(), env=os.environ.get(FORMAT_ENV))
    if chosen == "rich":
        from rich.logging import RichHandler

        handler = RichHandler(show_path=False, rich_tracebacks=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = _CurrentStderr()
        if chosen == "json":
            handler.setFormatter(JsonFormatter())
        else:
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    # Replace only okrsync's own handler, so handlers others installed (pytest's) stay.
    root.handlers[:] = [h for h in root.handlers if not getattr(h, "okrsync", False)]
    setattr(handler, "okrsync", True)  # noqa: B010 - a marker on a library class
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("okrsync").setLevel(level)
    logging.getLogger("connectors").setLevel(level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    # urllib3 warns on every retry with the request path; okrsync reports the outcome itself.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
