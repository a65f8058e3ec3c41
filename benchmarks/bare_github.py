"""The bare-client baseline for GitHub: okrsync's first-sync requests through PyGithub, nothing more.

    python benchmarks/bare_github.py JOB.json

Run as a child process by scenario_l.py, so it pays for its own interpreter start, imports
and garbage collection, as `okrsync sync` does, and shares no GIL with the simulator. JOB
names the simulator (`url`, `token`), the `repos` and `per_page`. For each repo, in the order
okrsync's poller asks, it pages `/issues?state=all&sort=updated&direction=desc` and then
`/milestones?state=all`, following `Link: rel="next"`. It builds no records and writes
nothing: that is what "no processing" means in SPEC §8's target.

Two transports, chosen by JOB:

- `"transport": "library"` (the SPEC §8 baseline): one client, repo after repo, every page
  through `github.requester.requestJsonAndCheck`, which decodes with the standard library.
- `"transport": "matched"`: the transport okrsync's poller uses since it fetches ahead —
  `workers` repos in flight, each worker with a client of its own (PyGithub's requester is
  not shared between threads), pages read with `requester.requestJson` and decoded with
  orjson. Against it, the ratio shows what okrsync's processing costs, not its transport.

Prints one JSON line: the requests made and the items decoded.
"""

from __future__ import annotations

import json
import queue
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from github import Auth, Github

Getter = Callable[[str, dict[str, Any] | None], tuple[dict[str, Any], Any]]


def next_link(link: str) -> str | None:
    for part in link.split(","):
        section = part.split(";")
        if len(section) >= 2 and any(s.strip() == 'rel="next"' for s in section[1:]):
            return section[0].strip().strip("<>")
    return None


def library_getter(github: Github) -> Getter:
    def get(url: str, params: dict[str, Any] | None) -> tuple[dict[str, Any], Any]:
        headers, data = github.requester.requestJsonAndCheck("GET", url, parameters=params)
        return headers, data

    return get


def orjson_getter(github: Github) -> Getter:
    def get(url: str, params: dict[str, Any] | None) -> tuple[dict[str, Any], Any]:
        status, headers, body = github.requester.requestJson("GET", url, params)
        if status >= 400:
            msg = f"GET {url} answered {status}: {body[:200]}"
            raise RuntimeError(msg)
        return headers, orjson.loads(body)

    return get


def page_repo(get: Getter, repo: str, per_page: int) -> tuple[int, int]:
    """Page one repo's issues, then its milestones, to their ends; return (requests, items)."""
    requests = items = 0
    for path, params in (
        (
            f"/repos/{repo}/issues",
            {"state": "all", "sort": "updated", "direction": "desc", "per_page": per_page},
        ),
        (f"/repos/{repo}/milestones", {"state": "all", "per_page": per_page}),
    ):
        url: str | None = path
        query: dict[str, Any] | None = params
        while url is not None:
            headers, data = get(url, query)
            requests, items = requests + 1, items + len(data)
            url, query = next_link(headers.get("link", "")), None
    return requests, items


def client(job: dict[str, Any]) -> Github:
    return Github(
        auth=Auth.Token(job["token"]),
        base_url=job["url"],
        per_page=int(job["per_page"]),
        seconds_between_requests=0,
        seconds_between_writes=0,
        retry=0,
    )


def run_library(job: dict[str, Any]) -> tuple[int, int]:
    get = library_getter(client(job))
    totals = [0, 0]
    for repo in job["repos"]:
        made, got = page_repo(get, repo, int(job["per_page"]))
        totals[0], totals[1] = totals[0] + made, totals[1] + got
    return totals[0], totals[1]


def run_matched(job: dict[str, Any]) -> tuple[int, int]:
    todo: queue.SimpleQueue[str] = queue.SimpleQueue()
    for repo in job["repos"]:
        todo.put(repo)
    totals = [0, 0]
    lock = threading.Lock()
    failures: list[BaseException] = []

    def work() -> None:
        get = orjson_getter(client(job))
        try:
            while True:
                try:
                    repo = todo.get_nowait()
                except queue.Empty:
                    return
                made, got = page_repo(get, repo, int(job["per_page"]))
                with lock:
                    totals[0], totals[1] = totals[0] + made, totals[1] + got
        except BaseException as exc:
            failures.append(exc)

    workers = [threading.Thread(target=work) for _ in range(max(1, int(job["workers"])))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if failures:
        raise failures[0]
    return totals[0], totals[1]


def main() -> None:
    job = json.loads(Path(sys.argv[1]).read_text())
    run = run_matched if job.get("transport") == "matched" else run_library
    requests, items = run(job)
    sys.stdout.write(json.dumps({"requests": requests, "items": items}) + "\n")


if __name__ == "__main__":
    main()
