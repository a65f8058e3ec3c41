"""mappings/*.toml → OkrSet: the whole format, and every error saying file:line, field, expectation."""

from __future__ import annotations

import copy
import pickle
from datetime import date
from pathlib import Path

import pytest

from okrsync.errors import ConfigError, InputError, MappingError
from okrsync.mappings import load_okrs
from okrsync.okrs import Where
from okrsync.settings import load_settings
from okrsync.tomlpos import KeyPath

CONFIG = """\
[sources.github]
kind = "github"

[sources.jira]
kind = "jira"
url = "https://acme.atlassian.net"

[people.alice]
name = "Alice"

[people.bob]
name = "Bob"
"""

# Lines 1-4: the cycle; 5-8: an objective; 9-12: a key result. Cases append from line 13.
CYCLE = """\
[cycle]
id = "2026-Q4"
start = 2026-10-01
end = 2026-12-31
"""
OBJECTIVE = """\
[[objective]]
id = "ENG-1"
title = "Remove friction from onboarding"
owner = "alice"
"""
KR = """\
[[objective.key_result]]
id = "ENG-1.1"
title = "Cut onboarding errors by 80%"
owner = "bob"
"""
HEAD = CYCLE + OBJECTIVE + KR

FULL = """\
[cycle]
id = "2026-Q4"
start = 2026-10-01
end = 2026-12-31

[[objective]]
id = "ENG-1"
title = "Remove friction from onboarding"
owner = "alice"
team = "eng"
parent = "CO-1"
weight = 2

[[objective.key_result]]
id = "ENG-1.1"
title = "Cut onboarding-related errors by 80%"
owner = "bob"
kind = "milestones"
baseline = 0
target = 100
unit = "%"
commitment = "committed"
measurement = "Share of linked milestone work done; sub-tasks excluded."
weighting = "points"

[[objective.key_result.link]]
source = "github"
repo = "acme/web"
milestone = "Onboarding v2"
weight = 2

[[objective.key_result.link]]
source = "github"
repo = "acme/web"
number = 12

[[objective.key_result.link]]
source = "jira"
version = "ONB/2.0"

[[objective.key_result.link]]
source = "jira"
epic = "ONB-12"

[[objective.key_result.link]]
source = "jira"
jql = "project = ONB AND labels = perf"
due = 2026-11-30
title = "Perf fixes"

[[objective.key_result]]
id = "ENG-1.2"
title = "Time to first commit from 4 days to 1.5"
owner = "alice"
kind = "metric"
baseline = 4
target = 1.5
unit = "days"
value_query = "project = ONB AND labels = first-commit AND statusCategory = Done"
value_source = "jira"
"""

COMPANY = """\
[cycle]
id = "2026"
start = 2026-01-01
end = 2026-12-31

[[objective]]
id = "CO-1"
title = "Customers succeed in their first week"
owner = "alice"

[[objective.key_result]]
id = "CO-1.1"
title = "Week-one retention"
owner = "alice"
kind = "metric"
baseline = 60
target = 75
unit = "%"
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with config.toml and an empty mappings/ folder."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.toml").write_text(CONFIG)
    (tmp_path / "mappings").mkdir()
    return tmp_path


def load(project: Path, files: dict[str, str]) -> object:
    """Write `files` (config.toml, or names under mappings/), then load config and mappings."""
    for name, text in files.items():
        target = project / (name if name == "config.toml" else f"mappings/{name}")
        target.write_text(text)
    settings = load_settings(Path("config.toml"), environ={})
    return load_okrs(Path("mappings"), settings=settings)


def test_full_format_loads_into_records(project: Path) -> None:
    okrs = load(project, {"company.toml": COMPANY, "eng.toml": FULL})

    assert set(okrs.cycles) == {"2026", "2026-Q4"}
    assert okrs.cycles["2026-Q4"].start == date(2026, 10, 1)
    assert list(okrs.objectives) == ["CO-1", "ENG-1"]
    eng = okrs.objectives["ENG-1"]
    assert (eng.cycle_id, eng.team, eng.parent, eng.weight) == ("2026-Q4", "eng", "CO-1", 2.0)
    assert str(eng.where) == "mappings/eng.toml:6"
    assert okrs.children("CO-1") == [eng]
    kr, metric = eng.key_results
    assert (kr.objective_id, kr.commitment, kr.weighting, kr.baseline, kr.target, kr.unit) == (
        "ENG-1",
        "committed",
        "points",
        0,
        100,
        "%",
    )
    assert [(link.kind, link.source, link.target, link.weight) for link in kr.links] == [
        ("github_milestone", "github", "acme/web", 2.0),
        ("github_milestone", "github", "acme/web", 1.0),
        ("jira_version", "jira", "ONB/2.0", 1.0),
        ("jira_epic", "jira", "ONB-12", 1.0),
        ("jira_jql", "jira", "project = ONB AND labels = perf", 1.0),
    ]
    assert kr.links[0].milestone == "Onboarding v2"
    assert kr.links[1].number == 12
    assert (kr.links[4].due, kr.links[4].title) == (date(2026, 11, 30), "Perf fixes")
    assert [str(link.where) for link in kr.links] == [
        "mappings/eng.toml:26",
        "mappings/eng.toml:32",
        "mappings/eng.toml:37",
        "mappings/eng.toml:41",
        "mappings/eng.toml:45",
    ]
    assert (metric.kind, metric.commitment, metric.baseline, metric.target) == (
        "metric",
        "aspirational",
        4,
        1.5,
    )
    assert (metric.value_source, metric.value_query) == (
        "jira",
        FULL.split('value_query = "')[1].split('"')[0],
    )
    assert set(okrs.key_results) == {"ENG-1.1", "ENG-1.2", "CO-1.1"}
    assert okrs.warnings == ()


def test_files_may_share_a_cycle_with_identical_dates(project: Path) -> None:
    other = CYCLE + OBJECTIVE.replace("ENG-1", "ENG-2")
    okrs = load(project, {"a.toml": CYCLE + OBJECTIVE, "b.toml": other})

    assert list(okrs.cycles) == ["2026-Q4"]
    assert [o.cycle_id for o in okrs.objectives.values()] == ["2026-Q4", "2026-Q4"]


def test_defaults_of_optional_fields(project: Path) -> None:
    okrs = load(project, {"a.toml": HEAD})

    kr = okrs.key_results["ENG-1.1"]
    assert (kr.kind, kr.commitment, kr.weighting, kr.weight, kr.measurement, kr.links) == (
        "milestones",
        "aspirational",
        "count",
        1.0,
        "",
        (),
    )
    assert okrs.objectives["ENG-1"].weight == 1.0


def test_an_empty_folder_is_an_error_like_a_missing_one(project: Path) -> None:
    # Issue 12: an empty folder used to pass `validate --strict` with "ok: 0 cycle(s)".
    with pytest.raises(MappingError) as caught:
        load(project, {})

    assert "it holds no *.toml file" in str(caught.value)
    assert "okrsync.mappings" in str(caught.value)


def test_a_missing_folder_is_an_error(project: Path) -> None:
    settings = load_settings(Path("config.toml"), environ={})

    with pytest.raises(MappingError) as caught:
        load_okrs(Path("nowhere"), settings=settings)

    assert "expected a folder" in str(caught.value)


def test_owner_missing_from_people_is_a_warning_not_an_error(project: Path) -> None:
    okrs = load(project, {"a.toml": HEAD.replace('owner = "bob"', 'owner = "carol"') + "baseline = 0\n"})

    assert [str(w) for w in okrs.warnings if "people" in w.message] == [
        "mappings/a.toml:9: key_result ENG-1.1: owner 'carol' is not in [people]; expected a person "
        "there, or alerts reach only channels with a fixed target"
    ]


A = "mappings/a.toml"
B = "mappings/b.toml"
C = "config.toml"

# (files written, then [(file, line, field, words the message must hold)]): exactly these problems.
MALFORMED = {
    "bad TOML": (
        {"a.toml": CYCLE + '[[objective]]\nid = "ENG-1\n'},
        [(A, 6, "syntax", "invalid TOML")],
    ),
    "typo'd key, with the required key then missing": (
        {"a.toml": HEAD.replace('owner = "alice"', 'ownr = "alice"')},
        [
            (A, 5, "objective[0].owner", "missing; expected a non-empty string"),
            (A, 8, "objective[0].ownr", "unknown key; did you mean 'owner'?"),
        ],
    ),
    "duplicate ids across two files": (
        {"a.toml": HEAD, "b.toml": CYCLE + OBJECTIVE.replace('title = "Remove', 'title = "Other')},
        [
            (
                B,
                6,
                "objective[0].id",
                "duplicate id 'ENG-1'; already used by the objective at mappings/a.toml:5",
            )
        ],
    ),
    "objectives and key results share one id namespace": (
        {"a.toml": HEAD, "b.toml": CYCLE + OBJECTIVE.replace('"ENG-1"', '"ENG-1.1"')},
        [
            (
                B,
                6,
                "objective[0].id",
                "duplicate id 'ENG-1.1'; already used by the key result at mappings/a.toml:9",
            )
        ],
    ),
    "parent loop": (
        {
            "a.toml": CYCLE
            + OBJECTIVE
            + 'parent = "ENG-2"\n'
            + OBJECTIVE.replace("ENG-1", "ENG-2")
            + 'parent = "ENG-1"\n'
        },
        [(A, 9, "objective[0].parent", "loop: ENG-1 → ENG-2 → ENG-1")],
    ),
    "objective that is its own parent": (
        {"a.toml": CYCLE + OBJECTIVE + 'parent = "ENG-1"\n'},
        [(A, 9, "objective[0].parent", "loop: ENG-1 → ENG-1")],
    ),
    "unknown parent id": (
        {"a.toml": CYCLE + OBJECTIVE + 'parent = "ENG-7"\n'},
        [(A, 9, "objective[0].parent", "unknown objective id 'ENG-7'")],
    ),
    "parent that is a key result": (
        {"a.toml": HEAD + OBJECTIVE.replace("ENG-1", "ENG-2") + 'parent = "ENG-1.1"\n'},
        [(A, 17, "objective[1].parent", "expected an objective id; 'ENG-1.1' is a key result")],
    ),
    "key result without owner": (
        {"a.toml": HEAD.replace('owner = "bob"\n', "")},
        [(A, 9, "objective[0].key_result[0].owner", "missing; expected a non-empty string")],
    ),
    "baseline equal to target": (
        {"a.toml": HEAD + "baseline = 5\ntarget = 5\n"},
        [(A, 14, "objective[0].key_result[0].target", "expected a target different from the baseline (5)")],
    ),
    "unknown source": (
        {
            "a.toml": HEAD
            + '[[objective.key_result.link]]\nsource = "gitlab"\nrepo = "acme/web"\nmilestone = "v2"\n'
        },
        [(A, 14, "objective[0].key_result[0].link[0].source", "unknown source 'gitlab'")],
    ),
    "source of the wrong kind": (
        {"a.toml": HEAD + '[[objective.key_result.link]]\nsource = "github"\nversion = "ONB/2.0"\n'},
        [
            (
                A,
                14,
                "objective[0].key_result[0].link[0].source",
                "expected a jira source for a version link; 'github' is a github source",
            )
        ],
    ),
    "cycle end before start": (
        {"a.toml": CYCLE.replace("end = 2026-12-31", "end = 2026-09-30")},
        [(A, 4, "cycle.end", "expected a date on or after start (2026-10-01), got 2026-09-30")],
    ),
    "same cycle id, different dates": (
        {"a.toml": CYCLE, "b.toml": CYCLE.replace("end = 2026-12-31", "end = 2026-12-30")},
        [
            (
                B,
                4,
                "cycle.end",
                "expected 2026-12-31, as cycle '2026-Q4' has in mappings/a.toml:1; got 2026-12-30",
            )
        ],
    ),
    "wrong type": (
        {"a.toml": HEAD + 'weight = "2"\n'},
        [(A, 13, "objective[0].key_result[0].weight", "expected a number > 0, got '2'")],
    ),
    "weight of zero": (
        {"a.toml": CYCLE + OBJECTIVE + "weight = 0\n"},
        [(A, 9, "objective[0].weight", "expected a number > 0, got 0")],
    ),
    "jql without due": (
        {
            "a.toml": HEAD
            + '[[objective.key_result.link]]\nsource = "jira"\njql = "labels = x"\ntitle = "X"\n'
        },
        [(A, 13, "objective[0].key_result[0].link[0].due", "missing; expected a date such as 2026-10-01")],
    ),
    "jql without title": (
        {
            "a.toml": HEAD
            + '[[objective.key_result.link]]\nsource = "jira"\njql = "labels = x"\ndue = 2026-11-01\n'
        },
        [(A, 13, "objective[0].key_result[0].link[0].title", "missing; expected a non-empty string")],
    ),
    "link with two targets": (
        {
            "a.toml": HEAD
            + '[[objective.key_result.link]]\nsource = "jira"\nversion = "ONB/2.0"\nepic = "ONB-1"\n'
        },
        [
            (
                A,
                16,
                "objective[0].key_result[0].link[0].epic",
                "expected exactly one of milestone, number, version, epic or jql; got version and epic",
            )
        ],
    ),
    "link with no target": (
        {"a.toml": HEAD + '[[objective.key_result.link]]\nsource = "jira"\n'},
        [(A, 13, "objective[0].key_result[0].link[0]", "expected exactly one of milestone, number, version")],
    ),
    "milestone link without repo": (
        {"a.toml": HEAD + '[[objective.key_result.link]]\nsource = "github"\nmilestone = "v2"\n'},
        [
            (
                A,
                13,
                "objective[0].key_result[0].link[0].repo",
                'missing; a milestone link needs repo = "owner/name"',
            )
        ],
    ),
    "kind not milestones or metric": (
        {"a.toml": HEAD + 'kind = "okr"\n'},
        [(A, 13, "objective[0].key_result[0].kind", "expected 'milestones' or 'metric', got 'okr'")],
    ),
    "commitment not committed or aspirational": (
        {"a.toml": HEAD + 'commitment = "maybe"\n'},
        [
            (
                A,
                13,
                "objective[0].key_result[0].commitment",
                "expected 'aspirational' or 'committed', got 'maybe'",
            )
        ],
    ),
    "metric key result without baseline and target": (
        {"a.toml": HEAD + 'kind = "metric"\n'},
        [
            (A, 9, "objective[0].key_result[0].baseline", "missing; a metric key result needs a baseline"),
            (A, 9, "objective[0].key_result[0].target", "missing; a metric key result needs a baseline"),
        ],
    ),
    "milestones key result with value_query": (
        {"a.toml": HEAD + 'value_query = "is:issue"\nvalue_source = "github"\n'},
        [
            (
                A,
                13,
                "objective[0].key_result[0].value_query",
                "expected no value_query on a milestones key result",
            )
        ],
    ),
    "value_query without value_source": (
        {"a.toml": HEAD + 'kind = "metric"\nbaseline = 0\ntarget = 9\nvalue_query = "is:issue"\n'},
        [(A, 9, "objective[0].key_result[0].value_source", "missing; expected the name of the source")],
    ),
    "file without [cycle]": (
        {"a.toml": OBJECTIVE},
        [(A, 1, "cycle", "missing [cycle] table; expected id, start and end")],
    ),
    "cycle without id": (
        {"a.toml": CYCLE.replace('id = "2026-Q4"\n', "")},
        [(A, 1, "cycle.id", "missing; expected a non-empty string")],
    ),
    "single [objective] table instead of an array": (
        {"a.toml": CYCLE + OBJECTIVE.replace("[[objective]]", "[objective]")},
        [(A, 5, "objective", "expected [[objective]] (an array of tables), got a single table")],
    ),
    "id that cannot be a label": (
        {"a.toml": CYCLE + OBJECTIVE.replace('"ENG-1"', '"ENG 1"')},
        [(A, 6, "objective[0].id", "expected an id of letters, digits, '.', '_' or '-', got 'ENG 1'")],
    ),
    "problems in several files are all reported": (
        {"a.toml": HEAD + "weight = -1\n", "b.toml": OBJECTIVE.replace("ENG-1", "ENG-9")},
        [
            (A, 13, "objective[0].key_result[0].weight", "expected a number > 0, got -1"),
            (B, 1, "cycle", "missing [cycle] table"),
        ],
    ),
    "config: typo'd key": (
        {C: CONFIG.replace('kind = "github"', 'kind = "github"\ntokn = "x"')},
        [(C, 3, "sources.github.tokn", "unknown key; did you mean 'token'?")],
    ),
    "config: wrong type": (
        {C: CONFIG + "[okrsync]\npoll_interval = 'abc'\n"},
        [(C, 14, "okrsync.poll_interval", "expected an integer ≥ 1, got 'abc'")],
    ),
    "config: bad TOML": (
        {C: CONFIG + "[okrsync\n"},
        [(C, 13, "syntax", "invalid TOML")],
    ),
    "config: unknown source kind": (
        {C: CONFIG + '[sources.gl]\nkind = "gitlab"\n'},
        [(C, 14, "sources.gl.kind", "expected 'github' or 'jira', got 'gitlab'")],
    ),
    "config: jira source without url": (
        {C: CONFIG.replace('url = "https://acme.atlassian.net"\n', "")},
        [(C, 4, "sources.jira.url", "missing; expected a string")],
    ),
}


@pytest.mark.parametrize(("files", "expected"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_input_names_file_line_field_and_expectation(
    project: Path, files: dict[str, str], expected: list[tuple[str, int, str, str]]
) -> None:
    with pytest.raises((ConfigError, MappingError)) as caught:
        load(project, files)

    error = caught.value
    assert isinstance(error, InputError)
    assert isinstance(error, ConfigError) == any(f == C for f, *_ in expected)
    got = [(p.file, p.line, p.field) for p in error.problems]
    assert got == [(f, line, field) for f, line, field, _ in expected], str(error)
    for problem, (*_, words) in zip(error.problems, expected, strict=True):
        assert words in problem.message
        assert f"{problem.file}:{problem.line}: {problem.field}: " in str(error)


def test_every_problem_of_every_file_comes_in_one_error(project: Path) -> None:
    bad_a = HEAD + 'kind = "okr"\nweight = 0\n'
    bad_b = CYCLE.replace("end = 2026-12-31", "end = 2026-01-01")

    with pytest.raises(MappingError) as caught:
        load(project, {"a.toml": bad_a, "b.toml": bad_b})

    assert [f"{p.file}:{p.line}" for p in caught.value.problems] == [
        "mappings/a.toml:13",
        "mappings/a.toml:14",
        "mappings/b.toml:4",
    ]


def test_a_quoted_iso_date_is_accepted(project: Path) -> None:
    okrs = load(project, {"a.toml": CYCLE.replace("start = 2026-10-01", 'start = "2026-10-01"')})

    assert okrs.cycles["2026-Q4"].start == date(2026, 10, 1)


# -- positions, found when a message needs them (issue 9: process start) ----------------------


def test_positions_come_from_the_text_as_loaded_even_when_shown_later(project: Path) -> None:
    # Lines are found on first use (Where.later); the file as it was read decides them, so a
    # message shown after the file changed on disk still points where the record was.
    okrs = load(project, {"a.toml": HEAD + "baseline = 0\n"})
    (project / "mappings" / "a.toml").write_text("\n" * 40 + HEAD)

    assert str(okrs.objectives["ENG-1"].where) == "mappings/a.toml:5"
    assert str(okrs.key_results["ENG-1.1"].where) == "mappings/a.toml:9"
    assert [str(w) for w in okrs.warnings][0].startswith("mappings/a.toml:9: key_result ENG-1.1: ")


def test_a_later_position_is_found_once_when_first_shown() -> None:
    asked: list[KeyPath] = []

    def find(path: KeyPath) -> int:
        asked.append(path)
        return 7

    where = Where.later("a.toml", find, ("objective", 0))

    assert asked == []
    assert str(where) == "a.toml:7"
    assert (where.line, where == Where("a.toml", 7), hash(where) == hash(Where("a.toml", 7))) == (
        7,
        True,
        True,
    )
    assert repr(where) == "Where(file='a.toml', line=7)"
    assert asked == [("objective", 0)]
    with pytest.raises(AttributeError):
        where.file = "b.toml"
    assert copy.deepcopy(where) == pickle.loads(pickle.dumps(where)) == Where("a.toml", 7)


def test_key_results_are_indexed_once_per_set(project: Path) -> None:
    # A first sync looks a KR up for each of its ~2,000 alerts: the index is built once.
    okrs = load(project, {"company.toml": COMPANY, "eng.toml": FULL})

    assert okrs.key_results is okrs.key_results
    assert list(okrs.key_results) == ["CO-1.1", "ENG-1.1", "ENG-1.2"]
