"""The package the Dockerfile installs (`pip install .`) carries everything okrsync reads at run time.

Migrations, the Alembic script template, the report's templates and the demo's mappings are data files, not modules:
a wheel without them would import fine and fail at the first `okrsync sync`.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_carries_migrations_templates_demo_mappings_and_both_connectors(tmp_path: Path) -> None:
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("okrsync-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "okrsync/migrations/env.py",
        "okrsync/migrations/script.py.mako",
        *(
            f"okrsync/migrations/versions/{p.name}"
            for p in (ROOT / "okrsync/migrations/versions").glob("*.py")
        ),
        *(
            f"okrsync/sandbox/demo_mappings/{p.name}"
            for p in (ROOT / "okrsync/sandbox/demo_mappings").glob("*.toml")
        ),
        *(f"okrsync/templates/{p.name}" for p in (ROOT / "okrsync/templates").glob("*.html")),
        "okrsync/report/render.py",
        "connectors/github/poller.py",
        "connectors/jira/poller.py",
        "okrsync/channels/slack.py",
    }
    assert expected <= names, sorted(expected - names)
    assert any(n.endswith("entry_points.txt") for n in names)
