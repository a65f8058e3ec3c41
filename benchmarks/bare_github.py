"""The bare-client baseline for GitHub: okrsync's first-sync requests through PyGithub, nothing more.

    python benchmarks/bare_github.py JOB.json

Run as a child process by scenario_l.py, so it pays for its own interpreter start, imports
and garbage collection, as `okrsync sync` does, and shares no GIL with the simulator. JOB
names the simulator (`url`, `token`), the `repos` and `per_page`. For each repo, in the order
okrsync's poller asks, it pages `/issues?state=all&sort=updated&direction=desc` and then
`/milestones?state=all` through `github.requester.requestJsonAndCheck` (which decodes each
page's JSON), following `Link: rel="next"`. It builds no records and writes nothing: that is
what "no processing" means in SPEC §8's target. Only PyGithub and the standard library are
imported, so its start-up is the client's alone.

Prints one JSON line: the requests made and the items decoded.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from github import Auth, Github


def next_link(link: str) -> str | None:
    for part in link.split(","):
        section = part.split(";")
        if len(section) >= 2 and any(s.strip() == 'rel="next"' for s in section[1:]):
            return section[0].strip().strip("<>")
    return None


def page_all(github: Github, path: str, params: dict[str, Any]) -> tuple[int, int]:
    """Page one list to its end; return (requests, items)."""
    headers, data = github.requester.requestJsonAndCheck("GET", path, parameters=params)
    requests, items = 1, len(data)
    while (url := next_link(headers.get("link", ""))) is not None:
        headers, data = github.requester.requestJsonAndCheck("GET", url)
        requests, items = requests + 1, items + len(data)
    return requests, items


def main() -> None:
    job = json.loads(Path(sys.argv[1]).read_text())
    per_page = int(job["per_page"])
    github = Github(
        auth=Auth.Token(job["token"]),
        base_url=job["url"],
        per_page=per_page,
        seconds_between_requests=0,
        seconds_between_writes=0,
        retry=0,
    )
    requests = items = 0
    for repo in job["repos"]:
        for path, params in (
            (
                f"/repos/{repo}/issues",
                {"state": "all", "sort": "updated", "direction": "desc", "per_page": per_page},
            ),
            (f"/repos/{repo}/milestones", {"state": "all", "per_page": per_page}),
        ):
            made, got = page_all(github, path, params)
            requests, items = requests + made, items + got
    sys.stdout.write(json.dumps({"requests": requests, "items": items}) + "\n")


if __name__ == "__main__":
    main()
