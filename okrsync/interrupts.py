"""Ctrl-C: one line on stderr and exit status 130 (128 + SIGINT), never a traceback.

Python's default answer to Ctrl-C is a `KeyboardInterrupt`, which Typer turns into a silent
exit 130 and code elsewhere may swallow. `okrsync` instead raises `Interrupted` from its own
SIGINT handler: it unwinds like KeyboardInterrupt (a BaseException, so the engine's
per-source `except Exception` lets it through and the open transaction rolls back), and
`cli.main` turns it into the one line. The daemon (`okrsync run`) installs its own handler,
which stops the loop after its current step; it then reports the stop the same way.
"""

from __future__ import annotations

import signal
from types import FrameType

EXIT_INTERRUPTED = 128 + signal.SIGINT
MESSAGE = "interrupted: stopped; what was committed before Ctrl-C is kept, the rest was rolled back"


class Interrupted(BaseException):  # noqa: N818 - a signal to unwind, like KeyboardInterrupt
    """Raised where the program was when Ctrl-C arrived (or by a command that stopped for it)."""


def raise_interrupted(signum: int, frame: FrameType | None) -> None:
    """The SIGINT handler: unwind from wherever the main thread is."""
    raise Interrupted


def install() -> None:
    """Make Ctrl-C raise `Interrupted` in the main thread from now on."""
    signal.signal(signal.SIGINT, raise_interrupted)
