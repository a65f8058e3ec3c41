"""The composite GitHub Action (action.yml): it parses, pins what it uses, and its okrsync steps
run as written against a repo of OKRs as code (the pip install and the `gh` comment need GitHub
and are checked for shape only)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from okrsync.ascode.render import MARKER
from tests.helpers import MAPPING
from tests.test_okrdiff import git
from tests.test_precommit_hook import CONFIG

ROOT = Path(__file__).resolve().parent.parent
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
STEPS: list[dict[str, Any]] = ACTION["runs"]["steps"]
EXPRESSION = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


def step(name_start: str) -> dict[str, Any]:
    return next(s for s in STEPS if s.get("name", "").startswith(name_start))


def test_the_action_is_composite_and_pins_every_action_it_uses() -> None:
    assert ACTION["runs"]["using"] == "composite"
    uses = [s["uses"] for s in STEPS if "uses" in s]
    assert uses, "expected setup-python"
    for ref in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), f"not pinned to a commit: {ref}"
    for s in STEPS:
        if "run" in s:
            assert s["shell"] == "bash"  # a composite step must name its shell
            assert "${{" not in s["run"], "expressions go through env, never into the script text"


def evaluate(text: str, values: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        expression = match.group(1)
        if expression.startswith("inputs."):
            return str(ACTION["inputs"][expression.removeprefix("inputs.")]["default"])
        assert expression in values, f"the test does not know {expression!r}"
        return values[expression]

    return EXPRESSION.sub(one, text)


def run_step(
    s: dict[str, Any], *, cwd: Path, values: dict[str, str], files: Path
) -> subprocess.CompletedProcess[str]:
    """Run a step's script with bash as the runner would: its env evaluated, GITHUB_* files given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OKRSYNC_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["GITHUB_OUTPUT"] = str(files / "output")
    env["GITHUB_STEP_SUMMARY"] = str(files / "summary")
    for key, value in s.get("env", {}).items():
        env[key] = evaluate(str(value), values)
    return subprocess.run(["bash", "-e", "-c", s["run"]], cwd=cwd, env=env, capture_output=True, text=True)


@pytest.fixture
def pull_request(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A repo whose pull request raises ENG-1.1's target; the expressions a runner would fill."""
    repo = tmp_path / "repo"
    (repo / "okrs").mkdir(parents=True)
    (repo / "config.toml").write_text(CONFIG)
    (repo / "okrs" / "eng.toml").write_text(MAPPING)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "OKRs")
    base = git(repo, "rev-parse", "HEAD").strip()
    (repo / "okrs" / "eng.toml").write_text(MAPPING.replace("target = 100", "target = 120"))
    git(repo, "commit", "-qam", "raise the bar")
    values = {
        "github.event.pull_request.base.sha": base,
        "github.event.pull_request.head.sha": git(repo, "rev-parse", "HEAD").strip(),
        "runner.temp": str(tmp_path),
    }
    return repo, values


def test_the_validate_and_diff_steps_run_as_written(
    pull_request: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    repo, values = pull_request
    validate = run_step(step("Validate"), cwd=repo, values=values, files=tmp_path)
    assert validate.returncode == 0, validate.stderr
    assert "ok: 1 cycle(s), 1 objective(s), 1 key result(s)" in validate.stdout

    diff = step("Diff")
    assert "pull_request" in diff["if"]
    result = run_step(diff, cwd=repo, values=values, files=tmp_path)
    assert result.returncode == 0, result.stderr
    written = Path(tmp_path / "okrsync-diff.md").read_text()
    assert written.startswith(MARKER)
    assert "| changed | ENG-1.1 Ship onboarding | target: 100 → 120 |" in written
    assert (tmp_path / "summary").read_text() == written
    assert (tmp_path / "output").read_text() == f"path={tmp_path / 'okrsync-diff.md'}\n"

    # The comment step posts that file: it reads the step's output, and finds its earlier comment by the marker.
    comment = step("Comment")
    assert comment["env"]["DIFF_FILE"] == "${{ steps.diff.outputs.path }}"
    assert MARKER in comment["run"]
    assert 'gh pr comment "$PR_NUMBER"' in comment["run"]


def test_the_validate_step_fails_on_a_broken_mapping(
    pull_request: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    repo, values = pull_request
    (repo / "okrs" / "eng.toml").write_text(MAPPING.replace('unit = "%"\n', ""))
    result = run_step(step("Validate"), cwd=repo, values=values, files=tmp_path)
    assert result.returncode == 2
    assert "warning(s) with --strict" in result.stderr
