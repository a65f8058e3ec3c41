"""Named points where a test can kill (SIGKILL) or freeze the process, to prove what it promises.

`OKRSYNC_CRASH_AT=<name>` makes the process kill itself when it reaches that point; it exists
so the outbox's promises (an alert is never lost and never sent twice once acknowledged) are
tested with a real dead process. `OKRSYNC_FREEZE_AT=<name>` with `OKRSYNC_FREEZE_WHILE=<path>`
makes the thread that reaches the point block for as long as that file exists, as a call that
never returns would; it exists so `/livez` is tested on a real stuck loop. Nothing happens
unless the variables are set.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

FREEZE_CHECK_SECONDS = 0.05


def crash_point(name: str) -> None:
    """Die here, without cleanup, when `OKRSYNC_CRASH_AT` names this point."""
    if os.environ.get("OKRSYNC_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def freeze_point(name: str) -> None:
    """Block here while `OKRSYNC_FREEZE_WHILE` names an existing file, when `OKRSYNC_FREEZE_AT` names this point."""
    if os.environ.get("OKRSYNC_FREEZE_AT") != name:
        return
    marker = os.environ.get("OKRSYNC_FREEZE_WHILE")
    while marker and Path(marker).exists():
        time.sleep(FREEZE_CHECK_SECONDS)
