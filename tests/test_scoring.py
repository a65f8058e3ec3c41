"""`okrsync score`: bands, call-outs, notes, and the demo org scored against a table done by hand."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from okrsync.cli import app
from okrsync.engine import run_cycle
from okrsync.mappings import load_okrs
from okrsync.okrs import KeyResult
from okrsync.sandbox import demo
from okrsync.sandbox.github import GitHubSim
from okrsync.sandbox.jira import JiraSim
from okrsync.scoring import BANDS, CycleScores, KrScore, ObjectiveScore, band, callout, to_markdown
from okrsync.settings import load_settings
from okrsync.store import open_store

PINNED = demo.PINNED_NOW  # 2026-11-22 09:00 UTC

# --- bands and call-outs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (1.0, "strong"),
        (0.7, "strong"),
        (0.69, "partial"),
        (0.65, "partial"),  # between the SPEC's 0.6 and 0.7: not yet strong
        (0.4, "partial"),
        (0.39, "missed"),
        (0.35, "missed"),  # between 0.3 and 0.4: not yet partial
        (0.0, "missed"),
        (0.6999, "strong"),  # graded on the 2-decimal score shown (0.70), never the raw value
    ],
)
def test_a_score_falls_in_the_highest_band_whose_lower_bound_it_reaches(score: float, expected: str) -> None:
    assert band(score) == expected


def test_the_bands_cover_every_two_decimal_score_once() -> None:
    for hundredths in range(101):
        score = hundredths / 100
        holders = [name for name, low, high in BANDS if low <= score <= high]
        assert holders == [band(score)]


@pytest.mark.parametrize(
    ("commitment", "score", "expected"),
    [
        ("committed", 1.0, None),
        ("committed", 0.99, "committed_below_target"),
        ("aspirational", 1.0, "aspirational_at_target"),  # a sandbagged target?
        ("aspirational", 0.7, None),
    ],
)
def test_committed_krs_below_1_and_aspirational_ones_at_1_are_called_out(
    commitment: str, score: float, expected: str | None
) -> None:
    kr = KeyResult(id="K", title="t", owner="o", objective_id="O", commitment=commitment)  # type: ignore[arg-type]
    assert callout(kr, score) == expected


def test_markdown_cells_stay_in_their_column() -> None:
    kr = KrScore(
        "K|1",
        "a | b\nc",
        "o",
        "milestones",
        "aspirational",
        0.5,
        0.5,
        "partial",
        "on_track",
        None,
        None,
        None,
        "x|y",
        "basis",
    )
    objective = ObjectiveScore("O", "Obj", "o", None, None, 0.5, 0.5, "partial", "on_track", (kr,))
    markdown = to_markdown([CycleScores("C", date(2026, 10, 1), date(2026, 12, 31), (objective,))])
    row = next(line for line in markdown.splitlines() if line.startswith("| K"))
    assert row == r"| K\|1 | a \| b c | o | aspirational | 0.50 | partial |  | x\|y |"


# --- the demo org --------------------------------------------------------------------------------


@dataclass
class Demo:
    config: Path
    env: dict[str, str]


@pytest.fixture
def demo_org(tmp_path: Path, database_url: str) -> Iterator[Demo]:
    """The demo's GitHub and Jira, seeded at the demo's pinned time, synced once."""
    clock = [PINNED]
    github = GitHubSim(tokens={demo.DEMO_TOKEN: "okrsync-demo"}, clock=lambda: clock[0])
    jira = JiraSim(
        "cloud", users={f"{demo.JIRA_EMAIL}:{demo.DEMO_TOKEN}": "okrsync-demo"}, clock=lambda: clock[0]
    )
    demo.seed(github, now=PINNED)
    demo.seed_jira(jira, clock, now=PINNED)
    github.start()
    jira.start()
    try:
        config = demo.write_config(tmp_path, github_url=github.url, jira_url=jira.url)
        env = {"OKRSYNC_OKRSYNC__DATABASE_URL": database_url, "OKRSYNC_NOW": PINNED.isoformat()}
        settings = load_settings(config, environ=env)
        okrs = load_okrs(settings.okrsync.mappings, settings=settings)
        engine = open_store(settings.okrsync.database_url)
        report = run_cycle(settings, okrs, engine, now=PINNED, deliver=False)
        assert not report.failed
        engine.dispose()
        yield Demo(config, env)
    finally:
        github.stop()
        jira.stop()


# Computed by hand from okrsync/sandbox/demo.py on 2026-11-22 (count weighting unless noted):
#   Onboarding v2  5 of 10 done (the not-planned issue and the pull request are out)  = 0.5
#   Signup API     4 of 6                                                              = 0.6667
#   ONB/2.0        3 of 5 (Won't Do excluded, the sub-task left out)                   = 0.6
#   ENG-1.1 = (2×0.5 + 0.6667 + 0.6) / 4                                               = 0.5667 → 0.57
#   Error budget 1/3, Jira epic kr:ENG-1.2 1/2, "ENG-1.2 direct work" labels 1/2
#   ENG-1.2 = (0.3333 + 0.5 + 0.5) / 3                                                 = 0.4444 → 0.44
#   Perf sprint, points: done 5+3 of 5+3+2+8+4 (unestimated = median 4)                = 0.3636 → 0.36
#   CO-1.1 metric: 12 closed customer bugs of a target of 30                           = 0.40
#   ENG-1 = mean(0.5667, 0.4444) = 0.5056 → 0.51;  ENG-2 = 0.3636 → 0.36
#   CO-1 = mean(CO-1.1 0.40, ENG-1 0.5056, ENG-2 0.3636) = 0.4231 → 0.42
HAND = [
    ("2026", "CO-1", 0.42, "partial", None),
    ("2026", "CO-1.1", 0.40, "partial", "committed_below_target"),
    ("2026-Q4", "ENG-1", 0.51, "partial", None),
    ("2026-Q4", "ENG-1.1", 0.57, "partial", "committed_below_target"),
    ("2026-Q4", "ENG-1.2", 0.44, "partial", None),
    ("2026-Q4", "ENG-2", 0.36, "missed", None),
    ("2026-Q4", "ENG-2.1", 0.36, "missed", None),
]


def score(org: Demo, *args: str) -> str:
    result = CliRunner().invoke(app, ["--config", str(org.config), "score", *args], env=org.env)
    assert result.exit_code == 0, result.output
    return result.stdout


def rows_of(document: dict[str, object]) -> list[tuple[str, str, float, str, str | None]]:
    rows = []
    for cycle in document["cycles"]:  # type: ignore[attr-defined]
        for o in cycle["objectives"]:
            rows.append((cycle["id"], o["id"], o["score"], o["band"], None))
            rows += [(cycle["id"], k["id"], k["score"], k["band"], k["callout"]) for k in o["key_results"]]
    return rows


def test_score_on_the_demo_org_matches_the_table_computed_by_hand(demo_org: Demo) -> None:
    document = json.loads(score(demo_org, "--format", "json"))

    assert rows_of(document) == HAND
    assert document["generated_at"] == "2026-11-22T09:00:00Z"
    assert document["bands"][1] == {"band": "partial", "from": 0.4, "to": 0.69}
    eng11 = document["cycles"][1]["objectives"][0]["key_results"][0]
    assert eng11["basis"] == "12 of 21 issues done in 3 milestone(s); overdue: Signup API"
    assert eng11["commitment"] == "committed" and eng11["note"] is None

    only_q4 = json.loads(score(demo_org, "--cycle", "2026-Q4", "--format", "json"))
    assert rows_of(only_q4) == [row for row in HAND if row[0] == "2026-Q4"]

    table = score(demo_org)
    assert "ENG-2.1" in table and "missed" in table and "⚠ below 1.0" in table


def test_the_markdown_form_is_a_table_per_cycle(demo_org: Demo) -> None:
    lines = score(demo_org, "--format", "markdown").splitlines()

    header = [i for i, line in enumerate(lines) if line.startswith("| ID | Title |")]
    assert len(header) == 2  # one table per cycle
    for i in header:
        assert re.fullmatch(r"\|(-{3}:?\|){8}", lines[i + 1]), lines[i + 1]
        body = []
        for line in lines[i + 2 :]:
            if not line.startswith("|"):
                break
            body.append(line)
        assert all(len(re.split(r"(?<!\\)\|", row)) == 10 for row in body)  # 8 cells, every row
    assert (
        "| ENG-1.1 | Ship the new self-serve onboarding flow | bob | committed | 0.57 | partial |"
        in lines[header[1] + 3]
    )


def test_notes_are_stored_updated_and_removed(demo_org: Demo) -> None:
    def note_of(kr_id: str) -> str | None:
        document = json.loads(score(demo_org, "--format", "json"))
        return next(
            k["note"]
            for c in document["cycles"]
            for o in c["objectives"]
            for k in o["key_results"]
            if k["id"] == kr_id
        )

    score(
        demo_org,
        "--note",
        "ENG-1.2=Errors fell, but the budget milestone slipped",
        "--note",
        "CO-1.1=On pace",
    )
    assert note_of("ENG-1.2") == "Errors fell, but the budget milestone slipped"
    assert note_of("CO-1.1") == "On pace"
    markdown = score(demo_org, "--format", "markdown", "--note", "ENG-1.2=Slipped | re-planned")
    assert r"| Slipped \| re-planned |" in markdown
    score(demo_org, "--note", "ENG-1.2=")
    assert note_of("ENG-1.2") is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--note", "ENG-1.9=x"], "no key result 'ENG-1.9'; did you mean"),
        (["--note", "ENG-1.2"], "expected KR-ID=TEXT"),
        (["--format", "csv"], "'csv' is not one of 'table',"),  # a usage error naming the choices
        (["--cycle", "2027"], "no such cycle"),
    ],
)
def test_bad_score_arguments_exit_2_and_store_nothing(demo_org: Demo, args: list[str], message: str) -> None:
    result = CliRunner().invoke(
        app, ["--config", str(demo_org.config), "score", "--note", "CO-1.1=kept?", *args], env=demo_org.env
    )
    assert result.exit_code == 2
    assert message in result.output
    document = json.loads(score(demo_org, "--format", "json"))
    assert document["cycles"][0]["objectives"][0]["key_results"][0]["note"] is None


def _shape(value: object) -> object:
    """Reduce a JSON value to its keys, recursively (first list item stands for the list)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return None


def test_the_json_form_is_the_one_documented_in_the_readme(demo_org: Demo) -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    block = readme.split("`score --format json`", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    documented = json.loads(block)
    actual = json.loads(score(demo_org, "--format", "json"))
    assert _shape(actual) == _shape(documented)
