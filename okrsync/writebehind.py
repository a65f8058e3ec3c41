"""Run a poll's PostgreSQL writes on a thread of their own, one statement behind the poll.

A page's upsert is one statement (okrsync.bulk), and on PostgreSQL the process then waits
while the server inserts the rows and updates the indexes — about as long as it took to
read and prepare the page. Handed to this thread, the statement runs while the polling
thread prepares the next page (psycopg waits on the socket without holding the GIL), so the
server's work and the client's overlap.

Order and visibility stay those of a serial write: statements run one at a time, in the
order given, on the session's own connection (so inside the poll's transaction), and at most
one waits while one runs. Anyone about to read the store, commit or roll back calls `flush`
first, which waits until every statement given has run and raises the first one's failure
(a failed statement also fails the next `submit`). Nothing else may use the connection in
between: that is the caller's side of the contract (okrsync.ingest keeps it).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

_STOP = None


class WriteBehind:
    """One thread running statements in the order given; `flush` waits for them all."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.Queue[Callable[[], None] | None] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], None]) -> None:
        """Queue a statement; wait while one is already queued; raise an earlier failure."""
        self._raise()
        self._jobs.put(job)

    @property
    def failed(self) -> bool:
        """Whether a statement failed and nobody has been told yet (the transaction is lost)."""
        return self._error is not None

    def flush(self) -> None:
        """Wait until every queued statement ran; raise the first failure among them."""
        self._jobs.join()
        self._raise()

    def close(self) -> None:
        """Let the queued statements finish (their failures are dropped) and stop the thread."""
        self._jobs.put(_STOP)
        self._thread.join()

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is _STOP:
                    return
                if self._error is None:  # after a failure the transaction is lost: skip the rest
                    job()
            except BaseException as exc:  # noqa: BLE001 - raised on the polling thread at its next call
                self._error = exc
            finally:
                self._jobs.task_done()
