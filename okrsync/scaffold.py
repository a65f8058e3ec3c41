"""`okrsync init`: write a commented config.toml and mappings/example.toml to start from.

The pair is meant to load cleanly as written (tests load it), so a new user's first
`okrsync validate` passes and every later error is one they made. Nothing is overwritten:
an existing file is the user's work.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from okrsync.errors import ConfigError, Problem

CONFIG_TEMPLATE = """\
# okrsync configuration. Every key is optional unless marked required.
# Environment variables OKRSYNC_<SECTION>__<KEY> override this file, e.g.
# OKRSYNC_OKRSYNC__POLL_INTERVAL=60 or OKRSYNC_SOURCES__GITHUB__TOKEN=ghp_...
# Secrets (token, url, secret, smtp_password, app_private_key) are never needed here:
# write x_env = "VARIABLE" or x_file = "/run/secrets/file" instead of x.

[okrsync]
database_url = "sqlite:///okrsync.db"    # relative to this file; or postgresql+psycopg://user@host/db
mappings = "mappings"                     # folder of OKR files (*.toml), relative to this file
timezone = "UTC"                          # due dates are calendar days in this zone
poll_interval = 300                       # seconds between two syncs of `okrsync run`
label_prefix = "kr:"                      # an issue labelled kr:<KR id> counts toward that KR

[sources.github]                          # the table name is the source's name
kind = "github"
base_url = "https://api.github.com"       # GitHub Enterprise: https://host/api/v3
# token from OKRSYNC_SOURCES__GITHUB__TOKEN, or: token_file = "/run/secrets/github"
repos = []                                # ["acme/web"]: repos scanned for kr: labels

[sources.jira]
kind = "jira"
url = "https://example.atlassian.net"     # required: your Jira site
# email = "okrsync@example.com"           # Cloud: with an API token; leave out for a Data Center PAT
# token from OKRSYNC_SOURCES__JIRA__TOKEN
projects = []                             # ["ONB"]: projects scanned for kr: labels
story_points_field = "auto"               # or a field id such as "customfield_10016"

# Owners named in the mappings, so alerts reach them.
[people.alice]
name = "Alice Example"
email = "alice@example.com"
# slack = "U024BE7LH"                     # Slack member id, for mentions

[alerts]
stale_after_days = 21                     # alert when KR progress has not moved for this long
confidence_drop = 3                       # alert when a check-in's confidence falls this much in 14 days
send_backlog = false                      # on a new database, do not send alerts from before today

[alerts.channels.log]                     # the table name is the channel's name
type = "log"                              # slack | email | webhook | apprise | log
# [alerts.channels.team-slack]
# type = "slack"
# url_env = "SLACK_WEBHOOK_URL"

[server]
listen = "127.0.0.1:9464"                 # /healthz, /metrics and the report; loopback only
"""

MAPPING_TEMPLATE = """\
# OKRs as code: one [cycle] per file, objectives with key results, key results with links to
# milestones in your trackers. Several files may share a cycle; ids are unique across files.

[cycle]
id = "{cycle_id}"
start = {start}
end = {end}

[[objective]]
id = "EX-1"
title = "Make onboarding painless"
owner = "alice"                           # an id from [people] in config.toml
team = "example"
# parent = "CO-1"                         # an objective of a longer cycle (the cascade)

[[objective.key_result]]
id = "EX-1.1"
title = "Ship the new onboarding flow"
owner = "alice"
kind = "milestones"                       # progress from linked milestones; or "metric"
baseline = 0
target = 100
unit = "%"
commitment = "committed"                  # or "aspirational" (the default)
measurement = "Share of linked milestone work done; sub-tasks excluded."

[[objective.key_result.link]]
source = "github"                         # a source from config.toml
repo = "acme/web"
milestone = "Onboarding v2"               # milestone title, or: number = 12

[[objective.key_result.link]]
source = "jira"
version = "ONB/2.0"                       # fix version as PROJECT/name
# or: epic = "ONB-12"
# or: jql = "project = ONB AND labels = perf", due = {end}, title = "Perf fixes"

[[objective.key_result]]
id = "EX-1.2"
title = "Cut time to first commit from 5 days to 1"
owner = "alice"
kind = "metric"                           # progress from check-ins (okrsync checkin)
baseline = 5
target = 1                                # falling targets work
unit = "days"
"""


def quarter_of(day: date) -> tuple[str, date, date]:
    """Return the id, first and last day of the calendar quarter holding `day`."""
    q = (day.month - 1) // 3
    start = date(day.year, 3 * q + 1, 1)
    next_start = date(day.year + (q == 3), (3 * q + 3) % 12 + 1, 1)
    return f"{day.year}-Q{q + 1}", start, next_start - timedelta(days=1)


def init_project(directory: Path, *, today: date | None = None) -> list[Path]:
    """Write config.toml and mappings/example.toml into `directory`; return the paths written.

    The example's cycle is the quarter of `today` (default: today in UTC). Raises ConfigError
    naming every file that already exists, before writing anything.
    """
    config = directory / "config.toml"
    example = directory / "mappings" / "example.toml"
    existing = [p for p in (config, example) if p.exists()]
    if existing:
        msg = "already exists; okrsync init never overwrites a file"
        raise ConfigError([Problem(str(p), None, "init", msg) for p in existing])
    cycle_id, start, end = quarter_of(today or datetime.now(UTC).date())
    example.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(CONFIG_TEMPLATE, encoding="utf-8")
    example.write_text(MAPPING_TEMPLATE.format(cycle_id=cycle_id, start=start, end=end), encoding="utf-8")
    return [config, example]
