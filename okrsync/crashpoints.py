"""Named points where a test can kill the process (SIGKILL) to prove crash safety.

`OKRSYNC_CRASH_AT=<name>` makes the process kill itself when it reaches that point. Nothing
happens unless the variable is set; it exists so the outbox's promises (an alert is never
lost and never sent twice once acknowledged) are tested with a real dead process.
"""

from __future__ import annotations

import os
import signal


def crash_point(name: str) -> None:
    """Die here, without cleanup, when `OKRSYNC_CRASH_AT` names this point."""
    if os.environ.get("OKRSYNC_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
