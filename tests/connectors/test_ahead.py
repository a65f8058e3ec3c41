"""Reading a paged list ahead on a helper thread: same items, same order, same failures."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from connectors.ahead import read_ahead


def pages(count: int, *, fail_at: int | None = None, produced: list[int] | None = None) -> Iterator[int]:
    for number in range(count):
        if number == fail_at:
            raise ValueError(f"page {number} is malformed")
        if produced is not None:
            produced.append(number)
        yield number


def helpers(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name]


def test_every_page_arrives_in_order() -> None:
    assert list(read_ahead(pages(50), depth=2)) == list(range(50))


def test_a_failure_arrives_after_the_pages_before_it() -> None:
    seen: list[int] = []
    with pytest.raises(ValueError, match="page 3 is malformed"):
        for page in read_ahead(pages(10, fail_at=3)):
            seen.append(page)
    assert seen == [0, 1, 2]


def test_reading_stays_within_depth_and_closing_stops_the_thread() -> None:
    produced: list[int] = []
    reader = read_ahead(pages(1000, produced=produced), depth=2, name="okrsync-test-ahead")
    assert next(reader) == 0
    time.sleep(0.3)
    assert len(produced) <= 1 + 2 + 1  # the page taken, the queue, one waiting to be put
    reader.close()
    for _ in range(50):
        if not helpers("okrsync-test-ahead"):
            break
        time.sleep(0.1)
    assert not helpers("okrsync-test-ahead")
    assert len(produced) < 10
