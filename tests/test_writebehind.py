"""The write-behind thread: statements in order, a failure raised on the caller's side, nothing after it."""

from __future__ import annotations

import threading

import pytest

from okrsync.writebehind import WriteBehind


def test_statements_run_in_order_on_another_thread_and_flush_waits_for_them() -> None:
    ran: list[tuple[int, str]] = []
    behind = WriteBehind("t-order")
    for n in range(50):
        behind.submit(lambda n=n: ran.append((n, threading.current_thread().name)))
    behind.flush()
    assert [n for n, _ in ran] == list(range(50))
    assert {name for _, name in ran} == {"t-order"}
    behind.close()


def test_a_failure_is_raised_at_flush_and_what_follows_it_is_skipped() -> None:
    ran: list[int] = []
    behind = WriteBehind("t-fail")

    def fail() -> None:
        raise RuntimeError("duplicate key value violates unique constraint")

    behind.submit(lambda: ran.append(1))
    behind.submit(fail)
    behind.submit(lambda: ran.append(3))  # may be queued before the failure is seen
    with pytest.raises(RuntimeError, match="duplicate key"):
        behind.flush()
    assert ran == [1]  # the transaction is lost after a failure: nothing more runs
    behind.close()


def test_a_failure_is_raised_by_the_next_submit_too() -> None:
    behind = WriteBehind("t-submit")
    behind.submit(lambda: 1 / 0)
    behind._jobs.join()  # let it run
    with pytest.raises(ZeroDivisionError):
        behind.submit(lambda: None)
    behind.close()
