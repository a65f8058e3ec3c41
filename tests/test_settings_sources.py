"""Which source wins (SPEC §3): given values, then OKRSYNC_* variables, then the secrets folder,
then config.toml, then the defaults; and where each source's problems are reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from okrsync.errors import ConfigError
from okrsync.settings import load_settings

SECRET = "s3cr3t-from-a-mounted-file"
VARIABLE = "OKRSYNC_OKRSYNC__POLL_INTERVAL"


@pytest.mark.parametrize(
    ("given", "env", "secret", "file", "expected"),
    [
        (11, 22, 33, 44, 11),
        (None, 22, 33, 44, 22),
        (None, None, 33, 44, 33),
        (None, None, None, 44, 44),
        (None, None, None, None, 300),
        (11, None, None, None, 11),
        (None, 22, None, 44, 22),
        (None, None, 33, None, 33),
    ],
)
def test_source_precedence(
    tmp_path: Path, given: int | None, env: int | None, secret: int | None, file: int | None, expected: int
) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    if secret is not None:
        (secrets / VARIABLE).write_text(f"{secret}\n")
    config = tmp_path / "config.toml"
    config.write_text(
        "[okrsync]\ntimezone = 'Europe/Berlin'\n" + (f"poll_interval = {file}\n" if file else "")
    )

    settings = load_settings(
        config,
        environ={VARIABLE: str(env)} if env is not None else {},
        secrets_dir=secrets,
        overrides={"okrsync": {"poll_interval": given}} if given is not None else None,
    )

    assert settings.okrsync.poll_interval == expected
    assert settings.okrsync.timezone == "Europe/Berlin"  # every layer merges into the file's table


def test_a_secret_file_merges_into_the_file_table_and_never_shows(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "okrsync_sources__github__token").write_text(SECRET + "\n")
    (secrets / "unrelated_db_password").write_text("not ours")
    config = tmp_path / "config.toml"
    config.write_text('[sources.github]\nkind = "github"\nrepos = ["acme/web"]\ntoken_file = "missing"\n')

    settings = load_settings(config, environ={"OKRSYNC_SECRETS_DIR": str(secrets)})

    github = settings.sources["github"]
    assert github.token is not None and github.token.get_secret_value() == SECRET  # beats token_file
    assert github.repos == ["acme/web"]
    assert SECRET not in repr(settings) and SECRET not in settings.model_dump_json()


def test_a_list_from_a_secret_file_takes_commas(tmp_path: Path) -> None:
    (tmp_path / "OKRSYNC_SOURCES__GITHUB__REPOS").write_text("a/b, c/d")
    config = tmp_path / "config.toml"
    config.write_text('[sources.github]\nkind = "github"\n')

    settings = load_settings(config, environ={}, secrets_dir=tmp_path)

    assert settings.sources["github"].repos == ["a/b", "c/d"]


def test_problems_name_the_secret_file_the_variable_and_the_line(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "OKRSYNC_SERVER__LISTEN").write_text("9464")
    (secrets / "OKRSYNC_SERVR__TOKEN").write_text(SECRET)
    config = tmp_path / "config.toml"
    config.write_text("[okrsync]\npoll_interval = 0\n")

    with pytest.raises(ConfigError) as caught:
        load_settings(config, environ={"OKRSYNC_ALERTS__DIGEST_HOUR": "25"}, secrets_dir=secrets)

    assert [(p.file, p.line, p.field) for p in caught.value.problems] == [
        (str(config), 2, "okrsync.poll_interval"),
        (str(secrets / "OKRSYNC_SERVER__LISTEN"), None, "server.listen"),
        (str(secrets / "OKRSYNC_SERVR__TOKEN"), None, "servr"),
        ("$OKRSYNC_ALERTS__DIGEST_HOUR", None, "alerts.digest_hour"),
    ]
    assert SECRET not in str(caught.value)


def test_a_missing_secrets_folder_is_no_error(tmp_path: Path) -> None:
    assert load_settings(None, environ={}, secrets_dir=tmp_path / "none").okrsync.poll_interval == 300


def test_a_secrets_folder_that_is_a_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "secrets").write_text("not a folder")

    with pytest.raises(ConfigError) as caught:
        load_settings(None, environ={}, secrets_dir=tmp_path / "secrets")

    (problem,) = caught.value.problems
    assert (problem.file, problem.field) == (str(tmp_path / "secrets"), "secrets folder")
    assert "directory" in problem.message


def test_an_override_beats_a_secret_reference_in_the_file_and_its_problems_say_so(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[sources.github]\nkind = "github"\ntoken_file = "missing"\n')

    settings = load_settings(config, environ={}, overrides={"sources": {"github": {"token": SECRET}}})
    token = settings.sources["github"].token
    assert token is not None and token.get_secret_value() == SECRET

    with pytest.raises(ConfigError) as caught:
        load_settings(None, environ={}, overrides={"okrsync": {"poll_interval": 0}})
    assert [(p.file, p.field) for p in caught.value.problems] == [("<overrides>", "okrsync.poll_interval")]


def test_an_empty_part_in_a_variable_name_is_named_as_written(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, environ={"OKRSYNC_Server____Listen": "0.0.0.0:1"})

    (problem,) = caught.value.problems
    assert (problem.file, problem.field) == ("$OKRSYNC_Server____Listen", "OKRSYNC_Server____Listen")
    assert "double '__'" in problem.message
