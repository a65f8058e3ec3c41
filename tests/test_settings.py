"""config.toml + OKRSYNC_* → Settings: defaults, overrides, secrets, and plain-worded errors."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from okrsync.errors import ConfigError
from okrsync.mappings import load_okrs
from okrsync.scaffold import init_project, quarter_of
from okrsync.settings import (
    GitHubSource,
    JiraSource,
    Settings,
    find_config,
    load_settings,
    resolve_sqlite_url,
)
from okrsync.tomlpos import line_of

SECRET = "s3cr3t-t0ken-value"
REPO_ROOT = Path(__file__).resolve().parent.parent

GITHUB = """\
[sources.github]
kind = "github"
repos = ["acme/web"]
"""


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def problems(error: ConfigError) -> list[tuple[str, int | None, str]]:
    return [(p.file, p.line, p.field) for p in error.problems]


# -- defaults and paths ---------------------------------------------------------------------


def test_no_file_means_defaults_resolved_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    settings = load_settings(None, environ={})

    assert settings.okrsync.database_url == f"sqlite:///{tmp_path}/okrsync.db"
    assert settings.okrsync.mappings == tmp_path / "mappings"
    assert (settings.okrsync.timezone, settings.okrsync.poll_interval, settings.okrsync.label_prefix) == (
        "UTC",
        300,
        "kr:",
    )
    assert settings.okrsync.tz == ZoneInfo("UTC")
    assert (settings.sources, settings.people) == ({}, {})
    assert (
        settings.alerts.stale_after_days,
        settings.alerts.confidence_drop,
        settings.alerts.send_backlog,
    ) == (
        21,
        3,
        False,
    )
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 9464)
    assert settings.config_path is None


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    path = write(folder, '[okrsync]\ndatabase_url = "sqlite:///data/o.db"\nmappings = "okrs"\n')

    settings = load_settings(path, environ={})

    assert settings.okrsync.database_url == f"sqlite:///{folder}/data/o.db"
    assert settings.okrsync.mappings == folder / "okrs"
    assert settings.config_path == path


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///okrsync.db", "sqlite:////srv/okrsync.db"),
        ("sqlite:///data/x.db?mode=ro", "sqlite:////srv/data/x.db?mode=ro"),
        ("sqlite+pysqlite:///x.db", "sqlite+pysqlite:////srv/x.db"),
        ("sqlite:////var/lib/okrsync.db", "sqlite:////var/lib/okrsync.db"),
        ("sqlite://", "sqlite://"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("postgresql+psycopg://okr@db/okrsync", "postgresql+psycopg://okr@db/okrsync"),
    ],
)
def test_sqlite_urls_resolve_relative_paths_only(url: str, expected: str) -> None:
    assert resolve_sqlite_url(url, base_dir=Path("/srv")) == expected


def test_sources_are_typed_by_kind_and_named_by_table(tmp_path: Path) -> None:
    text = GITHUB + '[sources.jira-cloud]\nkind = "jira"\nurl = "https://acme.atlassian.net/"\n'

    settings = load_settings(write(tmp_path, text), environ={})

    github, jira = settings.sources["github"], settings.sources["jira-cloud"]
    assert isinstance(github, GitHubSource) and isinstance(jira, JiraSource)
    assert (github.name, github.base_url, github.repos, github.per_page) == (
        "github",
        "https://api.github.com",
        ["acme/web"],
        100,
    )
    assert (jira.name, jira.url, jira.story_points_field, jira.include_subtasks) == (
        "jira-cloud",
        "https://acme.atlassian.net",
        "auto",
        False,
    )
    assert jira.excluded_resolutions == ["Won't Do", "Won't Fix", "Duplicate", "Cannot Reproduce"]


def test_people_and_channels_know_their_table_name(tmp_path: Path) -> None:
    text = '[people.bob]\nname = "Bob"\n[alerts.channels.team-log]\ntype = "log"\n'

    settings = load_settings(write(tmp_path, text), environ={})

    assert settings.people["bob"].id == "bob"
    assert settings.alerts.channels["team-log"].name == "team-log"


@pytest.mark.parametrize(
    ("cli", "environ", "has_default", "expected"),
    [
        (Path("given.toml"), {"OKRSYNC_CONFIG": "env.toml"}, True, Path("given.toml")),
        (None, {"OKRSYNC_CONFIG": "env.toml"}, True, Path("env.toml")),
        (None, {}, True, Path("config.toml")),
        (None, {}, False, None),
    ],
)
def test_find_config_prefers_flag_then_variable_then_local_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cli: Path | None,
    environ: dict[str, str],
    has_default: bool,
    expected: Path | None,
) -> None:
    monkeypatch.chdir(tmp_path)
    if has_default:
        write(tmp_path, "")

    assert find_config(cli, environ=environ) == expected


def test_an_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path / "nope.toml", environ={})

    assert "cannot read the file" in str(caught.value)


# -- the environment ------------------------------------------------------------------------


def test_environment_wins_over_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[okrsync]\npoll_interval = 300\ntimezone = 'Europe/Berlin'\n")

    settings = load_settings(path, environ={"OKRSYNC_OKRSYNC__POLL_INTERVAL": "60"})

    assert settings.okrsync.poll_interval == 60
    assert settings.okrsync.timezone == "Europe/Berlin"


def test_a_source_token_from_the_environment_merges_into_the_file_table(tmp_path: Path) -> None:
    path = write(tmp_path, GITHUB + "timeout = 5\n")

    settings = load_settings(path, environ={"OKRSYNC_SOURCES__GITHUB__TOKEN": SECRET})

    github = settings.sources["github"]
    assert github.token is not None and github.token.get_secret_value() == SECRET
    assert (github.kind, github.repos, github.timeout) == ("github", ["acme/web"], 5)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"OKRSYNC_SOURCES__GITHUB__REPOS": '["a/b", "c/d"]'}, ["a/b", "c/d"]),
        ({"OKRSYNC_SOURCES__GITHUB__REPOS": "a/b, c/d"}, ["a/b", "c/d"]),
        ({"okrsync_sources__GitHub__repos": "a/b"}, ["a/b"]),
    ],
)
def test_list_variables_take_json_or_commas_and_any_case(
    tmp_path: Path, environ: dict[str, str], expected: list[str]
) -> None:
    settings = load_settings(write(tmp_path, GITHUB), environ=environ)

    assert settings.sources["github"].repos == expected


def test_a_whole_source_can_come_from_the_environment(tmp_path: Path) -> None:
    environ = {
        "OKRSYNC_SOURCES__JIRA__URL": "https://acme.atlassian.net",
        "OKRSYNC_SOURCES__JIRA__KIND": "jira",
        "OKRSYNC_SOURCES__JIRA__INCLUDE_SUBTASKS": "true",
    }

    settings = load_settings(None, environ=environ)

    jira = settings.sources["jira"]
    assert isinstance(jira, JiraSource) and jira.include_subtasks is True


def test_underscores_in_a_variable_reach_a_dashed_table(tmp_path: Path) -> None:
    path = write(tmp_path, '[alerts.channels.team-slack]\ntype = "slack"\n')

    settings = load_settings(path, environ={"OKRSYNC_ALERTS__CHANNELS__TEAM_SLACK__URL": SECRET})

    channel = settings.alerts.channels["team-slack"]
    assert channel.url is not None and channel.url.get_secret_value() == SECRET


def test_variables_that_are_not_settings_are_left_alone(tmp_path: Path) -> None:
    environ = {"OKRSYNC_CONFIG": "elsewhere.toml", "OKRSYNC_LOG_LEVEL": "debug", "HOME": "/root"}

    assert load_settings(None, environ=environ).okrsync.poll_interval == 300


@pytest.mark.parametrize(
    ("var", "value", "field", "words"),
    [
        (
            "OKRSYNC_OKRSYNC__POLL_INTERVAL",
            "abc",
            "okrsync.poll_interval",
            "expected an integer ≥ 1, got 'abc'",
        ),
        ("OKRSYNC_OKRSYNC__POLL_INTERVALL", "60", "okrsync.poll_intervall", "did you mean 'poll_interval'?"),
        ("OKRSYNC_SERVR__LISTEN", "0.0.0.0:1", "servr", "did you mean 'server'?"),
        ("OKRSYNC_SOURCES__GITHUB__REPOS", "[oops", "sources.github.repos", "expected JSON"),
        ("OKRSYNC_SERVER__LISTEN", "9464", "server.listen", "expected host:port"),
    ],
)
def test_errors_from_variables_name_the_variable(
    tmp_path: Path, var: str, value: str, field: str, words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, GITHUB), environ={var: value})

    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.field) == (f"${var}", None, field)
    assert words in problem.message


# -- secrets --------------------------------------------------------------------------------


def test_secret_from_a_named_variable(tmp_path: Path) -> None:
    path = write(tmp_path, GITHUB + 'token_env = "GH_TOKEN"\n')

    settings = load_settings(path, environ={"GH_TOKEN": SECRET})

    token = settings.sources["github"].token
    assert token is not None and token.get_secret_value() == SECRET


def test_secret_from_a_file_drops_the_trailing_newline(tmp_path: Path) -> None:
    (tmp_path / "gh").write_text(SECRET + "\n")
    (tmp_path / "hook").write_text(SECRET + "-hook\r\n")
    text = (
        GITHUB
        + 'token_file = "gh"\n'
        + f'[alerts.channels.hook]\ntype = "webhook"\nurl = "https://h.example/x"\nsecret_file = "{tmp_path}/hook"\n'
    )

    settings = load_settings(write(tmp_path, text), environ={})

    token = settings.sources["github"].token
    secret = settings.alerts.channels["hook"].secret
    assert token is not None and token.get_secret_value() == SECRET
    assert secret is not None and secret.get_secret_value() == SECRET + "-hook"


def test_a_token_variable_beats_a_token_file(tmp_path: Path) -> None:
    path = write(tmp_path, GITHUB + 'token_file = "/run/secrets/missing"\n')

    settings = load_settings(path, environ={"OKRSYNC_SOURCES__GITHUB__TOKEN": SECRET})

    token = settings.sources["github"].token
    assert token is not None and token.get_secret_value() == SECRET


@pytest.mark.parametrize(
    ("extra", "environ", "line", "field", "words"),
    [
        (
            'token_env = "GH_TOKEN"\n',
            {},
            4,
            "sources.github.token_env",
            "environment variable GH_TOKEN is not set",
        ),
        ('token_env = "GH_TOKEN"\n', {"GH_TOKEN": ""}, 4, "sources.github.token_env", "GH_TOKEN is empty"),
        ('token_file = "nope/gh"\n', {}, 4, "sources.github.token_file", "nope/gh"),
        (
            f'token = "{SECRET}"\ntoken_env = "GH"\n',
            {"GH": "x"},
            5,
            "sources.github.token_env",
            "expected only one of token, token_env or token_file",
        ),
        (
            f'token = "{SECRET}"\napp_id = 1\n',
            {},
            1,
            "sources.github",
            "expected app_id, app_private_key and installation_id together",
        ),
        (
            f'tokn = "{SECRET}"\n',
            {},
            4,
            "sources.github.tokn",
            "unknown key; did you mean 'token'?",
        ),
        ("token = 12345\n", {}, 4, "sources.github.token", "expected a string"),
    ],
)
def test_secret_problems_name_the_field_and_reference_but_never_the_secret(
    tmp_path: Path, extra: str, environ: dict[str, str], line: int, field: str, words: str
) -> None:
    path = write(tmp_path, GITHUB + extra)

    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ=environ)

    assert problems(caught.value) == [(str(path), line, field)]
    assert words in str(caught.value)
    assert SECRET not in str(caught.value)
    assert "12345" not in str(caught.value)


def test_secrets_never_show_in_repr_or_str(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text(SECRET + "-pw")
    text = (
        GITHUB
        + f'[alerts.channels.hook]\ntype = "webhook"\nurl = "https://h.example/{SECRET}"\nsecret_env = "HOOK"\n'
        + '[alerts.channels.mail]\ntype = "email"\nsmtp_host = "smtp"\nsender = "o@a.com"\nsmtp_password_file = "pw"\n'
        + f'[server]\ntoken = "{SECRET}-server"\n'
    )

    settings = load_settings(
        write(tmp_path, text), environ={"OKRSYNC_SOURCES__GITHUB__TOKEN": SECRET, "HOOK": SECRET + "-hook"}
    )

    for shown in (
        repr(settings),
        str(settings),
        settings.model_dump_json(),
        repr(settings.sources["github"]),
    ):
        assert SECRET not in shown
    assert settings.alerts.channels["mail"].smtp_password is not None


# -- problems in plain words ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        ("[okrsync]\npoll_interval = 0\n", 2, "okrsync.poll_interval", "expected an integer ≥ 1, got 0"),
        ("[okrsync]\npoll_interval = 1.5\n", 2, "okrsync.poll_interval", "expected an integer ≥ 1, got 1.5"),
        ("[okrsync]\ntimezone = 'Mars/Base'\n", 2, "okrsync.timezone", "expected an IANA time zone"),
        ("[okrsync]\nlabel_prefix = ''\n", 2, "okrsync.label_prefix", "expected a non-empty string, got ''"),
        ("[okrsync]\nmapings = 'm'\n", 2, "okrsync.mapings", "unknown key; did you mean 'mappings'?"),
        ("[sourcs.github]\nkind = 'github'\n", 1, "sourcs", "unknown key; did you mean 'sources'?"),
        ("[sources.github]\nrepos = []\n", 1, "sources.github.kind", "missing; expected 'github' or 'jira'"),
        (
            "[sources.github]\nkind = 'github'\nrepos = [\n  'acme/web',\n  'web',\n]\n",
            5,
            "sources.github.repos[1]",
            "expected a repo as 'owner/name', got 'web'",
        ),
        (
            "[sources.github]\nkind = 'github'\nper_page = 500\n",
            3,
            "sources.github.per_page",
            "expected an integer from 1 to 100, got 500",
        ),
        (
            "[sources.github]\nkind = 'github'\ninclude_pull_requests = 'maybe'\n",
            3,
            "sources.github.include_pull_requests",
            "expected true or false, got 'maybe'",
        ),
        (
            "[sources.github]\nkind = 'github'\nname = 'x'\n",
            3,
            "sources.github.name",
            "unknown key; the name comes from the table name [sources.github]",
        ),
        (
            "[sources.jira]\nkind = 'jira'\nurl = 'acme.atlassian.net'\n",
            3,
            "sources.jira.url",
            "expected an http:// or https:// address",
        ),
        (
            "[people.bob]\nphone = '1'\n",
            2,
            "people.bob.phone",
            "unknown key; expected one of: name, email, slack",
        ),
        (
            "[alerts]\nconfidence_drop = 12\n",
            2,
            "alerts.confidence_drop",
            "expected an integer from 1 to 9, got 12",
        ),
        (
            "[alerts.channels.x]\ntype = 'pager'\n",
            2,
            "alerts.channels.x.type",
            "expected one of 'slack', 'email'",
        ),
        ("[alerts.channels.x]\ntype = 'email'\n", 1, "alerts.channels.x", "expected smtp_host and sender"),
        (
            "[alerts.channels.x]\ntype = 'slack'\n",
            1,
            "alerts.channels.x",
            "expected url (or url_env / url_file)",
        ),
        (
            "[alerts.channels.x]\ntype = 'log'\nto = 'a@b.c'\n",
            3,
            "alerts.channels.x.to",
            "expected a list of strings",
        ),
        ("[server]\nlisten = 'localhost'\n", 2, "server.listen", "expected host:port"),
        ("server = 5\n", 1, "server", "expected a table, got 5"),
    ],
)
def test_validation_errors_say_where_and_what_was_expected(
    tmp_path: Path, text: str, line: int, field: str, words: str
) -> None:
    path = write(tmp_path, text)

    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})

    assert problems(caught.value) == [(str(path), line, field)]
    assert words in caught.value.problems[0].message


def test_all_problems_are_reported_at_once_in_line_order(tmp_path: Path) -> None:
    text = "[okrsync]\npoll_interval = 0\ntimezone = 'X/Y'\n[server]\nlistn = '1'\n"

    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), environ={"OKRSYNC_ALERTS__SEND_BACKLOG": "perhaps"})

    assert [(p.line, p.field) for p in caught.value.problems] == [
        (2, "okrsync.poll_interval"),
        (3, "okrsync.timezone"),
        (5, "server.listn"),
        (None, "alerts.send_backlog"),
    ]


def test_settings_take_only_the_given_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OKRSYNC_OKRSYNC__POLL_INTERVAL", "7")

    assert Settings().okrsync.poll_interval == 300


# -- key positions --------------------------------------------------------------------------

POSITIONS = """\
[cycle]
id = "x"

[[objective]]
id = "A"
notes = \"\"\"
[[objective]]
id = "fake"
\"\"\"

[[objective]]
"quoted key" = 1
a.b = { c = 2 }

[[objective.key_result]]
id = "B.1"

[[objective.key_result]]

[[objective.key_result.link]]
source = "github"

[[objective.key_result.link]]
[[objective.key_result.link]]
tags = [
  "x",
  "y",
]
source = 'jira'
"""


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (("cycle", "id"), 2),
        (("cycle", "end"), 1),
        (("objective", 0, "id"), 5),
        (("objective", 1), 11),
        (("objective", 1, "quoted key"), 12),
        (("objective", 1, "a", "b", "c"), 13),
        (("objective", 1, "key_result", 0, "id"), 16),
        (("objective", 1, "key_result", 1, "owner"), 18),
        (("objective", 1, "key_result", 1, "link", 0, "source"), 21),
        (("objective", 1, "key_result", 1, "link", 1, "source"), 23),
        (("objective", 1, "key_result", 1, "link", 2, "source"), 29),
        (("objective", 1, "key_result", 1, "link", 2, "tags", 1), 27),
        (("nowhere",), 1),
    ],
)
def test_line_of_finds_nested_keys_or_the_enclosing_table(path: tuple[str | int, ...], line: int) -> None:
    assert line_of(POSITIONS, path) == line


# Statements the scanner reads in one step (`key = value` alone on its line, a comment aside)
# beside ones it must not: a value going on past its line, inline tables, dotted and quoted keys.
ONE_STEP = """\
a = 1 # a comment
b = "x # no comment" # a comment
c = "an \\" escaped quote"
[t]
d = 2026-10-01T09:00:00Z
e = [1,
  2]
f = { g = "h" }
i = \"\"\"
j = "not a key"
\"\"\"
k.l = 'm'
"n" = 3
"""


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["LF", "CRLF"])
@pytest.mark.parametrize(
    ("path", "line"),
    [
        (("a",), 1),
        (("b",), 2),
        (("c",), 3),
        (("t", "d"), 5),
        (("t", "e", 1), 7),
        (("t", "f", "g"), 8),
        (("t", "i"), 9),
        (("t", "j"), 4),
        (("t", "k", "l"), 12),
        (("t", "n"), 13),
    ],
)
def test_line_of_reads_one_line_statements_and_the_rest_alike(
    path: tuple[str | int, ...], line: int, newline: str
) -> None:
    assert tomllib.loads(ONE_STEP.replace("\n", newline))  # valid TOML, as line_of expects
    assert line_of(ONE_STEP.replace("\n", newline), path) == line


# In a child with 1 GB of address space: a scanner that loops on the broken array fails the
# test (MemoryError or timeout) instead of eating the machine's memory.
BROKEN_ARRAY = """
import resource
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from okrsync.tomlpos import line_of
text = 'a = 1\\nx = [1, }]\\ny = 2\\n'
print(line_of(text, ("x", 0)), line_of(text, ("y",)))
"""


def test_line_of_a_text_tomllib_rejects_stops_at_the_break() -> None:
    # `}` inside an array is no value and no separator: the scan keeps what it saw (x[0] on
    # line 2) and stops, so `y` falls back to the root table's line 1.
    done = subprocess.run(
        [sys.executable, "-c", BROKEN_ARRAY], capture_output=True, text=True, timeout=60, check=False
    )

    assert (done.returncode, done.stdout.split()) == (0, ["2", "1"]), done.stderr[-500:]


# -- shipped files --------------------------------------------------------------------------


def test_config_example_loads_cleanly_and_sets_every_key() -> None:
    environ = {"SLACK_WEBHOOK_URL": "https://hooks.slack.com/x", "OKR_HOOK_SECRET": "k", "SMTP_PASSWORD": "p"}

    settings = load_settings(REPO_ROOT / "config.example.toml", environ=environ)

    assert settings.okrsync.timezone == "Europe/Berlin"
    assert set(settings.sources) == {"github", "jira"}
    assert {c.type for c in settings.alerts.channels.values()} == {
        "slack",
        "webhook",
        "email",
        "apprise",
        "log",
    }
    text = (REPO_ROOT / "config.example.toml").read_text()
    for cls in (GitHubSource, JiraSource):
        for key in cls.model_fields:
            if key != "name":
                assert f"{key} =" in text or f"{key}_env =" in text or f"{key}_file =" in text, key


def test_init_writes_a_pair_that_loads_cleanly(tmp_path: Path) -> None:
    written = init_project(tmp_path / "new", today=date(2026, 11, 22))

    assert written == [tmp_path / "new/config.toml", tmp_path / "new/mappings/example.toml"]
    settings = load_settings(written[0], environ={})
    okrs = load_okrs(settings.okrsync.mappings, settings=settings)
    assert list(okrs.cycles) == ["2026-Q4"]
    assert list(okrs.key_results) == ["EX-1.1", "EX-1.2"]
    assert okrs.warnings == ()


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    write(tmp_path, "# mine\n")

    with pytest.raises(ConfigError) as caught:
        init_project(tmp_path)

    assert "never overwrites" in str(caught.value)
    assert (tmp_path / "config.toml").read_text() == "# mine\n"
    assert not (tmp_path / "mappings").exists()


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 1, 1), ("2026-Q1", date(2026, 1, 1), date(2026, 3, 31))),
        (date(2026, 6, 30), ("2026-Q2", date(2026, 4, 1), date(2026, 6, 30))),
        (date(2026, 12, 31), ("2026-Q4", date(2026, 10, 1), date(2026, 12, 31))),
    ],
)
def test_quarter_of(day: date, expected: tuple[str, date, date]) -> None:
    assert quarter_of(day) == expected
