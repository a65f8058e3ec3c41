"""`benchmarks/report_speed.py` runs end to end at a tiny size and reports every figure, sanely.

Only the shape and sense of the figures is checked, never a duration (speed is measured by the
benchmark itself, see benchmarks/RESULTS.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_report_benchmark_builds_the_org_writes_every_page_and_reports_its_figures(
    tmp_path: Path,
) -> None:
    figures_file = tmp_path / "report.json"
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "report_speed.py"),
        *(
            "--krs",
            "41",
            "--milestones",
            "82",
            "--issues",
            "2",
            "--weeks",
            "2",
            "--rounds",
            "2",
        ),  # 41: forked
        *("--workdir", str(tmp_path), "--json", str(figures_file)),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(figures_file.read_text())
    assert figures["org"] == {"krs": 41, "milestones": 82, "issues": 164, "weeks": 2}
    assert figures["pages"] == 42  # index.html and one page per KR, half of them by a forked child
    assert 0 < figures["largest_page_bytes"] <= figures["total_bytes"]
    for name in ("write_report_wall", "write_report_cpu", "process_wall"):
        spread = figures[name]
        assert len(spread["runs"]) == 2
        assert spread["min"] <= spread["median"] <= spread["max"]
    assert figures["write_report_wall"]["max"] <= figures["process_wall"]["max"]
    assert figures["targets"] == {"write_report_wall": 2.0, "largest_page_bytes": 307200}
    assert list(tmp_path.glob("okrsync-report-bench-*")) == []  # the store and pages are cleaned up
