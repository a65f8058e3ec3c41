"""The bare-client baseline for Jira Cloud: okrsync's first-sync requests through `jira`, nothing more.

    python benchmarks/bare_jira.py JOB.json

Run as a child process by scenario_l_jira.py (see bare_github.py for why). JOB holds the
site (`url`, `email`, `token`) and the requests, spelled by the benchmark from okrsync's
Jira poller so the two cannot drift apart silently (the benchmark compares request logs):

1. the client is made as okrsync makes it, which reads `serverInfo`;
2. each project's fix versions (`project_versions`);
3. the first sync's searches over every project, `searches` (one per share of the projects,
   which okrsync runs at once in child processes; here one after the other), with okrsync's
   `search_fields`, page by page through `enhanced_search_issues(..., maxResults=100,
   json_result=True)`; the first search fills the client's field cache from `/field`, once;
4. any key-only searches the first sync makes (`key_searches`, in pages of `key_page_size`):
   none today, as a project read in full skips the deleted-issue check's key listing.

Every page's JSON is decoded by the client; nothing is built from it. Prints one JSON line:
the pages fetched and the issues decoded.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from jira import JIRA


def search(client: JIRA, jql: str, fields: list[str], page_size: int) -> tuple[int, int]:
    """Page one search to its end with Cloud's page tokens; return (pages, issues)."""
    token: str | None = None
    pages = issues = 0
    while True:
        page: Any = client.enhanced_search_issues(
            jql, nextPageToken=token, maxResults=page_size, fields=list(fields), json_result=True
        )
        pages, issues = pages + 1, issues + len(page["issues"])
        token = page.get("nextPageToken")
        if not token or page.get("isLast") is True:
            return pages, issues


def main() -> None:
    job = json.loads(Path(sys.argv[1]).read_text())
    client = JIRA(
        server=job["url"],
        basic_auth=(job["email"], job["token"]),
        max_retries=0,
        timeout=30,
        get_server_info=True,
        options={"check_update": False},
    )
    versions = 0
    for project in job["projects"]:
        versions += len(client.project_versions(project))
    pages = issues = 0
    for jql in job["searches"]:
        more, found = search(client, jql, job["search_fields"], int(job["page_size"]))
        pages, issues = pages + more, issues + found
    for jql in job["key_searches"]:
        more, _keys = search(client, jql, ["key"], int(job["key_page_size"]))
        pages += more
    sys.stdout.write(json.dumps({"versions": versions, "pages": pages, "issues": issues}) + "\n")


if __name__ == "__main__":
    main()
