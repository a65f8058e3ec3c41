"""The scenario-L benchmarks run end to end at a tiny size and report every figure, sanely.

Both scripts are started at once (each spends most of its time waiting on its children) and
run for real: simulators, the bare clients and okrsync as child processes, a SQLite database.
Only the shape and sense of the figures is checked, never a duration (issue 9).
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Jira runs two sizes over two rounds, so the sizes' turns and the growth per round are checked.
TINY = {
    "github": ["scenario_l.py", "--repos", "2", "--krs", "2", "--sizes", "40", "--rounds", "1"],
    "jira": ["scenario_l_jira.py", "--projects", "2", "--versions", "2", "--sizes", "40,80", "--rounds", "2"],
}
COMMON = ["--engines", "sqlite"]


@pytest.fixture(scope="module")
def figures(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    folder = tmp_path_factory.mktemp("bench")
    running = {}
    for name, (script, *options) in TINY.items():
        command = [
            sys.executable,
            str(ROOT / "benchmarks" / script),
            *options,
            *COMMON,
            "--workdir",
            str(folder),
            "--json",
            str(folder / f"{name}.json"),
        ]
        running[name] = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=folder
        )
    outputs = {name: child.communicate(timeout=180)[0] for name, child in running.items()}
    for name, child in running.items():
        assert child.returncode == 0, f"{name} benchmark failed:\n{outputs[name]}"
    found = {name: json.loads((folder / f"{name}.json").read_text()) for name in TINY}
    for name in TINY:
        found[name]["output"] = outputs[name]
    yield found


def render_markdown(figures: dict[str, dict[str, Any]], source: str, folder: Path) -> str:
    """Render a benchmark's saved JSON as its script does with `--from-json --markdown`."""
    saved = folder / f"{source}.json"
    saved.write_text(json.dumps(figures[source]))
    script = TINY[source][0]
    return subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--from-json", str(saved), "--markdown"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout


def _engine(figures: dict[str, Any]) -> dict[str, Any]:
    size = figures["sizes"][0]
    assert size["issues"] == 40
    return size["engines"]["sqlite"]


def test_sizes_take_turns_round_by_round_and_growth_is_also_paired_per_round(
    figures: dict[str, dict[str, Any]],
) -> None:
    """Measured one size after the other, a machine's drift between them would read as growth."""
    jira = figures["jira"]
    turns = re.findall(r"^jira (\d+): round (\d+) sqlite", jira["output"], re.MULTILINE)
    assert turns == [("40", "1"), ("80", "1"), ("40", "2"), ("80", "2")]
    assert [s["issues"] for s in jira["sizes"]] == [40, 80]
    (row,) = jira["growth"]["sqlite"]
    small, large = (s["engines"]["sqlite"]["first_sync"]["okrsync"]["wall"]["runs"] for s in jira["sizes"])
    assert len(small) == len(large) == 2
    paired = row["okrsync_wall_per_round"]
    assert paired["runs"] == [round(b / a, 3) for a, b in zip(small, large, strict=True)]
    assert paired["median"] == round(statistics.median(b / a for a, b in zip(small, large, strict=True)), 3)


def test_growth_per_round_renders_beside_the_medians_ratio(
    figures: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    rendered = render_markdown(figures, "jira", tmp_path)
    row = next(line for line in rendered.splitlines() if line.startswith("| sqlite | 40 → 80 |"))
    paired = figures["jira"]["growth"]["sqlite"][0]["okrsync_wall_per_round"]
    assert row.split(" | ")[3].startswith(f"{paired['median']:.2f}")


def test_okrsync_is_measured_from_bytecode_as_an_installed_okrsync_runs(
    figures: dict[str, dict[str, Any]],
) -> None:
    """Under PYTHONDONTWRITEBYTECODE a checkout would compile every module at every start."""
    if not sys.flags.dont_write_bytecode:
        pytest.skip("without PYTHONDONTWRITEBYTECODE, Python writes the bytecode itself")
    for package in ("okrsync", "connectors"):
        cached = ROOT / package / "__pycache__"
        assert any(cached.glob(f"__init__.{sys.implementation.cache_tag}.pyc")), package


@pytest.mark.parametrize("source", ["github", "jira"])
def test_first_sync_is_measured_against_a_bare_client_making_the_same_requests(
    figures: dict[str, dict[str, Any]], source: str
) -> None:
    first = _engine(figures[source])["first_sync"]
    rounds = {"github": 1, "jira": 2}[source]
    for side in ("bare", "okrsync"):
        assert len(first[side]["wall"]["runs"]) == rounds
        assert first[side]["wall"]["median"] > 0
        assert 0 < first[side]["cpu"]["median"]
        assert first[side]["peak_rss_mb"]["median"] > 10  # a Python process, not the sampler missing it
    assert first["ratio_wall"] > 0 and first["ratio_cpu"] > 0
    assert first["same_requests"], first["request_differences"]
    assert first["bare"]["requests"] == first["okrsync"]["requests"] > 0


def test_github_is_also_measured_against_a_bare_client_on_okrsyncs_transport(
    figures: dict[str, dict[str, Any]],
) -> None:
    matched = _engine(figures["github"])["first_sync"]["baselines"]["bare_matched"]
    assert matched["same_requests"], matched["request_differences"]
    assert matched["wall"]["median"] > 0 and matched["cpu"]["median"] > 0
    assert matched["ratio_wall"] > 0 and matched["ratio_cpu"] > 0


def test_github_nothing_changed_poll_answers_304_and_costs_no_points(
    figures: dict[str, dict[str, Any]],
) -> None:
    engine = _engine(figures["github"])
    second = engine["no_change_second"]
    assert second["requests"] == 4  # issues and milestones of 2 repos
    assert second["not_modified"] == second["requests"]
    assert second["rate_points"] == 0
    assert second["issues_written"] == 0
    assert engine["no_change_first"]["requests"] == 4
    changed = engine["one_percent"]
    assert changed["changed"] == 1
    assert changed["target"] == second["requests"] + 1
    assert changed["rate_points"] >= 1  # the changed repo's issue list answered 200


def test_jira_nothing_changed_poll_is_one_search_and_the_versions(
    figures: dict[str, dict[str, Any]],
) -> None:
    engine = _engine(figures["jira"])
    paths = engine["no_change_second"]["by_path"]
    assert paths["/rest/api/2/search/jql"] == 1
    assert paths["/rest/api/2/project/{p}/versions"] == 2
    assert engine["one_percent"]["changed"] == 1


@pytest.mark.parametrize("source", ["github", "jira"])
def test_daemon_cycle_and_rollup_are_measured_in_their_own_processes(
    figures: dict[str, dict[str, Any]], source: str
) -> None:
    engine = _engine(figures[source])
    daemon = engine["daemon_no_change"]
    assert daemon["requests"] > 0
    assert daemon["cpu"] > 0 and daemon["wall"] > 0 and daemon["peak_rss_mb"] > 10
    rollup = engine["rollup_and_detection"]
    assert rollup["key_results"] == figures[source]["sizes"][0]["krs"]
    assert rollup["wall"] > 0 and rollup["peak_rss_mb"] > 10
    for repeated in (daemon, rollup):  # each run three times in processes of their own: the median
        for key in ("wall", "cpu"):
            assert len(repeated[f"{key}_runs"]) == 3
            assert repeated[key] == round(statistics.median(repeated[f"{key}_runs"]), 3)


def test_saved_figures_render_as_markdown_tables(figures: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    rendered = render_markdown(figures, "github", tmp_path)
    assert "| 40 | sqlite |" in rendered
    assert "### Full first sync against the bare client" in rendered
    first = figures["github"]["sizes"][0]["engines"]["sqlite"]["first_sync"]
    rounds = zip(first["okrsync"]["wall"]["runs"], first["bare"]["wall"]["runs"], strict=True)
    per_round = statistics.median(mine / bare for mine, bare in rounds)
    row = next(line for line in rendered.splitlines() if line.startswith("| 40 | sqlite |"))
    assert row.split(" | ")[5].startswith(
        f"{per_round:.2f}"
    )  # the ratio per round, beside the medians' ratio
