"""The `okrsync-validate` pre-commit hook, run by pre-commit itself (`try-repo`) in a new git repo.

pre-commit installs okrsync into a virtualenv of its own from a snapshot of this source tree
(committed changes or not), so the first run takes about a minute; pip's cache makes later
test runs quicker. The environment is built once for the module and reused by each case.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import MAPPING

ROOT = Path(__file__).resolve().parent.parent
PRE_COMMIT = [sys.executable, "-m", "pre_commit"]

CONFIG = """\
[okrsync]
mappings = "okrs"

[sources.github]
kind = "github"
repos = ["acme/web"]

[people.bob]
name = "Bob"
"""


def git(folder: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    done = subprocess.run(["git", *args], cwd=folder, env=env, check=True, capture_output=True, text=True)
    return done.stdout.strip()


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Commit this source tree, as it is now, into a repo of its own; return it and the commit."""
    snapshot = tmp_path_factory.mktemp("okrsync-src")
    listed = git(ROOT, "ls-files", "--cached", "--others", "--exclude-standard", "-z")
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_symlink() or source.is_file():
            target = snapshot / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_symlink():
                target.symlink_to(os.readlink(source))
            else:
                shutil.copy2(source, target)
    git(snapshot, "init", "-q")
    git(snapshot, "add", "-A")
    git(snapshot, "commit", "-q", "-m", "snapshot")
    return snapshot, git(snapshot, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("pre-commit-home")


def okr_repo(folder: Path, mapping: str) -> Path:
    """A user's repo of OKRs as code: config.toml at the root, mappings in okrs/."""
    (folder / "okrs").mkdir(parents=True)
    (folder / "config.toml").write_text(CONFIG)
    (folder / "okrs" / "eng.toml").write_text(mapping)
    git(folder, "init", "-q")
    git(folder, "add", "-A")
    return folder


def try_repo(user_repo: Path, hook_repo: tuple[Path, str], home: Path) -> subprocess.CompletedProcess[str]:
    source, rev = hook_repo
    env = {k: v for k, v in os.environ.items() if not k.startswith("OKRSYNC_")}
    env["PRE_COMMIT_HOME"] = str(home)
    return subprocess.run(
        [*PRE_COMMIT, "try-repo", str(source), "okrsync-validate", "--ref", rev, "--all-files"],
        cwd=user_repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_hook_passes_valid_okrs_and_fails_broken_ones(
    tmp_path: Path, hook_repo: tuple[Path, str], pre_commit_home: Path
) -> None:
    good = try_repo(okr_repo(tmp_path / "good", MAPPING), hook_repo, pre_commit_home)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "okrsync validate --strict" in good.stdout
    assert "Passed" in good.stdout

    broken = MAPPING.replace('owner = "bob"\nkind', 'ownr = "bob"\nkind')
    bad = try_repo(okr_repo(tmp_path / "bad", broken), hook_repo, pre_commit_home)
    assert bad.returncode == 1
    assert "Failed" in bad.stdout
    assert (
        "okrs/eng.toml:15: objective[0].key_result[0].ownr: unknown key; did you mean 'owner'?" in bad.stdout
    )


def test_the_hook_fails_on_a_best_practice_warning(
    tmp_path: Path, hook_repo: tuple[Path, str], pre_commit_home: Path
) -> None:
    # baseline == target is an error; a KR without a unit is a warning, fatal with --strict.
    unitless = MAPPING.replace('unit = "%"\n', "")
    result = try_repo(okr_repo(tmp_path / "warn", unitless), hook_repo, pre_commit_home)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "warning(s) with --strict" in result.stdout
