"""Give a first sync's searches a head start while the process still imports and opens the store.

A first sync of a large Jira site spends its first second on one core, loading SQLAlchemy,
the table models and the driver and opening the store, while the other core idles; the
tracker's searches then take the rest. Started before that, they run meanwhile (issue 9: the
bare client sends its first search about 0.15 s after it starts; okrsync sent it after
0.8–1 s). Which searches a source needs depends on its stored cursor, so this module reads
the cursors the cheap way first: the stdlib `sqlite3`, or psycopg without SQLAlchemy. What it
cannot read for sure (an unusual URL, a database it cannot reach) simply gets no head start:
the poll then does everything itself, as always.

Only connectors that offer `start_early` take part (Jira, for searches split over forked
children). The poll itself re-reads its cursor in its own transaction and adopts the started
searches only when they are exactly the ones it needs (`JiraPoller.start_early`).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

from okrsync.errors import OkrsyncError
from okrsync.okrs import OkrSet
from okrsync.sources import Poller, make_poller

logger = logging.getLogger(__name__)

_CURSORS_SQL = "SELECT name, cursor FROM source_state"


@runtime_checkable
class StartsEarly(Protocol):
    """A poller that can start the searches of its next poll from a stored cursor."""

    def start_early(self, cursor: dict[str, Any]) -> bool: ...


def head_start(settings: Any, okrs: OkrSet, *, only: str | None = None) -> dict[str, Poller]:
    """Make the pollers of sources that can start early, and start them from their stored cursors.

    Returns the pollers made (started or not), for the cycle to use: a poller holds its
    started searches. An empty dict when the cursors cannot be read here.
    """
    names = [n for n, s in settings.sources.items() if (only is None or n == only) and s.kind == "jira"]
    if not names:
        return {}
    cursors = stored_cursors(settings.okrsync.database_url)
    if cursors is None:
        return {}
    pollers: dict[str, Poller] = {}
    for name in names:
        poller = make_poller(settings.sources[name], okrs, ca_bundle=settings.http.ca_bundle)
        pollers[name] = poller
        if not isinstance(poller, StartsEarly):
            continue
        try:
            started = poller.start_early(cursors.get(name, {}))
        except Exception as exc:  # noqa: BLE001 - the poll meets the problem again, and records it
            said = str(exc) if isinstance(exc, OkrsyncError) else type(exc).__name__  # never a secret
            logger.debug("source %s: no head start: %s", name, said, extra={"source": name})
            continue
        if started:
            logger.debug("source %s: searches started before the store opened", name, extra={"source": name})
    return pollers


def stored_cursors(database_url: str) -> dict[str, dict[str, Any]] | None:
    """Read every source's stored cursor by name; {} for a store not made yet; None: cannot tell.

    Read-only and outside SQLAlchemy (`okrsync.store.SourceState` is the table's definition).
    """
    parts = urlsplit(database_url)
    scheme = parts.scheme.split("+", 1)
    try:
        if scheme[0] == "sqlite" and scheme[1:] in ([], ["pysqlite"]):
            return _sqlite_cursors(parts.path)
        if scheme[0] in ("postgresql", "postgres") and scheme[1:] in ([], ["psycopg"]):
            return _postgresql_cursors(parts._replace(scheme="postgresql").geturl())
    except Exception as exc:  # noqa: BLE001 - any failure here only costs the head start
        logger.debug("no head start: the stored cursors could not be read (%s)", type(exc).__name__)
    return None


def _sqlite_cursors(url_path: str) -> dict[str, dict[str, Any]] | None:
    """`sqlite:///relative.db` has the path `/relative.db`; `sqlite:////abs.db`, `//abs.db`."""
    if not url_path.startswith("/") or url_path in ("/", "/:memory:") or url_path.startswith("/file:"):
        return None
    path = Path(unquote(url_path[1:]))
    if not path.exists():
        return {}
    with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as connection:
        if not connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'source_state'").fetchone():
            return {}
        rows = connection.execute(_CURSORS_SQL).fetchall()
    return {str(name): json.loads(cursor) if isinstance(cursor, str) else {} for name, cursor in rows}


def _postgresql_cursors(conninfo: str) -> dict[str, dict[str, Any]]:
    import psycopg

    with psycopg.connect(conninfo, connect_timeout=5, autocommit=True) as connection:
        found = connection.execute("SELECT to_regclass('source_state') IS NOT NULL").fetchone()
        if not found or not found[0]:
            return {}
        rows = connection.execute(_CURSORS_SQL).fetchall()
    return {str(name): cursor if isinstance(cursor, dict) else {} for name, cursor in rows}
