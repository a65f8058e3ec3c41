"""`okrsync diff A B`: what a change to the mappings does to the OKRs, and to progress."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from okrsync.ascode.diff import FieldChange, compare
from okrsync.ascode.render import MARKER, to_markdown
from okrsync.cli import app
from okrsync.mappings import load_okrs
from okrsync.settings import load_settings
from tests.helpers import MAPPING, FakeClock, onboarding_sim, write_project

TOKEN = "ghp_diff_token_1b2c3d"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

CONFIG = """\
[okrsync]
mappings = "okrs"

[sources.github]
kind = "github"

[sources.jira]
kind = "jira"
url = "https://acme.atlassian.net"
"""

BASE = """\
[cycle]
id = "2026-Q4"
start = 2026-10-01
end = 2026-12-31

[[objective]]
id = "ENG-1"
title = "Remove friction from onboarding"
owner = "alice"

[[objective.key_result]]
id = "ENG-1.1"
title = "Ship onboarding"
owner = "bob"
baseline = 0
target = 100
unit = "%"

[[objective.key_result.link]]
source = "github"
repo = "acme/web"
milestone = "Onboarding v2"

[[objective.key_result.link]]
source = "jira"
jql = "project = ONB AND labels = perf"
title = "Perf fixes"
due = 2026-11-30

[[objective.key_result]]
id = "ENG-1.2"
title = "Cut errors"
owner = "carol"
baseline = 0
target = 100
unit = "%"

[[objective.key_result]]
id = "ENG-1.3"
title = "Retire the old signup"
owner = "carol"
baseline = 0
target = 100
unit = "%"
"""


def okrs_of(tmp_path: Path, name: str, text: str) -> object:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "okrs.toml").write_text(text)
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    return load_okrs(folder, settings=load_settings(config))


def changes_of(tmp_path: Path, after: str) -> dict[str, tuple[str, tuple[FieldChange, ...]]]:
    diff = compare(
        okrs_of(tmp_path, "a", BASE), okrs_of(tmp_path, "b", after), before_name="a", after_name="b"
    )  # type: ignore[arg-type]
    return {f"{c.what} {c.id}": (c.change, c.fields) for c in (*diff.objectives, *diff.key_results)}


def test_the_same_okrs_written_differently_are_no_change(tmp_path: Path) -> None:
    reordered = BASE.replace('owner = "bob"\nbaseline = 0', 'baseline = 0\nowner = "bob"') + "# a comment\n"
    diff = compare(
        okrs_of(tmp_path, "a", BASE), okrs_of(tmp_path, "b", reordered), before_name="a", after_name="b"
    )  # type: ignore[arg-type]
    assert diff.empty
    assert "no changes to the OKRs" in to_markdown(diff)


def test_fields_that_change_what_is_measured_are_listed(tmp_path: Path) -> None:
    after = (
        BASE.replace(
            'target = 100\nunit = "%"\n\n[[objective.key_result.link]]',
            'target = 80\nunit = "%"\n\n[[objective.key_result.link]]',
            1,
        )
        .replace('owner = "carol"\nbaseline', 'owner = "dave"\nbaseline', 1)
        .replace("due = 2026-11-30", "due = 2026-12-15")
        .replace('milestone = "Onboarding v2"', 'milestone = "Onboarding v2"\nweight = 2')
    )
    changes = changes_of(tmp_path, after)
    assert changes["key result ENG-1.1"] == (
        "changed",
        (
            FieldChange("target", "100", "80"),
            FieldChange("link acme/web milestone Onboarding v2: weight", "1", "2"),
            FieldChange("link JQL set 'Perf fixes': due", "2026-11-30", "2026-12-15"),
        ),
    )
    assert changes["key result ENG-1.2"] == ("changed", (FieldChange("owner", "carol", "dave"),))
    assert "objective ENG-1" not in changes


def test_a_new_title_under_the_same_id_and_a_new_id_under_the_same_title_are_renames(tmp_path: Path) -> None:
    after = BASE.replace('title = "Cut errors"', 'title = "Cut onboarding errors"').replace(
        'id = "ENG-1.3"', 'id = "ENG-1.4"'
    )
    changes = changes_of(tmp_path, after)
    assert changes["key result ENG-1.2"] == ("renamed", ())
    assert changes["key result ENG-1.4"] == ("renamed", ())
    assert "key result ENG-1.3" not in changes


def test_added_removed_and_relinked_key_results(tmp_path: Path) -> None:
    after = BASE.split('[[objective.key_result]]\nid = "ENG-1.3"')[0] + (
        '[[objective.key_result]]\nid = "ENG-1.5"\ntitle = "Halve p95 latency"\nowner = "erin"\n'
        'kind = "metric"\nbaseline = 4\ntarget = 2\nunit = "s"\n'
    )
    after = after.replace('milestone = "Onboarding v2"', 'milestone = "Onboarding v3"')
    changes = changes_of(tmp_path, after)
    assert changes["key result ENG-1.3"] == ("removed", ())
    assert changes["key result ENG-1.5"] == (
        "added",
        (
            FieldChange("owner", None, "erin"),
            FieldChange("kind", None, "metric"),
            FieldChange("baseline", None, "4"),
            FieldChange("target", None, "2"),
            FieldChange("unit", None, "s"),
        ),
    )
    assert changes["key result ENG-1.1"] == (
        "changed",
        (
            FieldChange("link", None, "acme/web milestone Onboarding v3"),
            FieldChange("link", "acme/web milestone Onboarding v2", None),
        ),
    )


def test_markdown_escapes_user_text_and_carries_the_marker(tmp_path: Path) -> None:
    after = BASE.replace('title = "Cut errors"', 'title = "Cut <b>errors</b> | all"')
    diff = compare(
        okrs_of(tmp_path, "a", BASE), okrs_of(tmp_path, "b", after), before_name="main", after_name="pr"
    )  # type: ignore[arg-type]
    text = to_markdown(diff)
    assert text.startswith(MARKER + "\n### OKR changes: `main` → `pr`")
    assert "| renamed | ENG-1.2 'Cut errors' → 'Cut &lt;b&gt;errors&lt;/b&gt; \\| all' | — |" in text


# --- the command, on git revisions and folders ---------------------------------------------------


def git(folder: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@x",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@x",
    }
    return subprocess.run(
        ["git", *args], cwd=folder, env=env, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repo of OKRs as code: main holds BASE, the branch `pr` raises ENG-1.1's target."""
    monkeypatch.delenv("OKRSYNC_CONFIG", raising=False)
    monkeypatch.setenv("OKRSYNC_NOW", NOW.isoformat())
    (tmp_path / "okrs").mkdir()
    (tmp_path / "config.toml").write_text(CONFIG)
    (tmp_path / "okrs" / "eng.toml").write_text(BASE)
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "OKRs")
    git(tmp_path, "checkout", "-qb", "pr")
    (tmp_path / "okrs" / "eng.toml").write_text(BASE.replace("target = 100", "target = 120", 1))
    git(tmp_path, "commit", "-qam", "raise the bar")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_diff_of_two_git_revisions(repo: Path) -> None:
    result = CliRunner().invoke(app, ["diff", "main", "pr"])
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "OKR changes main → pr: 1 key result changed\n"
        "~ key result changed: ENG-1.1 Ship onboarding\n"
        "    target: 100 → 120\n"
        "(progress not shown: no database at "
        f"{repo / 'okrsync.db'})\n"
    )
    assert not (repo / "okrsync.db").exists()  # a diff creates no database
    document = json.loads(CliRunner().invoke(app, ["diff", "pr", "main", "--format", "json"]).stdout)
    assert document["key_results"][0]["fields"] == [{"field": "target", "before": "120", "after": "100"}]


def test_diff_of_a_revision_against_the_working_folder_and_from_nothing(repo: Path) -> None:
    (repo / "okrs" / "eng.toml").write_text(BASE.replace('owner = "bob"', 'owner = "dave"'))
    result = CliRunner().invoke(app, ["diff", "main", "okrs", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "    owner: bob → dave\n" in result.stdout
    empty_tree = git(repo, "hash-object", "-t", "tree", "/dev/null").strip()
    git(repo, "branch", "empty", git(repo, "commit-tree", empty_tree, "-m", "nothing yet").strip())
    first = CliRunner().invoke(app, ["diff", "empty", "main", "--no-progress"])
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith(
        "OKR changes empty → main: 1 objective added; 3 key results added; 1 cycle added\n"
    )


def test_a_broken_file_at_a_revision_is_named_there(repo: Path) -> None:
    (repo / "okrs" / "eng.toml").write_text(BASE.replace('owner = "bob"', 'ownr = "bob"'))
    git(repo, "commit", "-qam", "typo")
    result = CliRunner().invoke(app, ["diff", "main", "pr"])
    assert result.exit_code == 2
    assert (
        "pr:okrs/eng.toml:14: objective[0].key_result[0].ownr: unknown key; did you mean 'owner'?"
        in result.output
    )
    unknown = CliRunner().invoke(app, ["diff", "main", "no-such-branch"])
    assert unknown.exit_code == 2
    assert "no-such-branch: revision: expected a folder or a git revision" in unknown.output


# --- progress before and after, over a synced database, on both engines ------------------------------


def test_progress_before_and_after_over_the_stored_issues(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hand-computed: Onboarding v2 has 1 of 4 done (25 %). The change links a second milestone,
    Signup, with 2 of 2 done, at weight 3: (0.25 × 1 + 1.0 × 3) / 4 = 81.25 %, shown as 81 %."""
    monkeypatch.setenv("OKRSYNC_NOW", NOW.isoformat())
    clock = FakeClock(NOW)
    with onboarding_sim(clock, token=TOKEN, due=datetime(2026, 12, 4, 8, tzinfo=UTC)) as sim:
        signup = sim.add_milestone("acme/web", "Signup", due_on=datetime(2026, 12, 10, 8, tzinfo=UTC))
        for n in range(2):
            sim.close_issue("acme/web", sim.add_issue("acme/web", f"Signup {n}", milestone=signup))
        project = write_project(tmp_path, database_url=database_url, github_url=sim.url, token=TOKEN)
        assert CliRunner().invoke(app, ["--config", str(project.config), "sync"]).exit_code == 0
    after = tmp_path / "after"
    after.mkdir()
    (after / "okrs.toml").write_text(
        MAPPING
        + '\n[[objective.key_result.link]]\nsource = "github"\nrepo = "acme/web"\nmilestone = "Signup"\nweight = 3\n'
    )
    args = ["--config", str(project.config), "diff", str(project.folder / "mappings"), str(after)]
    result = CliRunner().invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    (movement,) = json.loads(result.stdout)["progress"]
    assert movement["id"] == "ENG-1.1"
    assert movement["before"] == pytest.approx(0.25)
    assert movement["after"] == pytest.approx(0.8125)
    markdown = CliRunner().invoke(app, [*args, "--format", "markdown"]).stdout
    assert (
        "| changed | ENG-1.1 Ship onboarding | link added: acme/web milestone Signup, weight 3 | 25 % → 81 %"
        in markdown
    )
