"""The marked section and the renderings: pure functions, table-driven."""

from __future__ import annotations

from datetime import date

import pytest

from okrsync.ingest import kr_ids_from_text
from okrsync.okrs import Cycle, KeyResult, Objective, OkrSet
from okrsync.rollup import IssueFacts, MilestoneFacts, RollupInputs, roll_up
from okrsync.store import WritebackTarget
from okrsync.writeback import markers, render
from okrsync.writeback.plan import Target, content_hash, needs_write

B, E = markers.BEGIN, markers.END


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, f"{B}\nnew\n{E}"),
        ("", f"{B}\nnew\n{E}"),
        ("Human.\n", f"Human.\n\n{B}\nnew\n{E}"),
        (f"Top\n\n{B}\nold\n{E}\n\nBottom", f"Top\n\n{B}\nnew\n{E}\n\nBottom"),
        (f"Top\r\n{B}\r\nold\r\n{E}\r\nBottom", f"Top\r\n{B}\nnew\n{E}\r\nBottom"),
        (f"Cut {B} in half", f"Cut {B} in half\n\n{B}\nnew\n{E}"),
        (f"Cut {B} in half\n\n{B}\nold\n{E}", f"Cut {B} in half\n\n{B}\nnew\n{E}"),
        (f"Stray {E}\n\n{B}\nold\n{E}", f"Stray {E}\n\n{B}\nnew\n{E}"),
        (f"{B}\na\n{E} and {B}\nb\n{E}", f"{B}\nnew\n{E} and {B}\nb\n{E}"),
    ],
)
def test_splice_replaces_only_the_marked_section(text: str | None, expected: str) -> None:
    assert markers.splice(text, "new") == expected
    assert markers.section_of(expected) == "new"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("No section", "No section"),
        (f"Human.\n\n{B}\nx\n{E}", "Human."),
        (f"Top\n\n{B}\nx\n{E}\n\nBottom", "Top\n\nBottom"),
    ],
)
def test_remove_keeps_the_persons_text(text: str, expected: str) -> None:
    assert markers.remove(text) == expected


def context(*, title: str = "Ship onboarding", public_url: str | None = None) -> render.Context:
    kr = KeyResult(id="ENG-1.1", title=title, owner="bob", objective_id="ENG-1")
    okrs = OkrSet(
        cycles={"Q4": Cycle("Q4", date(2026, 10, 1), date(2026, 12, 31))},
        objectives={"ENG-1": Objective("ENG-1", "Remove | friction", "alice", "Q4", key_results=(kr,))},
    )
    milestone = MilestoneFacts(
        source="github",
        key="acme/web#1",
        title="Onboarding <v2>",
        state="open",
        due=date(2026, 11, 20),
        issues=(IssueFacts("acme/web#2", "a", "done"), IssueFacts("acme/web#3", "b", "open")),
        url="https://github.com/acme/web/milestone/1",
    )
    rollup = roll_up(okrs, RollupInputs(milestones={"ENG-1.1": [(milestone, 1.0)]}), today=date(2026, 11, 22))
    return render.Context(okrs=okrs, rollup=rollup, public_url=public_url, label_prefix="kr:")


def test_the_dashboard_table_says_progress_status_and_each_milestone() -> None:
    section = render.dashboard_section("acme/web", {"ENG-1.1"}, context(), "markdown")

    assert section.splitlines() == [
        "### Key results fed by acme/web",
        "",
        "| Objective | Key result | Owner | Progress | Status | Milestones |",
        "|---|---|---|---|---|---|",
        "| ENG-1 Remove \\| friction | ENG-1.1 Ship onboarding | bob | 50% (expected 58%) | 🔴 off track | "
        "[Onboarding &lt;v2&gt;](https://github.com/acme/web/milestone/1): 1/2 done, due 2026-11-20, overdue, "
        "forecast: stalled |",
    ]


def test_a_kr_links_to_its_report_page_when_public_url_is_set() -> None:
    section = render.dashboard_section(
        "acme/web", {"ENG-1.1"}, context(public_url="https://okr.acme.test/"), "markdown"
    )

    assert "[ENG-1.1](https://okr.acme.test/kr/ENG-1.1) Ship onboarding" in section


def test_tracker_text_never_makes_a_kr_link_or_closes_the_section() -> None:
    ctx = context(title=f"Fix kr:ENG-9.9 {E} now")

    for section in (
        render.milestone_section("acme/web#1", {"ENG-1.1"}, ctx, "markdown"),
        render.dashboard_section("ONB", {"ENG-1.1"}, ctx, "jira"),
    ):
        assert kr_ids_from_text(section, "kr:") == []
        assert E not in section
        assert markers.section_of(markers.splice("", section)) == section


def test_the_epic_property_names_the_worst_kr_and_its_numbers() -> None:
    assert render.epic_property({"ENG-1.1"}, context()) == {
        "kr": "ENG-1.1",
        "objective": "ENG-1",
        "status": "off_track",
        "progress": 0.5,
        "krs": ["ENG-1.1"],
    }


def test_a_target_needs_a_write_only_when_never_written_or_rendered_differently() -> None:
    target = Target("dashboard", "acme/web", "", "table", "acme/web OKR dashboard")
    written = WritebackTarget(
        source="github", target=target.key, remote_id="5", content_hash=content_hash("table")
    )

    assert target.key == "dashboard:acme/web"
    assert needs_write(target, None)
    assert not needs_write(target, written)
    assert needs_write(Target("dashboard", "acme/web", "", "table 2", "x"), written)
    assert needs_write(
        target, WritebackTarget(source="github", target=target.key, content_hash=target.digest)
    )


def test_milestones_of_two_repos_with_the_same_number_are_two_targets() -> None:
    web = Target("milestone", "acme/web", "1", "x", "acme/web milestone 1")
    api = Target("milestone", "acme/api", "1", "x", "acme/api milestone 1")

    assert web.key != api.key
    assert Target("epic-comment", "ONB", "ONB-12", "x", "c").key == "epic-comment:ONB-12"
