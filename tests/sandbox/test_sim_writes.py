"""The simulators take writes as GitHub and Jira do, through the real PyGithub and `jira` clients."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import github
import pytest
from jira import JIRA, JIRAError

from okrsync.sandbox.github import GitHubSim
from okrsync.sandbox.jira import JiraSim

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
TOKEN, EMAIL, PAT = "t0ken", "a@b.c", "pat-s3cret"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gh_sim(clock: Clock) -> Iterator[GitHubSim]:
    server = GitHubSim({TOKEN: "okrsync"}, clock=clock)
    server.add_repo("acme/web")
    server.add_milestone("acme/web", "Onboarding v2", description="Human words.")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def pygithub(sim: GitHubSim) -> github.Github:
    return github.Github(
        auth=github.Auth.Token(TOKEN), base_url=sim.url, seconds_between_writes=0, retry=None
    )


def test_github_creates_an_issue_with_new_labels_and_edits_it(gh_sim: GitHubSim, clock: Clock) -> None:
    repo = pygithub(gh_sim).get_repo("acme/web")

    created = repo.create_issue(title="OKR dashboard", body="first", labels=["okrsync"])

    assert created.number == 1 and created.state == "open"
    assert [label.name for label in created.labels] == ["okrsync"]
    assert gh_sim.log()[-1].status == 201
    clock.now += timedelta(minutes=1)
    created.edit(body="second")
    assert gh_sim.issue("acme/web", 1).body == "second"
    assert created.updated_at == T0 + timedelta(minutes=1)
    found = list(repo.get_issues(state="all", labels=["okrsync"]))
    assert [i.number for i in found] == [1]


def test_github_edits_a_milestone_description_and_the_list_shows_it(gh_sim: GitHubSim, clock: Clock) -> None:
    repo = pygithub(gh_sim).get_repo("acme/web")
    milestone = repo.get_milestone(1)
    clock.now += timedelta(minutes=5)

    milestone.edit(milestone.title, description="Human words.\n\nokrsync's words.")

    assert milestone.description == "Human words.\n\nokrsync's words."
    listed = list(repo.get_milestones(state="all"))
    assert listed[0].description == "Human words.\n\nokrsync's words."
    assert listed[0].updated_at == T0 + timedelta(minutes=5)


def test_github_refuses_bad_writes_as_github_does(gh_sim: GitHubSim) -> None:
    client = pygithub(gh_sim)
    repo = client.get_repo("acme/web")
    repo.create_label("okrsync", "ededed")

    with pytest.raises(github.GithubException) as duplicate:
        repo.create_label("okrsync", "ededed")
    assert duplicate.value.status == 422
    with pytest.raises(github.GithubException) as missing:
        client.requester.requestJsonAndCheck("POST", "/repos/acme/web/issues", input={"body": "x"})
    assert missing.value.status == 422

    gh_sim.read_only.add("okrsync")
    with pytest.raises(github.GithubException) as forbidden:
        repo.create_issue(title="OKR dashboard")
    assert forbidden.value.status == 403
    assert forbidden.value.data["message"] == "Resource not accessible by personal access token"
    assert gh_sim.repo("acme/web").issues == {}


@pytest.fixture(params=["cloud", "datacenter"])
def jira_sim(request: pytest.FixtureRequest, clock: Clock) -> Iterator[JiraSim]:
    users = {f"{EMAIL}:{TOKEN}": "okrsync"} if request.param == "cloud" else {PAT: "okrsync"}
    with JiraSim(request.param, users=users, clock=clock) as sim:
        assert isinstance(sim, JiraSim)
        sim.add_project("ONB", "Onboarding")
        yield sim


def jira_client(sim: JiraSim) -> JIRA:
    if sim.mode == "cloud":
        return JIRA(server=sim.url, basic_auth=(EMAIL, TOKEN), max_retries=0, timeout=5)
    return JIRA(server=sim.url, token_auth=PAT, max_retries=0, timeout=5)


def test_jira_creates_and_edits_an_issue(jira_sim: JiraSim, clock: Clock) -> None:
    client = jira_client(jira_sim)
    fields = {
        "project": {"key": "ONB"},
        "summary": "OKR dashboard",
        "issuetype": {"name": "Task"},
        "description": "first",
        "labels": ["okrsync"],
    }

    created = client.create_issue(fields=fields, prefetch=False)

    assert created.key == "ONB-1"
    issue = client.issue("ONB-1", fields="description,labels,status")
    assert issue.fields.description == "first" and issue.fields.labels == ["okrsync"]
    clock.now += timedelta(minutes=1)
    issue.update(fields={"description": "second"})
    assert issue.fields.description == "second"
    assert jira_sim.search("labels = okrsync") == ["ONB-1"]


def test_jira_keeps_comments_and_issue_properties(jira_sim: JiraSim) -> None:
    client = jira_client(jira_sim)
    epic = jira_sim.add_issue("ONB", "Onboarding v2", issuetype="Epic")

    comment = client.add_comment(epic, "okrsync says")
    comment.update(body="okrsync says more")
    client.add_issue_property(epic, "okrsync", {"kr": "ENG-1.1", "status": "at_risk"})

    assert [c.body for c in client.comments(epic)] == ["okrsync says more"]
    assert client.comment(epic, comment.id).body == "okrsync says more"
    assert client.issue_property(epic, "okrsync").raw["value"] == {"kr": "ENG-1.1", "status": "at_risk"}
    with pytest.raises(JIRAError) as missing:
        client.issue_property(epic, "other")
    assert missing.value.status_code == 404


def test_jira_refuses_writes_to_an_account_without_permission(jira_sim: JiraSim) -> None:
    client = jira_client(jira_sim)
    epic = jira_sim.add_issue("ONB", "Onboarding v2", issuetype="Epic")
    jira_sim.read_only.add("okrsync")

    with pytest.raises(JIRAError) as edit:
        client.add_issue_property(epic, "okrsync", {"kr": "ENG-1.1"})
    with pytest.raises(JIRAError) as comment:
        client.add_comment(epic, "hello")
    with pytest.raises(JIRAError) as create:
        client.create_issue(
            fields={"project": {"key": "ONB"}, "summary": "x", "issuetype": {"name": "Task"}}, prefetch=False
        )

    assert (edit.value.status_code, comment.value.status_code, create.value.status_code) == (403, 403, 400)
    assert "permission" in str(create.value.text)
