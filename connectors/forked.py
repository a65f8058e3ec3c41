"""Run a producer of items in a forked child process; the caller reads its items through a pipe.

Why a process and not a thread: on a big first sync the client, not the tracker, is the
bottleneck (SPEC §8, issue 9's profiles). Requesting pages, decoding their JSON and turning
it into records is most of the work, and on a helper *thread* it competes with the store's
writes for the GIL: the sync then costs about the sum of both. In a child made by `fork` it
runs on the other core, inherits the poller as it is (settings, client, cursor state) without
any pickling, and hands over only its products, pickled (a page of 100 issue records: about
0.2 ms to write and read back, against several ms to request, decode and build it).

What the caller can rely on:

- Items arrive in the order the producer yields them. The pipe is the bound: the child blocks
  once it holds about `PIPE_BYTES` unread, so memory does not grow with the org.
- A failure in the child is raised by the caller's iteration, in order, after the items
  before it: the exception itself when it pickles (okrsync's errors do), otherwise a
  `ForkedFailure` naming its type and message. A child that dies without a word (killed, out
  of memory) is a `ForkedFailure` too, never a silent end.
- Closing the producer (a failed or abandoned poll, Ctrl-C) kills the child; the child also
  ends by itself when the caller is gone (its next write finds the pipe closed). The child
  never touches what it inherited beyond the producer: it leaves through `os._exit` and so
  never runs the parent's clean-ups (database connections, atexit handlers).
- Where `fork` does not exist (Windows; macOS allows it but Python avoids it there) or the
  machine has one core, the producer runs on a daemon thread instead, with the same order,
  errors and bound: correct everywhere, two cores used where there are two.

State the producer changes (a cursor, counters) changes in the child's copy only: whatever
the caller needs back must travel as an item.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import multiprocessing
import os
import pickle
import signal
import sys
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Generic, TypeVar

from connectors.ahead import read_ahead

T = TypeVar("T")

PIPE_BYTES = 1 << 20  # how far a child may run ahead (Linux's default maximum for an unprivileged pipe)
THREAD_DEPTH = 8  # items a thread producer may hold ahead where there is no fork

# Every pipe end a parent reads from: a child closes all of them, so a parent that dies leaves
# no reader behind and each child's next write ends it (BrokenPipeError).
_readers: weakref.WeakSet[Connection] = weakref.WeakSet()


class ForkedFailure(Exception):  # noqa: N818 - reads as "the forked helper failed"
    """The child failed with an exception that could not travel, or died without a word."""


@dataclass(frozen=True)
class _Item:
    value: Any


@dataclass(frozen=True)
class _End:
    error: BaseException | None = None


def can_fork() -> bool:
    """Say whether producers run in child processes here (fork exists and there are 2+ cores)."""
    return (
        (os.cpu_count() or 1) >= 2
        and sys.platform == "linux"
        and "fork" in multiprocessing.get_all_start_methods()
    )


class Produced(Generic[T]):
    """The items of one producer, made in a forked child (or on a thread where fork is missing)."""

    def __init__(self, produce: Callable[[], Iterable[T]], *, name: str, fork: bool | None = None) -> None:
        """Start `produce` at once; `fork` forces a child (True) or a thread (False) over `can_fork()`."""
        self.name = name
        self._process: Any = None
        self._reader: Connection | None = None
        self._forked = can_fork() if fork is None else fork
        if self._forked:
            context = multiprocessing.get_context("fork")
            reader, writer = context.Pipe(duplex=False)
            _widen(writer)
            self._process = context.Process(target=_child, args=(produce, writer), name=name, daemon=True)
            _readers.add(reader)
            self._process.start()
            writer.close()  # the child holds the only writer: its death is an EOF here
            self._reader = reader
            self._items: Iterator[T] = self._read()
        else:
            self._items = read_ahead(iter(produce()), depth=THREAD_DEPTH, name=name)

    @property
    def forked(self) -> bool:
        """Say whether the producer runs in a child process (else on a thread, sharing this process's state)."""
        return self._forked

    def __iter__(self) -> Iterator[T]:
        return self._items

    def __next__(self) -> T:
        return next(self._items)

    def close(self) -> None:
        """Stop the producer where it is and drop what it made ahead."""
        close = getattr(self._items, "close", None)
        if close is not None:
            close()
        self._reap(grace=0)

    def _reap(self, *, grace: float) -> None:
        """Close the pipe and wait for the child, killing it if it still runs after `grace` s."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._process is not None:
            self._process.join(timeout=grace)
            if self._process.is_alive():
                self._process.kill()
            self._process.join()
            self._process.close()
            self._process = None

    def _read(self) -> Iterator[T]:
        reader = self._reader
        assert reader is not None
        while True:
            try:
                message = reader.recv()
            except EOFError:
                process = self._process
                if process is not None:
                    process.join(timeout=5)
                code = process.exitcode if process is not None else None
                msg = f"{self.name}: the helper process ended without finishing (exit code {code})"
                raise ForkedFailure(msg) from None
            if isinstance(message, _Item):
                yield message.value
                continue
            self._reap(grace=5)  # it has sent its last word and is leaving
            if message.error is not None:
                raise message.error
            return


def _widen(writer: Connection) -> None:
    """Let the pipe hold `PIPE_BYTES` (Linux's F_SETPIPE_SZ); the default 64 KiB is 3 pages."""
    with contextlib.suppress(OSError, AttributeError):
        fcntl.fcntl(writer.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)


def _child(produce: Callable[[], Iterable[Any]], writer: Connection) -> None:
    """Run in the child: send every item, then the end (with the failure, if any); then exit."""
    # The parent handles Ctrl-C and SIGTERM (and kills this child); handlers it installed are
    # Python functions working on the parent's state, meaningless here.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # What was inherited lives as long as the child and is never garbage here: out of the
    # collector's sight, collections stay small and leave the shared pages unwritten.
    gc.freeze()
    gc.enable()  # forked during a start-up that holds collections off (okrsync.collector)
    for reader in list(_readers):
        with contextlib.suppress(OSError):
            reader.close()
    try:
        for value in produce():
            writer.send(_Item(value))
        writer.send(_End())
    except (BrokenPipeError, ConnectionResetError):
        pass  # the parent closed its end: nobody is waiting for the rest
    except BaseException as exc:  # noqa: BLE001 - handed to the parent, raised there in order
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            writer.send(_End(_travelling(exc)))
    finally:
        writer.close()


def _travelling(exc: BaseException) -> BaseException:
    """Return `exc` if it survives pickling, else a ForkedFailure that says what it was."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001 - any exception type can fail to pickle, in any way
        return ForkedFailure(f"{type(exc).__name__}: {exc}")
    return exc


def start_all(producers: list[Callable[[], Iterable[T]]], *, name: str) -> list[Produced[T]]:
    """Start one producer each, named `name-0`, `name-1`…; close the started ones on failure."""
    started: list[Produced[T]] = []
    try:
        for index, produce in enumerate(producers):
            started.append(Produced(produce, name=f"{name}-{index}"))
    except BaseException:
        for produced in started:
            produced.close()
        raise
    return started
