"""Run a command and measure its wall time and peak RSS.

`ru_maxrss` from wait4 is useless here: Linux keeps a process's high-water mark across
`execve`, so a child forked from the benchmark (which holds the simulated org) would report
the benchmark's own memory. VmHWM in /proc belongs to the new address space and starts fresh
at exec, so it is read while the child runs.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path


def _hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def run_measured(command: Sequence[str], *, env: dict[str, str]) -> tuple[float, float, int, str]:
    """Return (wall seconds, peak RSS in MB, exit code, combined output)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile(mode="w+") as output, open(os.devnull, "rb") as stdin:
        child = subprocess.Popen(list(command), env=env, stdin=stdin, stdout=output, stderr=subprocess.STDOUT)
        peak = 0
        while child.poll() is None:
            peak = max(peak, _hwm_kb(child.pid))
            time.sleep(0.02)
        wall = time.perf_counter() - started
        output.seek(0)
        return wall, peak / 1024, child.returncode, output.read()
