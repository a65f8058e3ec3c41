"""Leave a finished command without tearing the interpreter down object by object.

At exit Python frees every object of the heap one at a time. After a first sync that heap is
large (SQLAlchemy, the tracker client, the poll's key sets): 0.12–0.17 s measured after a
50,000-issue Jira sync, against 0.02 s for the bare `jira` client, on a command that takes
2.6 s. None of that work matters once the output is flushed, the database connections are
closed and the atexit handlers (logging, multiprocessing, finalizers) have run.

So `install`, called first thing in `cli.main`, registers an atexit handler; handlers run
in the reverse order of registration, so the ones libraries register while the command runs
(multiprocessing, finalizers, certifi) run before it. It then shuts logging down (its
handler was registered by an import before `install`, so it would never run), closes the
database engines still open (PostgreSQL then sees a proper goodbye, not a dropped socket:
`pg_stat_database.sessions_abandoned`), flushes stdout and stderr, and ends the process
with `os._exit` and the command's exit status. That status is what `cli.main` recorded from the command's
`SystemExit`; anything else (an exception nobody caught) leaves with 1, as Python would.
Only `cli.main` installs it: code that calls the Typer app directly (the tests' CliRunner)
keeps Python's ordinary exit.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys

_status: list[int] = [1]  # until a command's SystemExit says otherwise


def install() -> None:
    """Register the quick exit; call it first, so that every later atexit handler runs before it."""
    atexit.register(_leave)


def record(exit_code: object) -> None:
    """Keep a command's `SystemExit.code` as the status to leave with (None is 0, text is 1)."""
    if exit_code is None:
        _status[0] = 0
    elif isinstance(exit_code, int):
        _status[0] = exit_code
    else:
        _status[0] = 1


def _leave() -> None:
    logging.shutdown()
    store = sys.modules.get("okrsync.store")  # loaded only by commands that opened a database
    if store is not None:
        with contextlib.suppress(Exception):
            store.dispose_engines()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(_status[0])
