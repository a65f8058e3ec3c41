"""The simulated Jira, driven through the real `jira` client as okrsync's connector will drive it."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from jira import JIRA, JIRAError

from okrsync.sandbox.jira import SEARCH_REMOVED_V2, SEARCH_REMOVED_V3, JiraSim, JqlError

FIXTURES = Path("/work/shared/fixtures/jira")
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
EMAIL, TOKEN, PAT = "a@b.c", "tok-s3cret", "pat-s3cret"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def cloud_client(sim: JiraSim, *, token: str = TOKEN, **kwargs: Any) -> JIRA:
    """Build the client the way the connector should: no retries, a timeout, serverInfo once."""
    return JIRA(server=sim.url, basic_auth=(EMAIL, token), max_retries=0, timeout=5, **kwargs)


def dc_client(sim: JiraSim, *, token: str = PAT, **kwargs: Any) -> JIRA:
    return JIRA(server=sim.url, token_auth=token, max_retries=0, timeout=5, **kwargs)


def seed(sim: JiraSim, clock: Clock, issues: int = 5) -> None:
    sim.add_project("ONB", "Onboarding")
    sim.add_project("WEB", "Web")
    sim.add_version("ONB", "2.0", release_date=date(2026, 11, 20), description="kr:ENG-1.1")
    sim.add_version("ONB", "1.0", release_date=date(2026, 10, 1), released=True)
    epic = sim.add_issue("ONB", "Onboarding v2", issuetype="Epic", labels=["kr:ENG-1.1"])
    for n in range(issues):
        clock.now += timedelta(minutes=1)
        sim.add_issue("ONB", f"task {n}", parent=epic, fix_versions=["2.0"], story_points=float(n) or None)
    sim.add_issue("WEB", "other project")


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def cloud(clock: Clock) -> Iterator[JiraSim]:
    with JiraSim("cloud", users={f"{EMAIL}:{TOKEN}": "okrsync"}, clock=clock) as sim:
        assert isinstance(sim, JiraSim)
        yield sim


@pytest.fixture
def dc(clock: Clock) -> Iterator[JiraSim]:
    with JiraSim("datacenter", users={PAT: "okrsync"}, clock=clock) as sim:
        assert isinstance(sim, JiraSim)
        yield sim


# --- Cloud search ----------------------------------------------------------------------------


def test_cloud_enhanced_search_pages_with_next_page_tokens(cloud: JiraSim, clock: Clock) -> None:
    seed(cloud, clock, issues=249)  # with the epic: 250 ONB issues, 3 pages of 100
    jira = cloud_client(cloud)
    assert jira._is_cloud
    cloud.clear_log()
    keys: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        page = jira.enhanced_search_issues(
            "project = ONB ORDER BY key ASC",
            nextPageToken=token,
            maxResults=100,
            fields=["summary", "status", "updated"],
            json_result=True,
        )
        assert isinstance(page, dict)
        pages += 1
        keys += [issue["key"] for issue in page["issues"]]
        assert set(page["issues"][0]["fields"]) == {"summary", "status", "updated"}
        token = page.get("nextPageToken")
        assert page["isLast"] is (token is None)
        if token is None:
            break
    assert pages == 3
    assert keys == [f"ONB-{n}" for n in range(1, 251)]
    searches = [r for r in cloud.log() if r.path.endswith("/search/jql")]
    assert [(r.method, r.path) for r in searches] == [("GET", "/rest/api/2/search/jql")] * 3
    first, second = searches[0], searches[1]
    assert first.query["jql"] == ["project = ONB ORDER BY key ASC"]
    assert first.query["fields"] == ["summary", "status", "updated"]  # requests repeats list params
    assert first.query["maxResults"] == ["100"] and "nextPageToken" not in first.query
    assert "nextPageToken" in second.query


def test_cloud_search_by_post_and_v3_paths(cloud: JiraSim, clock: Clock) -> None:
    seed(cloud, clock, issues=3)
    jira = cloud_client(cloud)
    page = jira.enhanced_search_issues(
        "project = ONB", maxResults=2, fields="summary", json_result=True, use_post=True
    )
    assert isinstance(page, dict)
    assert [i["key"] for i in page["issues"]] == ["ONB-4", "ONB-3"]  # no ORDER BY: newest first
    posted = cloud.log()[-1]
    assert (posted.method, posted.path) == ("POST", "/rest/api/2/search/jql")
    assert posted.json()["fields"] == ["summary"]
    response = requests.post(
        f"{cloud.url}/rest/api/3/search/jql",
        json={
            "jql": "project = ONB",
            "fields": ["summary"],
            "maxResults": 2,
            "nextPageToken": page["nextPageToken"],
        },
        auth=(EMAIL, TOKEN),
        timeout=5,
    )
    assert response.status_code == 200
    body = response.json()
    assert [i["key"] for i in body["issues"]] == ["ONB-2", "ONB-1"]
    assert body["isLast"] is True and "nextPageToken" not in body
    assert body["issues"][0]["self"].endswith("/rest/api/3/issue/10001")


def test_cloud_search_returns_only_ids_when_no_fields_are_asked(cloud: JiraSim, clock: Clock) -> None:
    seed(cloud, clock, issues=2)
    response = requests.get(
        f"{cloud.url}/rest/api/3/search/jql", params={"jql": "project = ONB"}, auth=(EMAIL, TOKEN), timeout=5
    )
    assert response.json() == {"issues": [{"id": "10002"}, {"id": "10001"}, {"id": "10000"}], "isLast": True}


def test_cloud_page_tokens_are_single_use_and_opaque(cloud: JiraSim, clock: Clock) -> None:
    seed(cloud, clock, issues=5)
    jira = cloud_client(cloud)
    first = jira.enhanced_search_issues("project = ONB", maxResults=2, fields="summary", json_result=True)
    assert isinstance(first, dict)
    token = first["nextPageToken"]
    assert len(token) > 20 and not token.isdigit()
    jira.enhanced_search_issues("project = ONB", nextPageToken=token, maxResults=2, json_result=True)
    for bad in (token, "bm90LWEtdG9rZW4"):
        with pytest.raises(JIRAError) as caught:
            jira.enhanced_search_issues("project = ONB", nextPageToken=bad, maxResults=2, json_result=True)
        assert caught.value.status_code == 400


def test_cloud_refuses_unbounded_jql(cloud: JiraSim, clock: Clock) -> None:
    seed(cloud, clock, issues=1)
    with pytest.raises(JIRAError) as caught:
        cloud_client(cloud).enhanced_search_issues("ORDER BY key", json_result=True)
    assert caught.value.status_code == 400
    assert "Unbounded JQL" in caught.value.text


def test_cloud_removed_search_answers_410_with_atlassians_body(cloud: JiraSim, clock: Clock) -> None:
    seed(cloud, clock, issues=1)
    # A client that never asked serverInfo does not know it is on Cloud and calls the old search.
    blind = cloud_client(cloud, get_server_info=False)
    with pytest.raises(JIRAError) as caught:
        blind.search_issues("project = ONB", json_result=True)
    assert caught.value.status_code == 410
    assert "CHANGE-2046" in caught.value.text
    assert caught.value.response.json() == SEARCH_REMOVED_V2
    v3 = requests.post(
        f"{cloud.url}/rest/api/3/search", json={"jql": "project = ONB"}, auth=(EMAIL, TOKEN), timeout=5
    )
    assert (v3.status_code, v3.json()) == (410, SEARCH_REMOVED_V3)


@pytest.mark.skipif(not FIXTURES.is_dir(), reason="shared fixtures not present")
def test_removed_search_bodies_match_the_recorded_fixtures() -> None:
    assert json.loads((FIXTURES / "search_removed_410.json").read_text()) == SEARCH_REMOVED_V3
    assert json.loads((FIXTURES / "search_v2_removed_410_variant.json").read_text()) == SEARCH_REMOVED_V2


def test_cloud_server_info_says_cloud_and_myself_gives_the_account_timezone(clock: Clock) -> None:
    with JiraSim("cloud", account_timezone="America/New_York", clock=clock) as sim:
        assert isinstance(sim, JiraSim)
        jira = cloud_client(sim)
        info = jira.server_info()
        assert info["deploymentType"] == "Cloud"
        assert info["serverTime"] == "2026-11-22T05:00:00.000-0500"
        me = jira.myself()
        assert me["timeZone"] == "America/New_York" and me["emailAddress"] == EMAIL and "accountId" in me


# --- Data Center -----------------------------------------------------------------------------


def test_datacenter_search_pages_with_start_at_and_total(dc: JiraSim, clock: Clock) -> None:
    seed(dc, clock, issues=9)  # 10 ONB issues
    jira = dc_client(dc)
    assert not jira._is_cloud and jira.deploymentType == "Server"
    dc.clear_log()
    keys: list[str] = []
    start = 0
    while True:
        page = jira.search_issues(
            "project = ONB ORDER BY key", startAt=start, maxResults=4, fields=["summary"], json_result=True
        )
        assert page["total"] == 10 and page["startAt"] == start
        keys += [issue["key"] for issue in page["issues"]]
        start += len(page["issues"])
        if start >= page["total"]:
            break
    assert keys == [f"ONB-{n}" for n in range(1, 11)]
    requests_made = [(r.method, r.path) for r in dc.log()]
    assert requests_made == [("GET", "/rest/api/2/field")] + [("GET", "/rest/api/2/search")] * 3
    assert dc.log()[1].query["startAt"] == ["0"] and dc.log()[2].query["startAt"] == ["4"]


def test_datacenter_has_no_enhanced_search_and_no_v3(dc: JiraSim, clock: Clock) -> None:
    seed(dc, clock, issues=1)
    for path in ("/rest/api/2/search/jql", "/rest/api/3/serverInfo"):
        response = requests.get(f"{dc.url}{path}", headers={"Authorization": f"Bearer {PAT}"}, timeout=5)
        assert response.status_code == 404, path


def test_datacenter_epic_children_use_epic_link_not_parent(dc: JiraSim, clock: Clock) -> None:
    seed(dc, clock, issues=2)
    dc.add_issue("ONB", "a sub-task", issuetype="Sub-task", parent="ONB-2")
    assert dc.search('"Epic Link" = ONB-1 ORDER BY key') == ["ONB-2", "ONB-3"]
    assert dc.search("parent = ONB-1") == []
    assert dc.search("parent = ONB-2") == ["ONB-4"]
    issue = dc_client(dc).issue("ONB-2", fields="parent,customfield_10014")
    assert issue.raw["fields"]["customfield_10014"] == "ONB-1" and "parent" not in issue.raw["fields"]


def test_datacenter_server_info_can_say_datacenter(clock: Clock) -> None:
    with JiraSim("datacenter", clock=clock, deployment_type="DataCenter") as sim:
        assert isinstance(sim, JiraSim)
        assert dc_client(sim).deploymentType == "DataCenter"


# --- versions, fields, issues ----------------------------------------------------------------


def test_project_versions_show_release_dates_and_follow_changes(cloud: JiraSim, clock: Clock) -> None:
    seed(cloud, clock)
    jira = cloud_client(cloud)
    versions = {v.name: v.raw for v in jira.project_versions("ONB")}
    assert versions["2.0"]["releaseDate"] == "2026-11-20" and versions["2.0"]["released"] is False
    assert versions["2.0"]["overdue"] is True and versions["2.0"]["description"] == "kr:ENG-1.1"
    assert versions["1.0"]["released"] is True and versions["1.0"]["projectId"] == 10000
    cloud.set_release_date("ONB", "2.0", date(2026, 12, 4))
    cloud.rename_version("ONB", "1.0", "1.0.1")
    versions = {v.name: v.raw for v in jira.project_versions("ONB")}
    assert versions["2.0"]["releaseDate"] == "2026-12-04" and versions["2.0"]["overdue"] is False
    assert set(versions) == {"2.0", "1.0.1"}
    assert cloud.log()[-1].path == "/rest/api/2/project/ONB/versions"


def test_fields_list_the_story_points_field_and_the_client_maps_names_through_them(cloud: JiraSim) -> None:
    jira = cloud_client(cloud)
    fields = {f["id"]: f for f in jira.fields()}
    assert fields["customfield_10016"]["name"] == "Story Points"
    assert fields["customfield_10016"]["schema"]["type"] == "number"
    assert {"summary", "status", "resolution", "parent", "fixVersions", "issuekey"} <= set(fields)
    assert jira._fields_cache["fixVersion"] == "fixVersions"


def test_issue_json_has_the_shapes_the_connector_reads(clock: Clock) -> None:
    with JiraSim("cloud", account_timezone="America/New_York", clock=clock) as sim:
        assert isinstance(sim, JiraSim)
        seed(sim, clock, issues=2)
        clock.now = T0 + timedelta(hours=3)
        sim.update_issue("ONB-2", assignee="carol", labels=["perf"], duedate=date(2026, 11, 30))
        sim.transition("ONB-2", "Done", resolution="Won't Do")
        fields = cloud_client(sim).issue("ONB-2").raw["fields"]
    assert fields["status"]["statusCategory"] == {
        "self": fields["status"]["statusCategory"]["self"],
        "id": 3,
        "key": "done",
        "colorName": "green",
        "name": "Done",
    }
    assert fields["resolution"]["name"] == "Won't Do"
    assert fields["resolutiondate"] == "2026-11-22T08:00:00.000-0500"
    assert fields["statuscategorychangedate"] == fields["updated"] == fields["resolutiondate"]
    assert fields["created"] == "2026-11-22T05:01:00.000-0500"
    assert fields["issuetype"]["name"] == "Task" and fields["issuetype"]["subtask"] is False
    assert fields["parent"]["key"] == "ONB-1" and fields["parent"]["fields"]["issuetype"]["name"] == "Epic"
    assert [v["name"] for v in fields["fixVersions"]] == ["2.0"]
    assert fields["assignee"]["displayName"] == "carol" and "accountId" in fields["assignee"]
    assert fields["duedate"] == "2026-11-30" and fields["labels"] == ["perf"]
    assert fields["project"]["key"] == "ONB" and fields["customfield_10016"] is None


def test_missing_issue_answers_jiras_404(cloud: JiraSim) -> None:
    with pytest.raises(JIRAError) as caught:
        cloud_client(cloud).issue("ONB-99")
    assert caught.value.status_code == 404
    assert caught.value.response.json() == {
        "errorMessages": ["Issue does not exist or you do not have permission to see it."],
        "errors": {},
    }


# --- JQL -------------------------------------------------------------------------------------


@pytest.fixture
def site(clock: Clock) -> Iterator[JiraSim]:
    """ONB-1 epic, ONB-2..4 tasks in it, ONB-5 sub-task of ONB-2, WEB-1 elsewhere."""
    sim = JiraSim("cloud", clock=clock)
    sim.add_project("ONB")
    sim.add_project("WEB")
    sim.add_version("ONB", "2.0", release_date=None)
    sim.add_version("ONB", "3.0", release_date=None, released=True)
    sim.add_issue("ONB", "epic", issuetype="Epic", labels=["kr:ENG-1.1"])
    sim.add_issue("ONB", "one", parent="ONB-1", fix_versions=["2.0"], labels=["perf"])
    clock.now += timedelta(hours=1)
    sim.add_issue("ONB", "two", parent="ONB-1", status="In Progress", fix_versions=["2.0", "3.0"])
    clock.now += timedelta(hours=1)
    sim.add_issue("ONB", "three", parent="ONB-1", status="Done", resolution="Duplicate", assignee="carol")
    sim.add_issue("ONB", "sub", issuetype="Sub-task", parent="ONB-2", status="Done", resolution="Done")
    sim.add_issue("WEB", "web", labels=["perf"])
    yield sim


@pytest.mark.parametrize(
    ("jql", "keys"),
    [
        ("project = ONB ORDER BY key", ["ONB-1", "ONB-2", "ONB-3", "ONB-4", "ONB-5"]),
        ("project in (WEB, onb) AND labels = perf ORDER BY key", ["ONB-2", "WEB-1"]),
        ('fixVersion = "2.0" ORDER BY key', ["ONB-2", "ONB-3"]),
        ("fixVersion in (3.0) OR key = WEB-1 ORDER BY key", ["ONB-3", "WEB-1"]),
        ("fixVersion in releasedVersions(ONB)", ["ONB-3"]),
        ("fixVersion is EMPTY AND project = ONB ORDER BY key", ["ONB-1", "ONB-4", "ONB-5"]),
        ("parent = ONB-1 ORDER BY key DESC", ["ONB-4", "ONB-3", "ONB-2"]),
        ('"Epic Link" = ONB-1 AND issuetype != Sub-task ORDER BY key', ["ONB-2", "ONB-3", "ONB-4"]),
        ("parent in (ONB-2, ONB-1) AND issuetype in subTaskIssueTypes()", ["ONB-5"]),
        (
            "project = ONB AND issuetype not in subTaskIssueTypes() AND issuetype != Epic ORDER BY key",
            ["ONB-2", "ONB-3", "ONB-4"],
        ),
        ("issuetype = Epic", ["ONB-1"]),
        ("statusCategory = Done ORDER BY key", ["ONB-4", "ONB-5"]),
        ('status = "In Progress"', ["ONB-3"]),
        ("statusCategory != done AND project = ONB ORDER BY key", ["ONB-1", "ONB-2", "ONB-3"]),
        ("key in (ONB-2, web-1) ORDER BY key", ["ONB-2", "WEB-1"]),
        ("labels != perf ORDER BY key", ["ONB-1"]),  # != never matches an empty field
        ("labels not in (perf) OR labels is EMPTY ORDER BY key", ["ONB-1", "ONB-3", "ONB-4", "ONB-5"]),
        ("resolution = Unresolved AND project = ONB ORDER BY key", ["ONB-1", "ONB-2", "ONB-3"]),
        ('resolution in (Duplicate, "Won\'t Do")', ["ONB-4"]),
        ("assignee = carol", ["ONB-4"]),
        (
            "project = ONB AND NOT (statusCategory = Done OR issuetype = Epic) ORDER BY key",
            ["ONB-2", "ONB-3"],
        ),
        ("summary ~ thr", ["ONB-4"]),
        ("project = ONB ORDER BY updated DESC, key ASC", ["ONB-4", "ONB-5", "ONB-3", "ONB-1", "ONB-2"]),
        ("updated >= -90m ORDER BY key", ["ONB-3", "ONB-4", "ONB-5", "WEB-1"]),  # the clock is T0 + 2h
        ('created < "2026-11-22 11:00" ORDER BY key', ["ONB-1", "ONB-2"]),
        ('created >= "2026/11/22" AND created < "2026-11-23" AND project = WEB', ["WEB-1"]),
    ],
)
def test_jql_subset(site: JiraSim, jql: str, keys: list[str]) -> None:
    assert site.search(jql) == keys


def test_jql_updated_bounds_at_millisecond_precision(site: JiraSim) -> None:
    boundary = int((T0 + timedelta(hours=1)).timestamp() * 1000)  # when ONB-3 was created
    assert site.search(f"updated >= {boundary} ORDER BY key") == ["ONB-3", "ONB-4", "ONB-5", "WEB-1"]
    assert site.search(f"updated > {boundary} ORDER BY key") == ["ONB-4", "ONB-5", "WEB-1"]
    assert site.search(f"updated < {boundary} ORDER BY key") == ["ONB-1", "ONB-2"]
    assert site.search(f"updated <= {boundary} AND project = ONB ORDER BY key") == ["ONB-1", "ONB-2", "ONB-3"]
    assert site.search(f"updated > {boundary + 1} AND updated <= {boundary + 3_600_000}") == [
        "WEB-1",
        "ONB-5",
        "ONB-4",
    ]  # no ORDER BY: newest first
    assert site.search(f"updated >= {boundary + 3_600_001}") == []


@pytest.mark.parametrize(
    ("jql", "message"),
    [
        ("project = ", "Expecting a value but got 'end of query'"),
        ("project ONB", "Expecting operator but got 'ONB'"),
        ("project = ONB AND (labels = x", "Expecting ')'"),
        ("sprint = 4", "Field 'sprint' does not exist"),
        ("project = NOPE", "The value 'NOPE' does not exist for the field 'project'."),
        ('fixVersion = "9.9"', "The value '9.9' does not exist for the field 'fixVersion'."),
        ("parent = ONB-99", "An issue with key 'ONB-99' does not exist for field 'parent'."),
        ("updated >= yesterday", "Date value 'yesterday' for field 'updated' is invalid."),
        ("project > ONB", "The operator '>' is not supported by the 'project' field."),
        ("project = ONB ORDER BY labels", "Not able to sort using field 'labels'."),
        ('summary ~ "open', "is not closed"),
    ],
)
def test_jql_errors(site: JiraSim, jql: str, message: str) -> None:
    with pytest.raises(JqlError) as caught:
        site.search(jql)
    assert message in str(caught.value)


def test_bad_jql_answers_400_with_error_messages(cloud: JiraSim, clock: Clock) -> None:
    seed(cloud, clock, issues=1)
    with pytest.raises(JIRAError) as caught:
        cloud_client(cloud).enhanced_search_issues("project = ONB AND", json_result=True)
    assert caught.value.status_code == 400
    body = caught.value.response.json()
    assert body["errors"] == {} and body["errorMessages"][0].startswith("Error in the JQL Query: ")


def test_zone_less_jql_dates_are_read_in_the_account_timezone(clock: Clock) -> None:
    """A connector that writes its UTC cursor as a zone-less date misses work; epoch ms does not."""
    with JiraSim("cloud", account_timezone="America/New_York", clock=clock) as sim:
        assert isinstance(sim, JiraSim)
        sim.add_project("ONB")
        clock.now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)  # 07:00 in New York
        sim.add_issue("ONB", "changed after the cursor")
        cursor = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
        jira = cloud_client(sim)

        def keys(jql: str) -> list[str]:
            page = jira.enhanced_search_issues(jql, fields=["updated"], maxResults=100, json_result=True)
            assert isinstance(page, dict)
            return [issue["key"] for issue in page["issues"]]

        zone_less = f'project = ONB AND updated >= "{cursor:%Y-%m-%d %H:%M}"'  # read as 10:00 New York
        epoch = f"project = ONB AND updated >= {int(cursor.timestamp() * 1000)}"
        assert keys(zone_less) == []
        assert keys(epoch) == ["ONB-1"]
        assert (
            jira.issue("ONB-1", fields="updated").raw["fields"]["updated"] == "2026-11-22T07:00:00.000-0500"
        )


# --- auth, faults, log -----------------------------------------------------------------------


def test_bad_credentials_answer_401(cloud: JiraSim, dc: JiraSim) -> None:
    with pytest.raises(JIRAError) as caught:
        cloud_client(cloud, token="wrong")
    assert caught.value.status_code == 401
    with pytest.raises(JIRAError) as caught:
        dc_client(dc, token="wrong")
    assert caught.value.status_code == 401
    with pytest.raises(JIRAError) as caught:  # Data Center wants a PAT, not basic auth
        JIRA(server=dc.url, basic_auth=(EMAIL, PAT), max_retries=0, timeout=5)
    assert caught.value.status_code == 401
    assert [r.client for r in cloud.log() + dc.log()] == [None, None, None]


@pytest.mark.parametrize(
    ("retry_after", "reset"),
    [("2", "2026-11-22T10:05Z"), ("Sun, 22 Nov 2026 10:07:00 GMT", "2026-11-22T10:07Z")],
)
def test_throttle_answers_429_with_retry_after(
    cloud: JiraSim, clock: Clock, retry_after: str, reset: str
) -> None:
    seed(cloud, clock, issues=1)
    clock.now = T0 + timedelta(minutes=4, seconds=59)
    jira = cloud_client(cloud)
    cloud.throttle(retry_after, path="/search/jql")
    with pytest.raises(JIRAError) as caught:
        jira.enhanced_search_issues("project = ONB", json_result=True)
    assert caught.value.status_code == 429
    headers = caught.value.response.headers
    assert headers["Retry-After"] == retry_after
    assert headers["X-RateLimit-Reset"] == reset
    page = jira.enhanced_search_issues("project = ONB", json_result=True)  # the fault is used up
    assert isinstance(page, dict) and len(page["issues"]) == 2
    assert [r.status for r in cloud.log()[-2:]] == [429, 200]


def test_request_log_never_holds_a_credential(cloud: JiraSim, dc: JiraSim, clock: Clock) -> None:
    seed(cloud, clock, issues=1)
    jira = cloud_client(cloud)
    jira.enhanced_search_issues("project = ONB", fields="summary", json_result=True)
    dc_client(dc).fields()
    secrets_seen = [TOKEN, PAT, base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()]
    for request in cloud.log() + dc.log():
        dumped = (
            repr(request) + json.dumps(request.headers) + json.dumps(request.query) + request.body.decode()
        )
        dumped += request.authorization
        assert not any(secret in dumped for secret in secrets_seen)
    assert {r.client for r in cloud.log() + dc.log()} == {"okrsync"}


def test_a_large_site_pages_without_rescanning(clock: Clock) -> None:
    """A token page costs O(page): later pages read the frozen id list, not the site."""
    sim = JiraSim("cloud", clock=clock)
    for project in ("AAA", "BBB"):
        sim.add_project(project)
    for n in range(4000):
        sim.add_issue("AAA" if n % 2 else "BBB", f"issue {n}")
    result = sim._run("project = AAA AND statusCategory != Done")
    assert len(result.ids) == 2000
    assert sim._run("project = AAA AND statusCategory != Done") is result  # cached until a change
    sim.transition("AAA-1", "Done", resolution="Done")
    assert len(sim._run("project = AAA AND statusCategory != Done").ids) == 1999


def test_datacenter_validate_query_warn_turns_unknown_values_into_warnings(dc: JiraSim, clock: Clock) -> None:
    seed(dc, clock, issues=1)
    page = dc_client(dc).search_issues(
        'fixVersion = "9.9" OR project = WEB', validate_query=False, fields="summary", json_result=True
    )
    assert [i["key"] for i in page["issues"]] == ["WEB-1"]
    assert page["warningMessages"] == ["The value '9.9' does not exist for the field 'fixVersion'."]


def test_cloud_approximate_count(cloud: JiraSim, clock: Clock) -> None:
    seed(cloud, clock, issues=4)
    assert cloud_client(cloud).approximate_issue_count("project = ONB") == 5
    assert cloud.log()[-1].method == "POST" and cloud.log()[-1].path == "/rest/api/2/search/approximate-count"
