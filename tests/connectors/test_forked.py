"""A producer in a forked child: order, failures in order, death, closing, the bound, the thread fallback."""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.forked import PIPE_BYTES, ForkedFailure, Produced, can_fork
from okrsync.errors import SourceError

needs_fork = pytest.mark.skipif(not can_fork(), reason="fork or a second core is missing")
MODES = [pytest.param(True, marks=needs_fork, id="process"), pytest.param(False, id="thread")]


def helpers(name: str) -> list[multiprocessing.process.BaseProcess]:
    return [p for p in multiprocessing.active_children() if p.name.startswith(name)]


@pytest.mark.parametrize("fork", MODES)
def test_items_arrive_in_order_then_the_failure_keeps_its_kind(fork: bool) -> None:
    def produce() -> Iterator[int]:
        yield from range(500)
        raise SourceError("github", "GET /repos/acme/web/issues answered 502", retriable=False)

    produced = Produced(produce, name="t-order", fork=fork)
    seen: list[int] = []
    with pytest.raises(SourceError) as raised:
        for value in produced:
            seen.append(value)
    assert seen == list(range(500))
    assert str(raised.value) == "source 'github': GET /repos/acme/web/issues answered 502"
    assert raised.value.retriable is False and raised.value.source == "github"


@needs_fork
def test_a_child_forked_while_collections_are_off_collects_all_the_same() -> None:
    """okrsync.collector holds collections off during start-up; a helper forked then must not
    keep them off for its whole life."""
    gc.disable()
    try:
        produced = Produced(lambda: iter([gc.isenabled()]), name="t-gc")
        assert list(produced) == [True] and produced.forked
    finally:
        gc.enable()


@needs_fork
def test_the_items_are_made_in_another_process() -> None:
    produced = Produced(lambda: iter([os.getpid()]), name="t-pid")
    assert list(produced) != [os.getpid()]
    assert not helpers("t-pid")  # the child was reaped at the end


@needs_fork
def test_an_exception_that_cannot_travel_is_named() -> None:
    class Local(Exception):  # defined in a function: pickle cannot find it by name
        pass

    def produce() -> Iterator[int]:
        yield 1
        raise Local("the tracker sent nonsense")

    produced = Produced(produce, name="t-local")
    assert next(produced) == 1
    with pytest.raises(ForkedFailure, match="Local: the tracker sent nonsense"):
        next(produced)


@needs_fork
def test_a_child_that_dies_is_a_failure_not_an_end() -> None:
    def produce() -> Iterator[int]:
        yield 1
        os.kill(os.getpid(), signal.SIGKILL)
        yield 2

    produced = Produced(produce, name="t-killed")
    assert next(produced) == 1
    with pytest.raises(
        ForkedFailure, match=r"t-killed: the helper process ended without finishing \(exit code -9\)"
    ):
        next(produced)


@needs_fork
def test_closing_stops_the_child() -> None:
    def produce() -> Iterator[int]:
        n = 0
        while True:
            n += 1
            yield n

    produced = Produced(produce, name="t-close")
    assert next(produced) == 1
    assert helpers("t-close")
    produced.close()
    assert not helpers("t-close")


@needs_fork
def test_the_child_runs_ahead_only_as_far_as_the_pipe_holds(tmp_path: Path) -> None:
    made = tmp_path / "made"
    item = "x" * (PIPE_BYTES // 8)

    def produce() -> Iterator[str]:
        for n in range(1, 1000):
            made.write_text(str(n))
            yield item

    produced = Produced(produce, name="t-bound")
    try:
        assert next(produced) == item
        time.sleep(1.0)
        ahead = int(made.read_text())
        assert ahead < 20, ahead  # about 8 items fit in the pipe, never the 999 of the producer
    finally:
        produced.close()
