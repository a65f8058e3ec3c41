"""Run a command and measure its wall time and peak RSS: kept for scripts that import it.

The measuring itself now lives in harness.run_child (exact wall time from spawn to exit, the
child's CPU from wait4, VmHWM sampled for the peak RSS; the reasons are in its docstring);
this is its older, smaller signature, as reconcile_cost.py calls it.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness import run_child  # benchmarks/ is the script's folder


def run_measured(command: Sequence[str], *, env: dict[str, str]) -> tuple[float, float, int, str]:
    """Return (wall seconds, peak RSS in MB, exit code, combined output)."""
    run = run_child(command, env=env)
    return run.wall, run.peak_rss_mb, run.code, run.output
