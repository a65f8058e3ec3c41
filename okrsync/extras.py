"""Name the pip extra a config needs when its package is not installed.

PostgreSQL's driver and Apprise are optional (`okrsync[postgres]`, `okrsync[apprise]`): most
installs use SQLite and Slack, email or webhooks. A config that needs one of them must fail at
load, with one line saying what to install, rather than with an import traceback in the middle
of a sync or, for Apprise, at the first alert days later.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator, Mapping

from okrsync.tomlpos import KeyPath

# SQLAlchemy's PostgreSQL drivers that okrsync ships an extra for; `postgresql://` means psycopg
# since SQLAlchemy 2.1. Another driver (`postgresql+pg8000://`) is the user's own to install.
_PSYCOPG_DRIVERS = ("psycopg", "")


def installed(module: str) -> bool:
    """True when `module` can be imported, without importing it (Apprise loads slowly)."""
    return importlib.util.find_spec(module) is not None


def missing_extras(database_url: str, channel_types: Mapping[str, str]) -> Iterator[tuple[KeyPath, str]]:
    """Yield (key path, message) for each setting whose extra is not installed."""
    if _needs_psycopg(database_url) and not installed("psycopg"):
        yield ("okrsync", "database_url"), "PostgreSQL needs its driver: install okrsync[postgres]"
    for name, kind in channel_types.items():
        if kind == "apprise" and not installed("apprise"):
            yield (
                ("alerts", "channels", name, "type"),
                "an apprise channel needs Apprise: install okrsync[apprise]",
            )


def _needs_psycopg(url: str) -> bool:
    # Read from the URL's scheme (`dialect+driver://`, SQLAlchemy's form) without SQLAlchemy:
    # loading a config never imports it (validate, pre-commit), and `sync` reads a PostgreSQL
    # store's cursors and starts its searches before SQLAlchemy's 0.15 s import (headstart).
    # A URL that is not of that form is not ours to judge here: opening the database says so.
    scheme, separator, _rest = url.partition("://")
    backend, _plus, driver = scheme.partition("+")
    return bool(separator) and backend == "postgresql" and driver in _PSYCOPG_DRIVERS
