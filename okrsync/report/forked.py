"""Run part of the report's rendering in a forked child, so a big report uses both cores.

Rendering 300 KR pages (page data, chart geometry, Jinja) is most of a big report's time and
needs nothing but what the parent already read: a child made by `fork` inherits it without any
pickling, writes its share of the pages and exits. The parent renders the rest meanwhile and
waits. Where `fork` does not exist (Windows, macOS defaults aside) the work simply runs in the
parent, as it does for a small report, where starting a child would cost more than it saves.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from multiprocessing.process import BaseProcess

from okrsync.errors import OkrsyncError

__all__ = ["Forked", "start_forked"]


class Forked:
    """A child running `work`, or, without fork, `work` already run in this process."""

    def __init__(self, process: BaseProcess | None) -> None:
        self._process = process

    def wait(self, what: str) -> None:
        """Wait for the child; a child that failed is an error naming `what` it was doing."""
        if self._process is None:
            return
        self._process.join()
        if self._process.exitcode != 0:
            raise OkrsyncError(f"{what}: the helper process failed (exit code {self._process.exitcode})")


def start_forked(work: Callable[[], None]) -> Forked:
    """Start `work` in a forked child when the machine has a second core and fork exists."""
    if (os.cpu_count() or 1) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        work()
        return Forked(None)
    process = multiprocessing.get_context("fork").Process(target=work, name="okrsync-report", daemon=True)
    process.start()
    return Forked(process)
