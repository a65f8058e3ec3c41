"""`okrsync.report.forked`: half a big report is rendered in a forked child; its failure is never silent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from okrsync.errors import OkrsyncError
from okrsync.report.forked import start_forked


def test_the_child_does_its_work_and_the_parent_waits_for_it(tmp_path: Path) -> None:
    marker = tmp_path / "done"

    helper = start_forked(lambda: marker.write_text("written by the child"))
    helper.wait("writing a marker")

    assert marker.read_text() == "written by the child"


def fail() -> None:
    raise OSError("disk full")


def test_a_child_that_fails_is_an_error_naming_what_it_did() -> None:
    assert (os.cpu_count() or 1) >= 2  # the machine kind this suite runs on: the work is forked

    helper = start_forked(fail)

    with pytest.raises(OkrsyncError, match=r"writing the pages: the helper process failed \(exit code 1\)"):
        helper.wait("writing the pages")
