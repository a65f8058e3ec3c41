"""The simulated GitHub answers the real PyGithub client and httpx as api.github.com would.

Each test starts its own simulator on 127.0.0.1 with a fake clock, seeds an org through the
Python API, and reads it back over HTTP: shapes, paging, `since`, ETags, rate limits, faults.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import github
import httpx
import pytest

from okrsync.sandbox.github import GitHubSim

TOKEN = "t0ken"
T0 = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)


class FakeClock:
    """A settable now; `tick` moves it on, so tests decide which second each change lands in."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 1) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(clock: FakeClock) -> Iterator[GitHubSim]:
    server = GitHubSim({TOKEN: "okrsync"}, clock=clock).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def http(sim: GitHubSim) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, headers={"Authorization": f"token {TOKEN}"}) as client:
        yield client


def pygithub(sim: GitHubSim, token: str = TOKEN, per_page: int = 100) -> github.Github:
    return github.Github(
        auth=github.Auth.Token(token),
        base_url=sim.url,
        seconds_between_requests=0,
        retry=0,
        per_page=per_page,
    )


def links(response: httpx.Response) -> dict[str, str]:
    return {rel: link["url"] for rel, link in response.links.items()}


# --- shapes through PyGithub --------------------------------------------------------------


def test_pygithub_lists_open_and_closed_milestones_with_state_all(sim: GitHubSim, clock: FakeClock) -> None:
    repo = sim.add_repo("acme/web")
    v2 = sim.add_milestone(repo, "Onboarding v2", due_on=date(2026, 12, 4), description="kr:ENG-1.1")
    old = sim.add_milestone(repo, "Onboarding v1", due_on=datetime(2026, 10, 1, 7, tzinfo=UTC))
    sim.add_issue(repo, "a", milestone=v2)
    sim.add_issue(repo, "b", milestone=v2, state="closed")
    sim.close_milestone(repo, old)

    milestones = list(pygithub(sim).get_repo("acme/web").get_milestones(state="all"))

    by_title = {m.title: m for m in milestones}
    assert set(by_title) == {"Onboarding v1", "Onboarding v2"}
    m = by_title["Onboarding v2"]
    assert (m.number, m.state, m.open_issues, m.closed_issues) == (v2, "open", 1, 1)
    assert m.description == "kr:ENG-1.1"
    assert m.due_on == datetime(2026, 12, 4, 8, tzinfo=UTC)  # Pacific midnight, standard time
    assert m.html_url == f"https://github.com/acme/web/milestone/{v2}"
    assert m.url == f"{sim.url}/repos/acme/web/milestones/{v2}"
    assert by_title["Onboarding v1"].state == "closed"
    assert by_title["Onboarding v1"].closed_at == T0


def test_milestone_json_has_the_modern_field_set(sim: GitHubSim, http: httpx.Client) -> None:
    sim.add_repo("acme/web")
    number = sim.add_milestone("acme/web", "M", due_on=date(2026, 7, 1))

    body = http.get(f"/repos/acme/web/milestones/{number}").json()

    assert list(body) == [
        "url", "html_url", "labels_url", "id", "node_id", "number", "title", "description", "creator",
        "open_issues", "closed_issues", "state", "created_at", "updated_at", "due_on", "closed_at",
    ]  # fmt: skip
    assert body["due_on"] == "2026-07-01T07:00:00Z"  # Pacific midnight, daylight saving time
    assert body["created_at"] == "2026-11-20T09:00:00Z"
    assert body["creator"]["login"] == "octocat"
    assert http.get("/repos/acme/web/milestones/99").json()["message"] == "Not Found"


def test_pygithub_follows_link_headers_through_250_issues(sim: GitHubSim) -> None:
    sim.add_repo("acme/web")
    for n in range(250):
        sim.add_issue("acme/web", f"Issue {n}")

    issues = list(pygithub(sim).get_repo("acme/web").get_issues(state="all"))

    assert [i.number for i in issues] == list(range(250, 0, -1))  # created desc by default
    pages = [r for r in sim.log() if r.path.endswith("/issues")]
    assert [r.param("page") for r in pages] == [None, "2", "3"]
    assert pages[1].path.startswith("/repositories/")  # GitHub links by repository id


def test_link_header_relations_and_parameters_match_github(sim: GitHubSim, http: httpx.Client) -> None:
    repo = sim.add_repo("acme/web")
    for n in range(250):
        sim.add_issue(repo, f"Issue {n}")
    base = f"{sim.url}/repositories/{repo.id}/issues?state=all&since=2026-01-01T00%3A00%3A00Z&per_page=100"
    params = {"state": "all", "since": "2026-01-01T00:00:00Z", "per_page": 100}

    first = http.get("/repos/acme/web/issues", params=params)
    middle = http.get("/repos/acme/web/issues", params={**params, "page": 2})
    last = http.get("/repos/acme/web/issues", params={**params, "page": 3})

    assert first.headers["Link"] == f'<{base}&page=2>; rel="next", <{base}&page=3>; rel="last"'
    assert list(links(middle)) == ["prev", "next", "last", "first"]
    assert links(middle)["prev"] == f"{base}&page=1"
    assert links(last) == {"prev": f"{base}&page=2", "first": f"{base}&page=1"}
    assert len(last.json()) == 50
    assert (
        "Link" not in http.get("/repos/acme/web/issues", params={"per_page": 100, "state": "closed"}).headers
    )


# --- since, filters, sort --------------------------------------------------------------------


def test_since_is_inclusive_to_the_second(sim: GitHubSim, clock: FakeClock, http: httpx.Client) -> None:
    sim.add_repo("acme/web")
    before = sim.add_issue("acme/web", "updated a second before")
    clock.tick(1)
    first = sim.add_issue("acme/web", "same second, first")
    clock.tick(0.4)
    second = sim.add_issue("acme/web", "same second, second")
    boundary = T0 + timedelta(seconds=1)

    raw = http.get(
        "/repos/acme/web/issues",
        params={"state": "all", "since": "2026-11-20T09:00:01Z", "sort": "updated", "direction": "asc"},
    ).json()
    via_pygithub = pygithub(sim).get_repo("acme/web").get_issues(state="all", since=boundary)

    assert [i["number"] for i in raw] == [first, second]
    assert {i["updated_at"] for i in raw} == {"2026-11-20T09:00:01Z"}
    assert sorted(i.number for i in via_pygithub) == [first, second]
    assert before not in [i["number"] for i in raw]


def test_a_change_moves_updated_at_to_the_clock(sim: GitHubSim, clock: FakeClock, http: httpx.Client) -> None:
    sim.add_repo("acme/web")
    number = sim.add_issue("acme/web", "x")
    clock.tick(3600)
    sim.update_issue("acme/web", number, labels=["kr:ENG-1.1"], assignee="carol")

    issue = http.get(f"/repos/acme/web/issues/{number}").json()

    assert (issue["created_at"], issue["updated_at"]) == ("2026-11-20T09:00:00Z", "2026-11-20T10:00:00Z")
    assert [label["name"] for label in issue["labels"]] == ["kr:ENG-1.1"]
    assert issue["assignee"]["login"] == "carol"
    assert issue["assignees"] == [issue["assignee"]]
    since = http.get("/repos/acme/web/issues", params={"since": "2026-11-20T09:30:00+00:00"}).json()
    assert [i["number"] for i in since] == [number]


def test_issue_list_filters_by_milestone_labels_assignee_and_state(
    sim: GitHubSim, http: httpx.Client
) -> None:
    sim.add_repo("acme/web")
    ms = sim.add_milestone("acme/web", "M")
    a = sim.add_issue("acme/web", "a", milestone=ms, labels=["bug", "ui"], assignee="carol")
    b = sim.add_issue("acme/web", "b", milestone=ms, labels=["bug"], state="closed")
    c = sim.add_issue("acme/web", "c")

    def numbers(**params: str) -> list[int]:
        return sorted(i["number"] for i in http.get("/repos/acme/web/issues", params=params).json())

    assert numbers() == [a, c]  # open by default
    assert numbers(state="all", milestone=str(ms)) == [a, b]
    assert numbers(state="all", milestone="*") == [a, b]
    assert numbers(state="all", milestone="none") == [c]
    assert numbers(state="all", labels="bug,ui") == [a]
    assert numbers(state="closed") == [b]
    assert numbers(state="all", assignee="carol") == [a]
    assert numbers(state="all", assignee="none") == [b, c]
    assert http.get("/repos/acme/web/issues", params={"state": "shut"}).status_code == 422


def test_milestones_sort_by_due_on_with_undated_last(sim: GitHubSim, http: httpx.Client) -> None:
    sim.add_repo("acme/web")
    late = sim.add_milestone("acme/web", "late", due_on=date(2026, 12, 1))
    undated = sim.add_milestone("acme/web", "undated")
    early = sim.add_milestone("acme/web", "early", due_on=date(2026, 11, 1))

    listed = http.get("/repos/acme/web/milestones", params={"state": "all"}).json()

    assert [m["number"] for m in listed] == [early, late, undated]
    assert listed[2]["due_on"] is None


# --- pull requests, deletion, transfer, counts -------------------------------------------------


def test_pull_requests_carry_the_pull_request_key_and_plain_issues_omit_it(
    sim: GitHubSim, http: httpx.Client
) -> None:
    sim.add_repo("acme/web")
    issue = sim.add_issue("acme/web", "plain issue")
    pr = sim.add_issue("acme/web", "a pull request", pull_request=True)

    listed = {i["number"]: i for i in http.get("/repos/acme/web/issues").json()}
    raw = {i.number: i.raw_data for i in pygithub(sim).get_repo("acme/web").get_issues()}

    assert "pull_request" not in listed[issue]
    assert listed[pr]["pull_request"]["url"] == f"{sim.url}/repos/acme/web/pulls/{pr}"
    assert listed[pr]["pull_request"]["html_url"] == f"https://github.com/acme/web/pull/{pr}"
    assert listed[pr]["pull_request"]["merged_at"] is None
    assert ("pull_request" in raw[pr], "pull_request" in raw[issue]) == (True, False)
    assert list(listed[issue])[:6] == [
        "url",
        "repository_url",
        "labels_url",
        "comments_url",
        "events_url",
        "html_url",
    ]


def test_deleted_issue_answers_410_and_is_never_listed(sim: GitHubSim, http: httpx.Client) -> None:
    sim.add_repo("acme/web")
    gone = sim.add_issue("acme/web", "to delete")
    kept = sim.add_issue("acme/web", "kept")
    sim.delete_issue("acme/web", gone)

    response = http.get(f"/repos/acme/web/issues/{gone}")

    assert response.status_code == 410
    assert response.json()["message"] == "This issue was deleted"
    assert [i["number"] for i in http.get("/repos/acme/web/issues", params={"state": "all"}).json()] == [kept]
    assert http.get("/repos/acme/web/issues/999").status_code == 404
    with pytest.raises(github.GithubException) as raised:
        pygithub(sim).get_repo("acme/web").get_issue(gone)
    assert raised.value.status == 410


def test_transferred_issue_answers_301_to_its_new_address(sim: GitHubSim, http: httpx.Client) -> None:
    sim.add_repo("acme/web")
    sim.add_repo("acme/api")
    sim.add_issue("acme/api", "already there")
    old = sim.add_issue("acme/web", "moving", labels=["kr:ENG-1.1"])

    new = sim.transfer_issue("acme/web", old, "acme/api")
    response = http.get(f"/repos/acme/web/issues/{old}")
    followed = pygithub(sim).get_repo("acme/web").get_issue(old)

    assert new == 2
    assert response.status_code == 301
    assert response.headers["Location"] == f"{sim.url}/repos/acme/api/issues/{new}"
    assert (followed.number, followed.repository_url) == (new, f"{sim.url}/repos/acme/api")
    assert [label.name for label in followed.labels] == ["kr:ENG-1.1"]
    assert http.get("/repos/acme/web/issues", params={"state": "all"}).json() == []


def test_a_transferred_issue_keeps_its_node_id(sim: GitHubSim, http: httpx.Client) -> None:
    sim.add_repo("acme/web")
    sim.add_repo("acme/api")
    old = sim.add_issue("acme/web", "moving")
    before = http.get(f"/repos/acme/web/issues/{old}").json()

    new = sim.transfer_issue("acme/web", old, "acme/api")
    after = http.get(f"/repos/acme/api/issues/{new}").json()

    assert after["node_id"] == before["node_id"]
    assert after["repository_url"] != before["repository_url"]


def test_a_hook_changes_the_org_just_before_the_page_it_matches(sim: GitHubSim, http: httpx.Client) -> None:
    sim.add_repo("acme/web")
    for index in range(4):
        sim.add_issue("acme/web", f"Task {index}")
    sim.before(lambda: sim.delete_issue("acme/web", 1), path="/issues", params={"page": "2"})
    query = {"state": "all", "sort": "created", "direction": "asc", "per_page": "2"}

    first = [i["number"] for i in http.get("/repos/acme/web/issues", params=query).json()]
    second = [i["number"] for i in http.get("/repos/acme/web/issues", params={**query, "page": "2"}).json()]
    again = [i["number"] for i in http.get("/repos/acme/web/issues", params={**query, "page": "2"}).json()]

    assert first == [1, 2]
    assert second == [4]  # #1 went just before page 2 was served: #3 shifted onto page 1
    assert again == [4]  # a hook fires once unless told otherwise
    assert http.get("/repos/acme/web/issues/1").status_code == 410
    assert sim.hooks == []


def test_milestone_counts_follow_every_change_and_include_pull_requests(
    sim: GitHubSim, clock: FakeClock, http: httpx.Client
) -> None:
    sim.add_repo("acme/web")
    sim.add_repo("acme/api")
    ms = sim.add_milestone("acme/web", "M")
    issues = [sim.add_issue("acme/web", f"i{n}", milestone=ms) for n in range(4)]
    sim.add_issue("acme/web", "pr", milestone=ms, pull_request=True)

    def counts() -> tuple[int, int, str]:
        m = http.get(f"/repos/acme/web/milestones/{ms}").json()
        return m["open_issues"], m["closed_issues"], m["updated_at"]

    assert counts()[:2] == (5, 0)
    clock.tick(60)
    sim.close_issue("acme/web", issues[0])
    sim.close_issue("acme/web", issues[1], reason="not_planned")
    assert counts() == (3, 2, "2026-11-20T09:01:00Z")
    sim.delete_issue("acme/web", issues[1])
    sim.transfer_issue("acme/web", issues[2], "acme/api")
    assert counts()[:2] == (2, 1)
    sim.update_issue("acme/web", issues[3], milestone=None)
    sim.reopen_issue("acme/web", issues[0])
    assert counts()[:2] == (2, 0)
    clock.tick(60)
    sim.update_issue("acme/web", issues[0], title="renamed")  # counts unchanged: milestone untouched
    assert counts()[2] == "2026-11-20T09:01:00Z"


def test_deleting_a_milestone_detaches_its_issues(sim: GitHubSim, http: httpx.Client) -> None:
    sim.add_repo("acme/web")
    ms = sim.add_milestone("acme/web", "M")
    number = sim.add_issue("acme/web", "x", milestone=ms)

    sim.delete_milestone("acme/web", ms)

    assert http.get(f"/repos/acme/web/milestones/{ms}").status_code == 404
    assert http.get(f"/repos/acme/web/issues/{number}").json()["milestone"] is None
    assert http.get("/repos/acme/web/milestones", params={"state": "all"}).json() == []


def test_closed_issue_carries_state_reason_and_closed_at(
    sim: GitHubSim, clock: FakeClock, http: httpx.Client
) -> None:
    sim.add_repo("acme/web")
    number = sim.add_issue("acme/web", "x")
    clock.tick(90)
    sim.close_issue("acme/web", number, reason="not_planned")

    issue = pygithub(sim).get_repo("acme/web").get_issue(number)

    assert (issue.state, issue.state_reason) == ("closed", "not_planned")
    assert issue.closed_at == T0 + timedelta(seconds=90)


# --- search ----------------------------------------------------------------------------------


def test_search_counts_with_qualifiers(sim: GitHubSim, http: httpx.Client) -> None:
    sim.add_repo("acme/web")
    sim.add_repo("acme/api")
    ms = sim.add_milestone("acme/web", "Onboarding v2")
    sim.add_issue("acme/web", "Fix signup crash", milestone=ms, labels=["bug", "good first issue"])
    sim.add_issue("acme/web", "Signup copy", milestone=ms, state="closed", assignee="carol")
    sim.add_issue("acme/web", "Signup flake", state="closed", state_reason="not_planned")
    sim.add_issue("acme/web", "Signup PR", milestone=ms, pull_request=True)
    sim.add_issue("acme/api", "Fix signup API", labels=["bug"])

    def total(q: str) -> int:
        response = http.get("/search/issues", params={"q": q})
        assert response.status_code == 200, response.text
        assert response.json()["incomplete_results"] is False
        return int(response.json()["total_count"])

    assert total("repo:acme/web") == 4
    assert total("repo:acme/web is:issue") == 3
    assert total("repo:acme/web is:pr") == 1
    assert total('repo:acme/web milestone:"Onboarding v2" is:open') == 2
    assert total("repo:acme/web state:closed") == 2
    assert total('label:"good first issue"') == 1
    assert total("label:bug") == 2
    assert total("repo:acme/web no:milestone") == 1
    assert total("assignee:carol") == 1
    assert total('reason:"not planned"') == 1
    assert total("reason:completed is:closed") == 1
    assert total("SIGNUP repo:acme/web") == 4
    assert total("fix signup") == 2
    assert total("-label:bug repo:acme/web is:issue") == 2
    assert pygithub(sim).search_issues("signup", repo="acme/web", **{"is": "issue"}).totalCount == 3
    assert sim.rate_remaining("okrsync", "search") == 30 - 15


def test_search_rejects_unknown_qualifiers_and_unknown_repos(sim: GitHubSim, http: httpx.Client) -> None:
    sim.add_repo("acme/web")

    unknown = http.get("/search/issues", params={"q": "repo:acme/web sprocket:yes"})
    missing_repo = http.get("/search/issues", params={"q": "repo:acme/nope"})

    assert unknown.status_code == 422
    assert unknown.json()["message"] == "Validation Failed"
    assert unknown.json()["errors"][0]["field"] == "q"
    assert missing_repo.status_code == 422
    assert http.get("/search/issues").status_code == 422


# --- conditional requests and rate limits -------------------------------------------------


def test_matching_etag_answers_304_without_spending_rate_limit(sim: GitHubSim, http: httpx.Client) -> None:
    sim.add_repo("acme/web")
    number = sim.add_issue("acme/web", "x")
    url = "/repos/acme/web/issues?state=all&per_page=100"

    first = http.get(url)
    etag = first.headers["ETag"]
    remaining = int(first.headers["X-RateLimit-Remaining"])
    again = http.get(url, headers={"If-None-Match": etag})

    assert re.fullmatch(r'W/"[0-9a-f]{40}"', etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag
    assert int(again.headers["X-RateLimit-Remaining"]) == remaining
    assert sim.rate_remaining("okrsync") == remaining
    assert http.get(url, headers={"If-None-Match": etag.removeprefix("W/")}).status_code == 304

    sim.close_issue("acme/web", number)
    changed = http.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert int(changed.headers["X-RateLimit-Remaining"]) == remaining - 1


def test_rate_limit_headers_and_endpoint(sim: GitHubSim, clock: FakeClock, http: httpx.Client) -> None:
    sim.add_repo("acme/web")
    reset = int((T0 + timedelta(hours=1)).timestamp())

    response = http.get("/repos/acme/web")
    limits = http.get("/rate_limit").json()

    assert response.json()["full_name"] == "acme/web"
    assert {k: response.headers[k] for k in response.headers if k.startswith("x-ratelimit")} == {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": "4999",
        "x-ratelimit-reset": str(reset),
        "x-ratelimit-used": "1",
        "x-ratelimit-resource": "core",
    }
    assert limits["rate"] == {
        "limit": 5000,
        "used": 1,
        "remaining": 4999,
        "reset": reset,
    }  # /rate_limit is free
    assert limits["resources"]["search"]["limit"] == 30


def test_an_exhausted_limit_answers_403_until_the_window_resets(clock: FakeClock) -> None:
    with GitHubSim(clock=clock, core_limit=2) as sim, httpx.Client(base_url=sim.url) as client:
        sim.add_repo("acme/web")
        headers = {"Authorization": "Bearer abc-1234"}
        statuses = [client.get("/repos/acme/web", headers=headers).status_code for _ in range(3)]
        refused = client.get("/repos/acme/web", headers=headers)
        clock.tick(3600)
        after_reset = client.get("/repos/acme/web", headers=headers)

    assert statuses == [200, 200, 403]
    assert refused.json()["message"].startswith("API rate limit exceeded")
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert after_reset.status_code == 200
    assert sim.log()[0].client == "1234"  # without a token table, the last four characters


def test_injected_primary_rate_limit_has_githubs_shape(
    sim: GitHubSim, clock: FakeClock, http: httpx.Client
) -> None:
    sim.add_repo("acme/web")
    sim.rate_limit(120, path="/issues")

    limited = http.get("/repos/acme/web/issues")
    assert http.get("/repos/acme/web/issues").status_code == 200  # times=1

    assert limited.status_code == 403
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.headers["X-RateLimit-Reset"] == str(int(T0.timestamp()) + 120)
    assert limited.json()["message"] == "API rate limit exceeded for user ID 1."
    sim.rate_limit(120)
    with pytest.raises(github.RateLimitExceededException):
        pygithub(sim).get_repo("acme/web")


def test_injected_secondary_limits_carry_retry_after(sim: GitHubSim, http: httpx.Client) -> None:
    sim.add_repo("acme/web")
    sim.rate_limit(60, secondary=True)
    sim.rate_limit(30, secondary=True, status=429)

    secondary = http.get("/repos/acme/web")
    too_many = http.get("/repos/acme/web")

    fixture = {
        "documentation_url": "https://developer.github.com/v3/#abuse-rate-limits",
        "message": "You have triggered an abuse detection mechanism. "
        "Please wait a few minutes before you try again.",
    }
    assert (secondary.status_code, secondary.headers["Retry-After"], secondary.json()) == (403, "60", fixture)
    assert "X-RateLimit-Remaining" not in secondary.headers
    assert (too_many.status_code, too_many.headers["Retry-After"]) == (429, "30")


# --- auth, routes, log ------------------------------------------------------------------------


def test_bad_or_missing_token_answers_401(sim: GitHubSim, http: httpx.Client) -> None:
    sim.add_repo("acme/web")

    bad = http.get("/repos/acme/web", headers={"Authorization": "token nope"})
    missing = httpx.get(f"{sim.url}/repos/acme/web")

    assert bad.status_code == 401
    assert bad.json() == {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}
    assert missing.status_code == 401
    with pytest.raises(github.BadCredentialsException):
        pygithub(sim, token="wrong").get_repo("acme/web")


def test_unknown_route_answers_githubs_404(sim: GitHubSim, http: httpx.Client) -> None:
    sim.add_repo("acme/web")

    for path in ("/nope", "/repos/acme/other/issues", "/repos/acme/web/wiki"):
        response = http.get(path)
        assert response.status_code == 404
        assert response.json() == {
            "message": "Not Found",
            "documentation_url": "https://docs.github.com/rest",
        }
    with pytest.raises(github.UnknownObjectException):
        pygithub(sim).get_repo("acme/web").get_milestone(7)


def test_request_log_records_the_call_but_never_the_token(sim: GitHubSim, http: httpx.Client) -> None:
    sim.add_repo("acme/web")
    http.get("/repos/acme/web/issues", params={"state": "all", "per_page": 100})
    http.get("/repos/acme/web", headers={"Authorization": "token wrong-token"})

    ok, refused = sim.log()

    assert (ok.method, ok.path, ok.query, ok.status, ok.client) == (
        "GET",
        "/repos/acme/web/issues",
        {"state": ["all"], "per_page": ["100"]},
        200,
        "okrsync",
    )
    assert (refused.status, refused.client) == (401, None)
    for entry in (ok, refused):
        dumped = json.dumps([repr(entry), entry.headers, entry.authorization])
        assert TOKEN not in dumped and "wrong-token" not in dumped


# --- changing a milestone from outside (okrsync demo --serve) ----------------------------------


def test_pygithub_edits_a_milestone_due_date_title_and_state(sim: GitHubSim, clock: FakeClock) -> None:
    repo = sim.add_repo("acme/web")
    number = sim.add_milestone(repo, "Onboarding v2", due_on=datetime(2026, 12, 4, 8, tzinfo=UTC))
    clock.tick(60)
    milestone = pygithub(sim).get_repo("acme/web").get_milestone(number)

    milestone.edit("Onboarding v2.1", due_on=date(2026, 12, 18), state="closed")

    stored = sim.milestone(repo, number)
    assert stored.due_on is not None and stored.due_on.date() == date(2026, 12, 18)
    assert stored.title == "Onboarding v2.1" and stored.state == "closed"
    assert stored.updated_at == clock.now
    assert milestone.due_on is not None and milestone.due_on.date() == date(2026, 12, 18)


def test_patch_milestone_removes_a_due_date_and_refuses_a_bad_one(sim: GitHubSim, http: httpx.Client) -> None:
    repo = sim.add_repo("acme/web")
    number = sim.add_milestone(repo, "Onboarding v2", due_on=datetime(2026, 12, 4, 8, tzinfo=UTC))

    refused = http.patch(f"/repos/acme/web/milestones/{number}", json={"due_on": "next week"})
    missing = http.patch("/repos/acme/web/milestones/99", json={"due_on": None})
    removed = http.patch(f"/repos/acme/web/milestones/{number}", json={"due_on": None})

    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "due_on"
    assert missing.status_code == 404
    assert removed.status_code == 200 and removed.json()["due_on"] is None
    assert sim.milestone(repo, number).due_on is None
