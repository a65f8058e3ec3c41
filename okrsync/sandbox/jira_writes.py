"""The simulated Jira's write endpoints: create and edit issues, comments and issue properties.

Shapes follow the Jira REST API v2/v3 (developer.atlassian.com, "Issues", "Issue comments",
"Issue properties"): `POST /issue` → 201 `{"id", "key", "self"}`; `PUT /issue/{key}` → 204;
`GET|POST /issue/{key}/comment` (a page `{"startAt", "maxResults", "total", "comments"}` / 201
with the comment); `GET|PUT /issue/{key}/comment/{id}` (200 with the comment);
`GET|PUT /issue/{key}/properties/{name}` (200 `{"key", "value"}`; a PUT answers 201 when it
creates the property and 200 when it replaces it, with no body). A client in
`JiraSim.read_only` gets Jira's refusal: 400 on create (the project's error), 403 elsewhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from okrsync.sandbox.http import Request, Response

if TYPE_CHECKING:
    from okrsync.sandbox.jira import JiraSim, _Issue


def _error(status: int, *messages: str, errors: dict[str, str] | None = None) -> Response:
    return Response(status, {"errorMessages": list(messages), "errors": errors or {}})


def _missing_issue() -> Response:
    return _error(404, "Issue does not exist or you do not have permission to see it.")


def _body(request: Request) -> Any:
    try:
        return request.json()
    except ValueError:
        return None


def _now_ms(sim: JiraSim) -> int:
    from okrsync.sandbox.jira import _ms

    return _ms(sim._now())


def _issue_of(sim: JiraSim, key: str) -> _Issue | None:
    return sim._find_issue(key)


def _edited(sim: JiraSim, issue: _Issue) -> None:
    issue.updated = _now_ms(sim)
    sim._touch()


def _create_issue(sim: JiraSim, request: Request, version: str) -> Response:
    from okrsync.sandbox.jira import _ISSUE_TYPES

    data = _body(request)
    fields = data.get("fields") if isinstance(data, dict) else None
    if not isinstance(fields, dict):
        return _error(400, "Field 'fields' is required.")
    project_ref = fields.get("project") or {}
    key = project_ref.get("key") if isinstance(project_ref, dict) else None
    if key is None and isinstance(project_ref, dict) and project_ref.get("id"):
        key = next((p.key for p in sim._projects.values() if str(p.id) == str(project_ref["id"])), None)
    if key not in sim._projects:
        return _error(400, errors={"project": "Specify a valid project ID or key"})
    assert request.client is not None
    if request.client in sim.read_only:
        return _error(400, errors={"project": "You do not have permission to create issues in this project."})
    type_ref = fields.get("issuetype") or {}
    type_name = type_ref.get("name") if isinstance(type_ref, dict) else None
    if type_name is None and isinstance(type_ref, dict):
        type_name = next(
            (n for n, (tid, _s, _l) in _ISSUE_TYPES.items() if tid == str(type_ref.get("id"))), None
        )
    if type_name not in _ISSUE_TYPES:
        return _error(400, errors={"issuetype": "Specify a valid issue type"})
    summary = fields.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        return _error(400, errors={"summary": "You must specify a summary of the issue."})
    labels = fields.get("labels") or []
    new_key = sim.add_issue(key, summary, issuetype=type_name, labels=[str(label) for label in labels])
    issue = sim._issue(new_key)
    issue.description = fields.get("description")
    api = f"{sim.url}/rest/api/{version}"
    return Response(201, {"id": str(issue.id), "key": issue.key, "self": f"{api}/issue/{issue.id}"})


def _edit_issue(sim: JiraSim, request: Request, version: str, key: str) -> Response:
    issue = _issue_of(sim, key)
    if issue is None:
        return _missing_issue()
    assert request.client is not None
    if request.client in sim.read_only:
        return _error(403, "You do not have permission to edit issues in this project.")
    data = _body(request)
    fields = data.get("fields") if isinstance(data, dict) else None
    if not isinstance(fields, dict):
        return _error(
            400,
            "Can not instantiate value of type [simple type, class com.atlassian.jira.rest.v2.issue.IssueUpdateBean]",
        )
    for name, value in fields.items():
        if name == "description":
            issue.description = value
        elif name == "summary" and isinstance(value, str) and value.strip():
            issue.summary = value
        elif name == "labels" and isinstance(value, list):
            issue.labels = [str(label) for label in value]
        else:
            return _error(
                400,
                errors={
                    name: f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
                },
            )
    _edited(sim, issue)
    return Response(204)


def _user_json(sim: JiraSim, version: str, handle: str) -> dict[str, Any]:
    from okrsync.sandbox.jira import _Render

    sim._user(handle)
    return _Render(sim, version).user(handle)


def _comment_json(sim: JiraSim, version: str, issue: _Issue, comment: dict[str, Any]) -> dict[str, Any]:
    api = f"{sim.url}/rest/api/{version}"
    author = _user_json(sim, version, comment["author"])
    return {
        "self": f"{api}/issue/{issue.id}/comment/{comment['id']}",
        "id": str(comment["id"]),
        "author": author,
        "body": comment["body"],
        "updateAuthor": author,
        "created": sim._stamp(comment["created"]),
        "updated": sim._stamp(comment["updated"]),
        "jsdPublic": True,
    }


def _comments(sim: JiraSim, request: Request, version: str, key: str) -> Response:
    issue = _issue_of(sim, key)
    if issue is None:
        return _missing_issue()
    assert request.client is not None
    if request.method == "GET":
        shown = [_comment_json(sim, version, issue, c) for c in issue.comments]
        return Response(
            200, {"startAt": 0, "maxResults": max(len(shown), 50), "total": len(shown), "comments": shown}
        )
    if request.client in sim.read_only:
        return _error(403, "You do not have the permission to comment on this issue.")
    data = _body(request)
    body = data.get("body") if isinstance(data, dict) else None
    if not isinstance(body, str) or not body.strip():
        return _error(400, errors={"comment": "Comment body can not be empty!"})
    now = _now_ms(sim)
    comment = {"id": 10000 + sum(len(i.comments) for i in sim._issues.values()), "author": request.client}
    comment |= {"body": body, "created": now, "updated": now}
    issue.comments.append(comment)
    _edited(sim, issue)
    return Response(201, _comment_json(sim, version, issue, comment))


def _comment(sim: JiraSim, request: Request, version: str, key: str, comment_id: str) -> Response:
    issue = _issue_of(sim, key)
    comment = next((c for c in issue.comments if str(c["id"]) == comment_id), None) if issue else None
    if issue is None or comment is None:
        return _error(404, "Can not find a comment for the id: " + comment_id + ".")
    assert request.client is not None
    if request.method == "GET":
        return Response(200, _comment_json(sim, version, issue, comment))
    if request.client in sim.read_only:
        return _error(403, "You do not have the permission to edit this comment.")
    data = _body(request)
    body = data.get("body") if isinstance(data, dict) else None
    if not isinstance(body, str) or not body.strip():
        return _error(400, errors={"comment": "Comment body can not be empty!"})
    comment["body"], comment["updated"] = body, _now_ms(sim)
    _edited(sim, issue)
    return Response(200, _comment_json(sim, version, issue, comment))


def _property(sim: JiraSim, request: Request, version: str, key: str, name: str) -> Response:
    issue = _issue_of(sim, key)
    if issue is None:
        return _missing_issue()
    assert request.client is not None
    if request.method == "GET":
        if name not in issue.properties:
            return _error(404, f"The property with key '{name}' does not exist.")
        return Response(200, {"key": name, "value": issue.properties[name]})
    if request.client in sim.read_only:
        return _error(403, "You do not have permission to edit issues in this project.")
    try:
        value = json.loads(request.body or b"")
    except ValueError:
        return _error(400, "The property value must be a valid JSON.")
    created = name not in issue.properties
    issue.properties[name] = value
    sim._touch()  # a property is not a field: `updated` stays, as in Jira
    return Response(201 if created else 200)


WRITE_ROUTES: list[tuple[tuple[str, ...], re.Pattern[str], Callable[..., Response]]] = [
    (("POST",), re.compile(r"^/issue$"), _create_issue),
    (("PUT",), re.compile(r"^/issue/([^/]+)$"), _edit_issue),
    (("GET", "POST"), re.compile(r"^/issue/([^/]+)/comment$"), _comments),
    (("GET", "PUT"), re.compile(r"^/issue/([^/]+)/comment/(\d+)$"), _comment),
    (("GET", "PUT"), re.compile(r"^/issue/([^/]+)/properties/([^/]+)$"), _property),
]
