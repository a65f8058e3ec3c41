"""`okrsync.collector.quiet_start`: no collection during a command's start-up, then a frozen start-up.

Each test runs a fresh Python process: freezing is process-wide and would change the test
runner's own collector.
"""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import gc, json
from okrsync import collector
{install}
seen = {{}}
gc.callbacks.append(lambda phase, info: seen.setdefault("collections", []).append(phase))
try:
    with collector.quiet_start():
        seen["enabled_inside"] = gc.isenabled()
        junk = [[[] for _ in range(50)] for _ in range(2_000)]  # would set off collections
        seen["inside"] = len(seen.get("collections", []))
        {raise_}
except RuntimeError:
    seen["raised"] = True
seen["enabled_after"] = gc.isenabled()
seen["frozen"] = gc.get_freeze_count()
print(json.dumps(seen))
"""


def probe(*, install: bool, raise_: bool = False) -> dict[str, object]:
    code = PROBE.format(
        install="collector.install()" if install else "",
        raise_="raise RuntimeError('start-up failed')" if raise_ else "pass",
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_start_up_collects_nothing_then_freezes_what_lives_and_collects_again() -> None:
    seen = probe(install=True)

    assert seen["enabled_inside"] is False and seen["inside"] == 0
    assert seen["enabled_after"] is True
    assert isinstance(seen["frozen"], int) and seen["frozen"] > 10_000  # the imports, out of sight


def test_collection_comes_back_when_the_start_up_fails() -> None:
    seen = probe(install=True, raise_=True)

    assert seen["raised"] is True and seen["enabled_after"] is True


def test_a_process_that_did_not_install_it_keeps_its_collector_as_it_is() -> None:
    seen = probe(install=False)

    assert seen["enabled_inside"] is True and seen["inside"] > 0  # collections went on
    assert seen["frozen"] == 0
