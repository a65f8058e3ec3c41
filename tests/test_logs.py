"""JSON log lines carry their structured fields as keys: read from a real `okrsync run`."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from okrsync.logs import JsonFormatter
from okrsync.sandbox.github import GitHubSim
from tests.daemon_support import (
    TODAY,
    DaemonProcess,
    cycle_table,
    due_at,
    kr_table,
    seed,
    wait_for,
    webhook_sink,
    write_config,
)

TOKEN = "ghp_logs_SECRET_0b7d"


def json_lines(output: str) -> list[dict[str, Any]]:
    """Every line of the output, each of which must be one JSON object."""
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_json_log_lines_of_a_run_carry_source_cycle_event_kr_and_delivery_as_keys(tmp_path: Path) -> None:
    sim = GitHubSim(tokens={TOKEN: "okrsync"})
    number = seed(sim, "acme/web", "Onboarding v2", due=TODAY + timedelta(days=14))
    sim.start()
    try:
        with webhook_sink() as sink:
            config = write_config(
                tmp_path,
                database_url=f"sqlite:///{tmp_path / 'okrsync.db'}",
                sources={"github": (sim.url, ["acme/web"])},
                mapping=cycle_table() + kr_table("ENG-1.1", [("github", "acme/web", "Onboarding v2")]),
                hook_url=sink.url,
            )
            daemon = DaemonProcess(
                config, log=tmp_path / "run.log", interval=1, token=TOKEN, env={"OKRSYNC_LOG_FORMAT": "json"}
            )
            try:
                wait_for(lambda: daemon.cycles() >= 1, timeout=15, what="a first cycle")
                sim.set_due("acme/web", number, due_at(TODAY + timedelta(days=28)))
                wait_for(lambda: sink.of_type("milestone.rescheduled"), timeout=10, what="the alert")
                wait_for(lambda: "delivered milestone.rescheduled" in daemon.output(), timeout=5, what="log")
                code, _ = daemon.terminate(timeout=10)
            finally:
                daemon.stop()
    finally:
        sim.stop()
    assert code == 0
    entries = json_lines(daemon.output())
    event_id = sink.of_type("milestone.rescheduled")[0].payload["id"]

    polled = [e for e in entries if e["message"].startswith("source github:")]
    assert polled and all(e["source"] == "github" for e in polled)
    cycles = [e for e in entries if e["message"].startswith("cycle ")]
    assert [e["cycle"] for e in cycles[:2]] == [1, 2]
    [detected] = [e for e in entries if e["message"].startswith("detected milestone.rescheduled")]
    assert (detected["event_id"], detected["kr"]) == (event_id, "ENG-1.1")
    [delivered] = [e for e in entries if e["message"].startswith("delivered milestone.rescheduled")]
    assert delivered["event_id"] == event_id and delivered["kr"] == "ENG-1.1"
    assert delivered["channel"] == "hook" and isinstance(delivered["delivery_id"], int)
    assert TOKEN not in daemon.output()


def test_only_the_known_structured_fields_become_keys() -> None:
    record = logging.LogRecord("okrsync.engine", logging.INFO, __file__, 1, "source %s: ok", ("gh",), None)
    record.source = "gh"
    record.kr = None  # a field the call site did not have is left out
    record.token = "ghp_never_SECRET"  # an extra okrsync does not know is not copied

    entry = json.loads(JsonFormatter().format(record))

    assert entry["source"] == "gh" and entry["message"] == "source gh: ok"
    assert "kr" not in entry and "token" not in entry
