"""Create the SQLite database file readable by its owner only (mode 0600).

The database holds tracker text (issue titles, assignees' logins) and the alert outbox, which a
shared host's other users have no business reading. SQLite creates a new file with 0644 less
the umask, so okrsync creates it first, empty, with 0600 (an empty file is a valid empty
database). SQLite gives the files it creates beside it (`-journal`, `-wal`, `-shm`) the main
file's permissions (`findCreateFileMode` in SQLite's src/os_unix.c), so they follow; the tests
check all of them.

The mode is set with `fchmod` after creating, not left to `os.open`'s mode argument alone:
the umask can only remove bits, but an unusual one (0277) would also remove the owner's write.

An existing file is left as it is, with a warning when others may read it: its mode may be an
operator's choice (a backup job reading it through a group), and a daemon silently
undoing that would break something out of sight. `chmod 600` makes it private.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

logger = logging.getLogger(__name__)

PRIVATE_MODE = 0o600


def ensure_private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 unless it exists; warn when an existing one is open to others."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    except FileExistsError:
        _warn_if_shared(path)
        return
    try:
        os.fchmod(fd, PRIVATE_MODE)
    finally:
        os.close(fd)


def _warn_if_shared(path: Path) -> None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return  # SQLite will say what is wrong with it
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        logger.warning(
            "the database %s has mode %s, so other users may read it; `chmod 600 %s` makes it private",
            path,
            oct(mode)[2:].rjust(4, "0"),
            path,
        )
