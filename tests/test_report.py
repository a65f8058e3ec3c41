"""`okrsync report --out DIR`: the files, what each page says, escaping, and nothing loaded remotely."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest
from typer.testing import CliRunner

from okrsync.cli import app
from okrsync.report.render import tracker_link
from tests.helpers import write_project
from tests.report_support import BLOCKER, SCRIPT_TITLE, TODAY, TOKEN, invoke, synced_org

MAX_PAGE_BYTES = 300 * 1024


@pytest.fixture
def report(tmp_path: Path, database_url: str) -> Path:
    with synced_org(tmp_path / "org", database_url) as project:
        out = tmp_path / "report"
        printed = invoke(project, "report", "--out", str(out), at=TODAY)
        assert printed.strip() == str((out / "index.html").resolve())
    return out


def pages(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): p.read_text() for p in sorted(out.rglob("*.html"))}


def test_the_report_has_an_index_and_one_page_per_kr_each_linked_from_the_index(report: Path) -> None:
    written = pages(report)

    assert sorted(written) == ["index.html", "kr/ENG-1.1.html", "kr/ENG-1.2.html"]
    links = set(re.findall(r'href="(kr/[^"]+)"', written["index.html"]))
    assert links == {"kr/ENG-1.1.html", "kr/ENG-1.2.html"}
    for name in ("kr/ENG-1.1.html", "kr/ENG-1.2.html"):
        assert 'href="../index.html"' in written[name]


def test_the_index_shows_each_kr_with_owner_progress_expected_score_status_and_confidence(
    report: Path,
) -> None:
    index = (report / "index.html").read_text()

    kr = index[index.index("ENG-1.1</span>") :]
    kr = kr[: kr.index("</li>")]
    # 2 of 4 issues done on 23 Nov; 54 of 92 days elapsed: 59 % expected; overdue milestone.
    for expected in (
        "Bob &lt;Stone&gt; (bob)",
        "50 % (expected 59 %)",
        "0.50 partial",
        "off track",
        'class="status s-off_track"',
        "4/10",
    ):
        assert expected in kr, expected


def test_a_kr_page_draws_the_burn_up_from_the_history_with_forecast_today_and_due_day(report: Path) -> None:
    page = (report / "kr/ENG-1.1.html").read_text()

    burn_up = page[page.index('<title id="chart-1-t">Burn-up') : page.index("</svg>")]
    done = re.search(r'class="l-done" points="([^"]+)"', burn_up)
    assert done is not None
    values = [float(pair.split(",")[1]) for pair in done.group(1).split()]
    assert len(values) >= 4 and values[0] > values[-1]  # it rises (y grows downwards) over 3 sync days
    assert 'class="l-scope"' in burn_up and 'class="l-ideal"' in burn_up
    assert 'class="m-today"' in burn_up
    assert "Onboarding v2: due 2026-11-20" in burn_up
    assert "Done 2 of 4 issues on 2026-11-23" in burn_up


def test_a_kr_page_lists_milestones_open_issues_checkins_and_alerts(report: Path) -> None:
    page = (report / "kr/ENG-1.1.html").read_text()

    assert "2/4" in page and "due</dt><dd>2026-11-20" in page
    assert 'href="https://github.com/acme/web/issues/3"' in page or "acme/web#3" in page
    assert '<span class="unassigned">unassigned</span>' in page  # "Team invite flow"
    assert "Blocker: &lt;b&gt;legal&lt;/b&gt; review &amp; sign-off" in page
    assert "Next: ask legal" in page
    assert "confidence 4/10 (-3)" in page
    timeline = page[page.index('<ol class="timeline">') :]
    assert "Milestone overdue" in timeline and "2026-11-21" in timeline


def test_tracker_and_user_text_is_escaped_never_markup(report: Path) -> None:
    for name, html in pages(report).items():
        assert "<script" not in html, name
        assert "<b>" not in html, name
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in (report / "kr/ENG-1.1.html").read_text()
    assert BLOCKER not in (report / "kr/ENG-1.1.html").read_text()
    assert SCRIPT_TITLE not in (report / "kr/ENG-1.1.html").read_text()


def test_a_metric_kr_shows_its_value_over_time_against_baseline_and_target(report: Path) -> None:
    page = (report / "kr/ENG-1.2.html").read_text()

    assert "Value over the cycle: 2.75 s on 2026-11-23; baseline 4 s, target 1.5 s." in page
    for kind in ("l-baseline", "l-target", "l-ideal", "l-done"):
        assert f'class="{kind}"' in page
    # Its values come from check-ins: 3.2 s on 12 Nov, 2.75 s on 16 Nov, held to today.
    value = re.search(r'class="l-done" points="([^"]+)"', page)
    assert value is not None
    # 12 Nov, held to 15 Nov, 16 Nov, held to 22 Nov, today: y = 230 - 208 × (4 - v) / 2.5
    heights = [float(pair.split(",")[1]) for pair in value.group(1).split()]
    assert heights == [88.6, 88.6, 126.0, 126.0, 126.0]
    assert "value <strong>2.75 s</strong> (baseline 4.0, target 1.5)" in page


def test_pages_load_nothing_are_small_and_keep_the_token_out(report: Path) -> None:
    for name, html in pages(report).items():
        assert len(html.encode()) < MAX_PAGE_BYTES, name
        assert TOKEN not in html, name
        assert "default-src 'none'" in unescape(html), name
        assert not re.search(r"<(script|link rel=\"stylesheet\"|img|iframe)\b", html), name
        assert "src=" not in html and "@import" not in html and "url(" not in html, name
        for href in re.findall(r'<link[^>]+href="([^"]+)"', html):
            assert href.startswith("data:"), (name, href)


def test_an_unknown_cycle_is_refused_before_anything_is_written(tmp_path: Path, database_url: str) -> None:
    with synced_org(tmp_path / "org", database_url) as project:
        out = tmp_path / "report"
        result = CliRunner().invoke(
            app, ["--config", str(project.config), "report", "--out", str(out), "--cycle", "2027-Q1"]
        )
    assert result.exit_code == 2
    assert "--cycle '2027-Q1': no such cycle; known: 2026-Q4" in result.output
    assert not out.exists()


def test_rewriting_the_report_for_one_cycle_removes_pages_of_krs_no_longer_in_it(
    tmp_path: Path, database_url: str
) -> None:
    with synced_org(tmp_path / "org", database_url) as project:
        out = tmp_path / "report"
        (out / "kr").mkdir(parents=True)
        (out / "kr" / "OLD-1.html").write_text("stale")
        invoke(project, "report", "--out", str(out), "--cycle", "2026-Q4", at=TODAY)
    assert sorted(p.name for p in (out / "kr").iterdir()) == ["ENG-1.1.html", "ENG-1.2.html"]


def test_the_demo_ends_by_writing_its_report_and_printing_the_index_path(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--keep", str(tmp_path)])

    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    index = (tmp_path / "report" / "index.html").resolve()
    assert last == f"HTML report: {index}"
    assert index.is_file()
    assert {p.name for p in (tmp_path / "report" / "kr").iterdir()} == {
        "CO-1.1.html",
        "ENG-1.1.html",
        "ENG-1.2.html",
        "ENG-2.1.html",
    }


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://github.com/acme/web/issues/3", True),
        ("http://jira.internal/browse/ONB-1", True),
        ("javascript:alert(1)", False),
        ("JavaScript:alert(1)", False),
        ("data:text/html,<script>alert(1)</script>", False),
        (None, False),
    ],
)
def test_only_http_tracker_urls_become_links(url: str | None, kept: bool) -> None:
    assert (tracker_link(url) == url and url is not None) is kept


def test_an_out_path_that_is_a_file_is_refused(tmp_path: Path, database_url: str) -> None:
    target = tmp_path / "report.html"
    target.write_text("mine")
    with synced_org(tmp_path / "org", database_url) as project:
        result = CliRunner().invoke(app, ["--config", str(project.config), "report", "--out", str(target)])
    assert result.exit_code == 2
    assert f"--out {target}: expected a folder, found a file" in result.output
    assert target.read_text() == "mine"


def test_kr_fed_by_a_source_never_synced_shows_unknown_with_no_number(
    tmp_path: Path, database_url: str
) -> None:
    """Never a verdict on data not read (issue 12): the report says unknown and prints no progress or score."""
    project = write_project(tmp_path, database_url=database_url, github_url="http://127.0.0.1:9", token=TOKEN)
    out = tmp_path / "report"

    invoke(project, "report", "--out", str(out), at=TODAY)

    index = (out / "index.html").read_text()
    kr = index[index.index("ENG-1.1</span>") :]
    kr = kr[: kr.index("</li>")]
    assert 'class="status s-unknown"' in kr and "— (expected" in kr
    assert "partial" not in kr and "missed" not in kr and "off track" not in kr
    page = (out / "kr/ENG-1.1.html").read_text()
    assert "not synced yet" in unescape(page)
    assert "score <strong>—</strong>" in page


def test_pages_made_by_a_forked_child_are_the_pages_made_in_one_process(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A big report reads and renders half its KRs in a forked child (its own connection): same bytes."""
    from okrsync.report import render

    with synced_org(tmp_path / "org", database_url) as project:
        invoke(project, "report", "--out", str(tmp_path / "one"), at=TODAY)
        monkeypatch.setattr(render, "FORK_FROM", 2)  # this org has 2 KRs: one page each side
        invoke(project, "report", "--out", str(tmp_path / "forked"), at=TODAY)

    one, forked = pages(tmp_path / "one"), pages(tmp_path / "forked")
    assert sorted(forked) == ["index.html", "kr/ENG-1.1.html", "kr/ENG-1.2.html"]
    assert forked == one
