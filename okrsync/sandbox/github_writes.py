"""The simulated GitHub's write endpoints: create and edit issues, edit milestones, create labels.

They answer as api.github.com does (docs.github.com/rest/issues): `POST
/repos/{o}/{r}/issues` → 201 with the issue and a `Location` header; `PATCH
/repos/{o}/{r}/issues/{n}` and `PATCH /repos/{o}/{r}/milestones/{n}` → 200 with the new
object; `POST /repos/{o}/{r}/labels` → 201, or 422 `already_exists`. Labels named on a new
issue that the repo lacks are created, as GitHub does for a user with push access. A client
in `GitHubSim.read_only` gets GitHub's 403 for a token without write permission; a missing
`title` gets 422 `missing_field`. Every write counts against the client's rate limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from okrsync.sandbox.github import _parse_since
from okrsync.sandbox.http import Request, Response

if TYPE_CHECKING:
    from okrsync.sandbox.github import GitHubSim, Repo

ISSUES_DOCS = "https://docs.github.com/rest/issues/issues"
MILESTONES_DOCS = "https://docs.github.com/rest/issues/milestones"
LABELS_DOCS = "https://docs.github.com/rest/issues/labels"


def _forbidden(docs: str) -> Response:
    # What GitHub answers a fine-grained token (or App) that lacks `Issues: write`.
    return Response(
        403,
        {
            "message": "Resource not accessible by personal access token",
            "documentation_url": docs,
            "status": "403",
        },
    )


def _not_found(docs: str) -> Response:
    return Response(404, {"message": "Not Found", "documentation_url": docs, "status": "404"})


def _invalid(resource: str, field: str, code: str, docs: str) -> Response:
    body = {
        "message": "Validation Failed",
        "errors": [{"resource": resource, "code": code, "field": field}],
        "documentation_url": docs,
        "status": "422",
    }
    return Response(422, body)


def handle_write(sim: GitHubSim, request: Request) -> Response:
    """Answer a POST or PATCH (called under the simulator's lock by `GitHubSim.route`)."""
    parts = [p for p in request.path.split("/") if p]
    if len(parts) < 4 or parts[0] != "repos":
        return _not_found(ISSUES_DOCS)
    repo = sim.repos.get(f"{parts[1]}/{parts[2]}".lower())
    if repo is None:
        return _not_found(ISSUES_DOCS)
    assert request.client is not None
    rest = parts[3:]
    docs = {"issues": ISSUES_DOCS, "milestones": MILESTONES_DOCS, "labels": LABELS_DOCS}.get(
        rest[0], ISSUES_DOCS
    )
    if request.client in sim.read_only:
        return _forbidden(docs)
    try:
        data = request.json() or {}
    except ValueError:
        return Response(400, {"message": "Problems parsing JSON", "documentation_url": docs, "status": "400"})
    if not isinstance(data, dict):
        return Response(400, {"message": "Problems parsing JSON", "documentation_url": docs, "status": "400"})
    match (request.method, rest):
        case ("POST", ["issues"]):
            return _create_issue(sim, repo, data)
        case ("PATCH", ["issues", number]) if number.isdigit():
            return _edit_issue(sim, repo, int(number), data)
        case ("PATCH", ["milestones", number]) if number.isdigit():
            return _edit_milestone(sim, repo, int(number), data)
        case ("POST", ["labels"]):
            return _create_label(sim, repo, data)
    return _not_found(docs)


def _create_issue(sim: GitHubSim, repo: Repo, data: dict[str, Any]) -> Response:
    title = data.get("title")
    if not isinstance(title, str) or not title:
        return _invalid("Issue", "title", "missing_field", ISSUES_DOCS)
    milestone = data.get("milestone")
    if milestone is not None and (not isinstance(milestone, int) or milestone not in repo.milestones):
        return _invalid("Issue", "milestone", "invalid", ISSUES_DOCS)
    assignees = data.get("assignees") or ([data["assignee"]] if data.get("assignee") else [])
    number = sim.add_issue(
        repo,
        title,
        body=data.get("body"),
        labels=[str(label) for label in data.get("labels") or []],
        milestone=milestone,
        assignee=assignees[0] if assignees else None,
    )
    issue = repo.issues[number]
    location = f"{sim.url}{sim.api_prefix}/repos/{repo.full_name}/issues/{number}"
    return Response(201, raw=sim._issue_bytes(issue), headers={"Location": location})


def _edit_issue(sim: GitHubSim, repo: Repo, number: int, data: dict[str, Any]) -> Response:
    if number in repo.deleted:
        return Response(
            410, {"message": "This issue was deleted", "documentation_url": ISSUES_DOCS, "status": "410"}
        )
    if number not in repo.issues:
        return _not_found(ISSUES_DOCS)
    fields: dict[str, Any] = {}
    for name in ("title", "body"):
        if name in data:
            fields[name] = data[name]
    if "labels" in data:
        fields["labels"] = [str(label) for label in data["labels"] or []]
    if "milestone" in data:
        fields["milestone"] = data["milestone"]
    if fields:
        sim.update_issue(repo, number, **fields)
    state = data.get("state")
    if state == "closed" and repo.issues[number].state != "closed":
        sim.close_issue(repo, number, reason=data.get("state_reason") or "completed")
    elif state == "open" and repo.issues[number].state != "open":
        sim.reopen_issue(repo, number)
    return Response(200, raw=sim._issue_bytes(repo.issues[number]))


def _edit_milestone(sim: GitHubSim, repo: Repo, number: int, data: dict[str, Any]) -> Response:
    if number not in repo.milestones:
        return _not_found(MILESTONES_DOCS)
    if "due_on" in data:  # how `okrsync demo --serve` moves a due date from outside, as on GitHub
        due = data["due_on"]
        parsed = _parse_since(due) if isinstance(due, str) else None
        if due is not None and parsed is None:
            return _invalid("Milestone", "due_on", "invalid", MILESTONES_DOCS)
        sim.set_due(repo, number, parsed)
    if "title" in data and data["title"] != repo.milestones[number].title:
        sim.rename_milestone(repo, number, str(data["title"]))
    if "description" in data:
        sim.update_milestone(repo, number, description=data["description"] or "")
    if data.get("state") == "closed" and repo.milestones[number].state != "closed":
        sim.close_milestone(repo, number)
    elif data.get("state") == "open" and repo.milestones[number].state != "open":
        sim.reopen_milestone(repo, number)
    return Response(200, raw=sim._milestone_bytes(repo.milestones[number]))


def _create_label(sim: GitHubSim, repo: Repo, data: dict[str, Any]) -> Response:
    name = data.get("name")
    if not isinstance(name, str) or not name:
        return _invalid("Label", "name", "missing_field", LABELS_DOCS)
    if name in repo.labels:
        return _invalid("Label", "name", "already_exists", LABELS_DOCS)
    sim._label_id(repo, name)
    return Response(201, sim._label_json(repo, name))
