"""Best-practice lint: a table of OKR sets and the findings each must (and must only) produce."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from okrsync.lint import lint, top_cycles
from okrsync.mappings import load_okrs
from okrsync.okrs import Cycle, KeyResult, Link, Objective, OkrSet, Where
from okrsync.settings import load_settings

YEAR = Cycle("2026", date(2026, 1, 1), date(2026, 12, 31), where=Where("co.toml", 1))
Q1 = Cycle("2026-Q1", date(2026, 1, 1), date(2026, 3, 31), where=Where("eng.toml", 1))
Q3 = Cycle("2026-Q3", date(2026, 7, 1), date(2026, 9, 30), where=Where("eng.toml", 1))
Q4 = Cycle("2026-Q4", date(2026, 10, 1), date(2026, 12, 31), where=Where("eng.toml", 1))
LINK = Link(source="github", kind="github_milestone", target="acme/web", milestone="v2")


def kr(ident: str, **changes: object) -> KeyResult:
    """A key result that passes every rule unless `changes` break one."""
    fields: dict[str, object] = {
        "id": ident,
        "title": f"KR {ident}",
        "owner": "bob",
        "objective_id": ident.split(".")[0],
        "baseline": 0.0,
        "target": 100.0,
        "unit": "%",
        "links": (LINK,),
        "where": Where("eng.toml", 10),
    }
    fields.update(changes)
    return KeyResult(**fields)  # type: ignore[arg-type]


def objective(ident: str, *, krs: int = 1, **changes: object) -> Objective:
    fields: dict[str, object] = {
        "id": ident,
        "title": f"Objective {ident}",
        "owner": "alice",
        "cycle_id": "2026-Q4",
        "team": "eng",
        "key_results": tuple(kr(f"{ident}.{i}") for i in range(1, krs + 1)),
        "where": Where("eng.toml", 5),
    }
    fields.update(changes)
    return Objective(**fields)  # type: ignore[arg-type]


def okr_set(*objectives: Objective, cycles: tuple[Cycle, ...] = (Q4,)) -> OkrSet:
    return OkrSet(cycles={c.id: c for c in cycles}, objectives={o.id: o for o in objectives})


CASES = {
    "a good set has no findings": (okr_set(objective("E1", krs=3)), []),
    "four objectives in one team and cycle": (
        okr_set(*(objective(f"E{i}") for i in range(1, 5))),
        [("team eng", "4 objectives in cycle 2026-Q4; expected at most 3 per team")],
    ),
    "four objectives spread over two teams": (
        okr_set(
            objective("E1"), objective("E2"), objective("P1", team="product"), objective("P2", team="product")
        ),
        [],
    ),
    "objectives without a team count per file": (
        okr_set(*(objective(f"E{i}", team=None) for i in range(1, 5))),
        [("objectives of eng.toml", "4 objectives in cycle 2026-Q4")],
    ),
    "four key results in one objective": (
        okr_set(objective("E1", krs=4)),
        [("objective E1", "4 key results; expected at most 3 per objective")],
    ),
    "ten key results in one team": (
        okr_set(
            objective("E1", krs=3), objective("E2", krs=3), objective("E3", krs=2), objective("E4", krs=2)
        ),
        [
            ("team eng", "4 objectives in cycle 2026-Q4"),
            ("team eng", "10 key results in cycle 2026-Q4; expected at most 9 per team"),
        ],
    ),
    "key result without baseline and unit": (
        okr_set(objective("E1", key_results=(kr("E1.1", baseline=None, unit=None),))),
        [("key_result E1.1", "no baseline, unit; expected a baseline, a target and a unit")],
    ),
    "key result with baseline equal to target": (
        okr_set(objective("E1", key_results=(kr("E1.1", baseline=5.0, target=5.0),))),
        [("key_result E1.1", "baseline equals target")],
    ),
    "milestones key result without a link": (
        okr_set(objective("E1", key_results=(kr("E1.1", links=()),))),
        [("key_result E1.1", "no linked milestone in the mapping")],
    ),
    "metric key result without a link is fine": (
        okr_set(objective("E1", key_results=(kr("E1.1", kind="metric", links=()),))),
        [],
    ),
    "no parent in a quarter inside a year": (
        okr_set(objective("CO1", cycle_id="2026", team="co"), objective("E1"), cycles=(YEAR, Q4)),
        [("objective E1", "no parent; cycle 2026-Q4 lies within a longer cycle")],
    ),
    "a parent in the year satisfies the cascade": (
        okr_set(
            objective("CO1", cycle_id="2026", team="co"), objective("E1", parent="CO1"), cycles=(YEAR, Q4)
        ),
        [],
    ),
    "quarters alone are all top cycles, whatever their length": (
        okr_set(objective("E1", cycle_id="2026-Q1"), objective("E2"), cycles=(Q1, Q4)),
        [],
    ),
}


@pytest.mark.parametrize(("okrs", "expected"), CASES.values(), ids=CASES.keys())
def test_lint_findings(okrs: OkrSet, expected: list[tuple[str, str]]) -> None:
    found = lint(okrs, people={"alice", "bob"})

    assert [w.field for w in found] == [field for field, _ in expected], [str(w) for w in found]
    for warning, (_, words) in zip(found, expected, strict=True):
        assert words in warning.message


def test_owners_missing_from_people_are_found_for_objectives_and_key_results() -> None:
    okrs = okr_set(objective("E1", owner="carol", key_results=(kr("E1.1", owner="dan"),)))

    found = lint(okrs, people={"alice"})

    assert [(w.field, w.message.split(";")[0]) for w in found] == [
        ("objective E1", "owner 'carol' is not in [people]"),
        ("key_result E1.1", "owner 'dan' is not in [people]"),
    ]
    assert lint(okrs) == []  # without a config, owners are not checked


def test_findings_point_at_the_file_and_line() -> None:
    okrs = okr_set(objective("E1", key_results=(kr("E1.1", links=(), where=Where("eng.toml", 42)),)))

    assert [str(w) for w in lint(okrs)] == [
        "eng.toml:42: key_result E1.1: no linked milestone in the mapping; only tracker labels or "
        "milestone descriptions naming E1.1 can move it"
    ]


@pytest.mark.parametrize(
    ("cycles", "top"),
    [
        ((YEAR, Q1, Q3, Q4), {"2026"}),
        ((Q1, Q3), {"2026-Q1", "2026-Q3"}),
        ((Q4,), {"2026-Q4"}),
        (
            (
                Cycle("FY27", date(2026, 7, 1), date(2027, 6, 30)),
                Cycle("FY27-Q3", date(2027, 1, 1), date(2027, 3, 31)),
            ),
            {"FY27"},
        ),
    ],
)
def test_top_cycles_are_those_no_longer_cycle_contains(cycles: tuple[Cycle, ...], top: set[str]) -> None:
    assert top_cycles(cycles) == top


def test_load_okrs_returns_the_lint_findings(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[sources.github]\nkind = "github"\n[people.alice]\n')
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "eng.toml").write_text(
        '[cycle]\nid = "Q"\nstart = 2026-10-01\nend = 2026-12-31\n'
        '[[objective]]\nid = "E1"\ntitle = "T"\nowner = "alice"\n'
        '[[objective.key_result]]\nid = "E1.1"\ntitle = "K"\nowner = "bob"\n'
    )
    settings = load_settings(tmp_path / "config.toml", environ={})

    okrs = load_okrs(settings.okrsync.mappings, settings=settings)

    assert [(w.where.line, w.field, w.message.split(";")[0]) for w in okrs.warnings] == [
        (9, "key_result E1.1", "no baseline, target, unit"),
        (9, "key_result E1.1", "no linked milestone in the mapping"),
        (9, "key_result E1.1", "owner 'bob' is not in [people]"),
    ]
