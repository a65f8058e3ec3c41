"""Read the next pages of one list on a helper thread while the caller stores this one.

A search paged by token (Jira's `nextPageToken`) can only be read one page after another, but
the client need not sit idle while the tracker prepares the next page: a daemon thread runs
the page iterator up to `depth` pages ahead, so the tracker's work and the store's overlap.
One request is in flight at a time, as before. The iterator must be the only user of its client
while it runs (the caller does not use the client between two pages).

Closing the returned generator (a failed or abandoned poll) stops the thread at its next page;
it is a daemon thread, so one still waiting on the tracker never delays the process's exit.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class _End:
    error: BaseException | None = None


def put_unless_stopped(target: queue.Queue[Any], item: Any, stop: threading.Event) -> bool:
    """Put `item` into a bounded queue, waiting for room; give up (False) once `stop` is set."""
    while not stop.is_set():
        try:
            target.put(item, timeout=0.2)
            return True
        except queue.Full:
            continue
    return False


def read_ahead(pages: Iterator[T], *, depth: int = 2, name: str = "okrsync-read-ahead") -> Iterator[T]:
    """Yield what `pages` yields, produced on a helper thread up to `depth` items ahead."""
    handed: queue.Queue[T | _End] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: T | _End) -> bool:
        return put_unless_stopped(handed, item, stop)

    def produce() -> None:
        try:
            for page in pages:
                if not put(page):
                    return
        except BaseException as exc:  # handed to the caller, who raises it in order
            put(_End(exc))
            return
        put(_End())

    threading.Thread(target=produce, name=name, daemon=True).start()
    try:
        while True:
            item = handed.get()
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item
    finally:
        stop.set()
