"""`okrsync schema`: the JSON Schemas accept every shipped file and reject broken ones.

Files are parsed with tomllib and checked with the `jsonschema` package, TOML dates turned into
their ISO text first, as Taplo (Even Better TOML) hands them to a schema. Each broken mapping is
also given to `okrsync validate`'s loader, which must refuse it too: the schema and the loader
read the same models (okrsync.mappingformat), and this table keeps them agreeing.
"""

from __future__ import annotations

import json
import tomllib
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from okrsync.ascode.schema import json_schema
from okrsync.cli import app
from okrsync.errors import InputError
from okrsync.mappings import load_okrs
from okrsync.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
DEMO_MAPPINGS = ROOT / "okrsync" / "sandbox" / "demo_mappings"

CONFIG = """\
[sources.github]
kind = "github"

[sources.jira]
kind = "jira"
url = "https://acme.atlassian.net"
"""

HEAD = """\
[cycle]
id = "2026-Q4"
start = 2026-10-01
end = 2026-12-31

[[objective]]
id = "ENG-1"
title = "Remove friction from onboarding"
owner = "alice"

[[objective.key_result]]
id = "ENG-1.1"
title = "Cut onboarding errors by 80%"
owner = "bob"
"""


def as_json(value: Any) -> Any:
    """Turn parsed TOML into JSON values the way Taplo does: dates and times become ISO text."""
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value


def validator(which: str) -> jsonschema.protocols.Validator:
    schema = json_schema(which)  # type: ignore[arg-type]
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def errors_of(which: str, text: str) -> list[str]:
    return [e.message for e in validator(which).iter_errors(as_json(tomllib.loads(text)))]


def test_the_cli_prints_the_schema_it_generates() -> None:
    for which in ("mappings", "config"):
        result = CliRunner().invoke(app, ["schema", which])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == json_schema(which)  # type: ignore[arg-type]
    assert json.loads(CliRunner().invoke(app, ["schema"]).stdout)["title"] == "okrsync mappings file"


@pytest.mark.parametrize(
    "path", sorted(DEMO_MAPPINGS.glob("*.toml")) + sorted((ROOT / "mappings").glob("*.toml")), ids=str
)
def test_every_demo_mapping_is_valid(path: Path) -> None:
    assert errors_of("mappings", path.read_text()) == []


def test_the_example_config_and_the_init_scaffold_are_valid(tmp_path: Path) -> None:
    assert errors_of("config", (ROOT / "config.example.toml").read_text()) == []
    assert CliRunner().invoke(app, ["init", str(tmp_path)]).exit_code == 0
    assert errors_of("config", (tmp_path / "config.toml").read_text()) == []
    for path in (tmp_path / "mappings").glob("*.toml"):
        assert errors_of("mappings", path.read_text()) == []


def test_the_new_key_result_fields_are_valid() -> None:
    text = HEAD.replace('owner = "bob"\n', 'owner = "bob"\nin_progress_weight = 0.5\n') + (
        '\n[[objective.key_result]]\nid = "ENG-1.2"\ntitle = "Points"\nowner = "bob"\nkind = "metric"\n'
        'baseline = 0\ntarget = 40\nvalue_query = "project = ONB"\nvalue_source = "jira"\n'
        'value_aggregate = "sum"\nvalue_field = "Story Points"\n'
    )
    assert errors_of("mappings", text) == []


BROKEN_MAPPINGS = {
    "unknown key": HEAD + 'ownr = "bob"\n',
    "no cycle": HEAD.split("\n\n", 1)[1],
    "cycle without end": HEAD.replace("end = 2026-12-31\n", ""),
    "date is not a date": HEAD.replace("start = 2026-10-01", 'start = "the first"'),
    "bad id": HEAD.replace('id = "ENG-1.1"', 'id = "ENG 1.1"'),
    "blank title": HEAD.replace('title = "Cut onboarding errors by 80%"', 'title = "  "'),
    "objective without owner": HEAD.replace('owner = "alice"\n', ""),
    "bad kind": HEAD + 'kind = "vibes"\n',
    "bad commitment": HEAD + 'commitment = "maybe"\n',
    "negative weight": HEAD + "weight = -1\n",
    "metric without target": HEAD + 'kind = "metric"\nbaseline = 0\n',
    "value_query on a milestones kr": HEAD + 'value_query = "is:open"\nvalue_source = "github"\n',
    "value_query without source": HEAD
    + 'kind = "metric"\nbaseline = 0\ntarget = 5\nvalue_query = "is:open"\n',
    "sum without field": HEAD
    + 'kind = "metric"\nbaseline = 0\ntarget = 5\nvalue_query = "x"\nvalue_source = "jira"\nvalue_aggregate = "sum"\n',
    "bad aggregate": HEAD
    + 'kind = "metric"\nbaseline = 0\ntarget = 5\nvalue_query = "x"\nvalue_source = "jira"\nvalue_aggregate = "max"\n',
    "in_progress_weight of 1": HEAD + "in_progress_weight = 1\n",
    "in_progress_weight as text": HEAD + 'in_progress_weight = "half"\n',
    "link with two selectors": HEAD
    + '\n[[objective.key_result.link]]\nsource = "jira"\nversion = "ONB/2.0"\nepic = "ONB-1"\n',
    "link with no selector": HEAD + '\n[[objective.key_result.link]]\nsource = "jira"\n',
    "milestone link without repo": HEAD
    + '\n[[objective.key_result.link]]\nsource = "github"\nmilestone = "M"\n',
    "jql link without due": HEAD
    + '\n[[objective.key_result.link]]\nsource = "jira"\njql = "x"\ntitle = "T"\n',
    "due on a version link": HEAD
    + '\n[[objective.key_result.link]]\nsource = "jira"\nversion = "ONB/2.0"\ndue = 2026-11-01\n',
    "bad repo": HEAD + '\n[[objective.key_result.link]]\nsource = "github"\nrepo = "web"\nmilestone = "M"\n',
    "bad epic key": HEAD + '\n[[objective.key_result.link]]\nsource = "jira"\nepic = "onb-1"\n',
    "number zero": HEAD + '\n[[objective.key_result.link]]\nsource = "github"\nrepo = "a/b"\nnumber = 0\n',
    "objective as a single table": HEAD.replace("[[objective]]", "[objective]").split("[[objective.key")[0],
}


@pytest.mark.parametrize("name", list(BROKEN_MAPPINGS))
def test_a_broken_mapping_is_refused_by_the_schema_and_by_validate(name: str, tmp_path: Path) -> None:
    text = BROKEN_MAPPINGS[name]
    assert errors_of("mappings", text), f"the schema accepted: {name}"
    (tmp_path / "mappings").mkdir()
    (tmp_path / "mappings" / "okrs.toml").write_text(text)
    (tmp_path / "config.toml").write_text(CONFIG)
    settings = load_settings(tmp_path / "config.toml")
    with pytest.raises(InputError):
        load_okrs(tmp_path / "mappings", settings=settings)


BROKEN_CONFIGS = {
    "unknown section": "[okrsnc]\n",
    "unknown key": '[okrsync]\ndatabse_url = "sqlite:///x.db"\n',
    "poll_interval of 0": "[okrsync]\npoll_interval = 0\n",
    "source without kind": '[sources.gh]\nrepos = ["a/b"]\n',
    "source of an unknown kind": '[sources.gh]\nkind = "gitlab"\n',
    "jira without url": '[sources.j]\nkind = "jira"\n',
    "per_page over 100": '[sources.gh]\nkind = "github"\nper_page = 500\n',
    "name written by hand": '[sources.gh]\nkind = "github"\nname = "gh"\n',
    "token and token_env": '[sources.gh]\nkind = "github"\ntoken = "t"\ntoken_env = "GH"\n',
    "channel of an unknown type": '[alerts.channels.x]\ntype = "pager"\n',
    "digest_hour 24": "[alerts]\ndigest_hour = 24\n",
    "person id written by hand": '[people.bob]\nid = "bob"\n',
    "in_progress_weight of 2": '[sources.gh]\nkind = "github"\nin_progress_weight = 2\n',
}


@pytest.mark.parametrize("name", list(BROKEN_CONFIGS))
def test_a_broken_config_is_refused_by_the_schema_and_by_validate(name: str, tmp_path: Path) -> None:
    text = BROKEN_CONFIGS[name]
    assert errors_of("config", text), f"the schema accepted: {name}"
    (tmp_path / "config.toml").write_text(text)
    with pytest.raises(InputError):
        load_settings(tmp_path / "config.toml", environ={})


def test_a_secret_may_be_written_as_a_reference() -> None:
    text = '[sources.gh]\nkind = "github"\ntoken_env = "GH_TOKEN"\n\n[alerts.channels.s]\ntype = "slack"\nurl_file = "/run/s"\n'
    assert errors_of("config", text) == []
