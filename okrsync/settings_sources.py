"""Where settings come from besides defaults: config.toml, OKRSYNC_* variables, a secrets folder.

Each is a pydantic-settings source, and pydantic-settings layers them (`Settings.
settings_customise_sources`). What okrsync adds to its stock sources:

- the TOML file is read with `load_toml`, so a syntax error names its line, a byte-order mark
  is accepted and a missing `--config` file is an error rather than an empty config;
- variables and secret files are named like the variables (`OKRSYNC_SOURCES__GITHUB__TOKEN`,
  or that name as a file in the secrets folder), matched case-insensitively, and their keys are
  respelled the way the file writes them, `_` standing for `-`
  (`OKRSYNC_ALERTS__CHANNELS__TEAM_SLACK__URL` reaches `[alerts.channels.team-slack]`), so they
  merge into the file's tables instead of starting new ones;
- each source keeps `origins` (key path -> `$VARIABLE` or the secret file's path), because a
  message must say where a bad value came from, and merged values no longer know;
- a nested name whose section does not exist (`OKRSYNC_SERVR__LISTEN`) is a problem, to catch
  typos; a name without `__` that names no section (`OKRSYNC_CONFIG`) is not a setting.

Values stay text here (`enable_decoding=False`): `load_settings` turns a list's text into a
list, from JSON or commas, where it can say which variable held bad JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NestedSecretsSettingsSource,
    SecretsSettingsSource,
    TomlConfigSettingsSource,
)

from okrsync.errors import Problem
from okrsync.tomlpos import KeyPath, load_toml, unknown_key_message

ENV_PREFIX = "OKRSYNC_"
DELIMITER = "__"


class TomlFileSource(TomlConfigSettingsSource):
    """config.toml (none: `path` is None); `text` keeps the file for `line_of`."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        self.path = path
        self.text = ""
        super().__init__(settings_cls, toml_file=path)

    def _read_files(self, files: Any, deep_merge: bool = False) -> dict[str, Any]:
        if self.path is None:
            return {}
        data, self.text = load_toml(self.path)  # raises InputError naming the file and line
        return data


class _Located:
    """What the environment and the secrets folder share: origins, respelling, name checks."""

    labels: dict[str, str]  # lower-case name -> how a message names it
    origins: dict[KeyPath, str]
    problems: list[Problem]
    file_data: dict[str, Any]
    settings_cls: type[BaseSettings]

    def _place(self, data: dict[str, Any]) -> dict[str, Any]:
        self._check_names()
        return self._respell(data, self.file_data, (), ())

    def _respell(
        self, data: dict[str, Any], beside: Any, raw: tuple[str, ...], path: KeyPath
    ) -> dict[str, Any]:
        """Rename keys to `beside`'s spelling and record the origin of every leaf value."""
        out: dict[str, Any] = {}
        for key, value in data.items():
            name = key
            if isinstance(beside, dict):
                name = next((k for k in beside if _norm(k) == _norm(key)), key)
            here = (*path, name)
            if isinstance(value, dict) and value:
                inner = beside.get(name) if isinstance(beside, dict) else None
                out[name] = self._respell(value, inner, (*raw, key), here)
            else:
                out[name] = value
                var = ENV_PREFIX.lower() + DELIMITER.join((*raw, key))
                self.origins[here] = self.labels.get(var, var.upper())
        return out

    def _check_names(self) -> None:
        sections = list(self.settings_cls.model_fields)
        for lower, label in self.labels.items():
            if not lower.startswith(ENV_PREFIX.lower()):
                continue
            parts = lower[len(ENV_PREFIX) :].split(DELIMITER)
            if parts[0] not in sections:
                if len(parts) > 1:  # OKRSYNC_LOG_FORMAT and the like belong to other parts of okrsync
                    self.problems.append(
                        Problem(label, None, parts[0], unknown_key_message(parts[0], sections))
                    )
            elif any(not p for p in parts):
                name = label.lstrip("$").rpartition("/")[2]  # as written, without the folder
                self.problems.append(Problem(label, None, name, "expected parts separated by a double '__'"))


class EnvironmentSource(_Located, EnvSettingsSource):
    """OKRSYNC_* variables of `environ` (tests pass their own; the daemon, `os.environ`)."""

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        environ: Mapping[str, str],
        *,
        file_data: dict[str, Any],
    ) -> None:
        self.environ, self.file_data = environ, file_data
        self.labels, self.origins, self.problems = {}, {}, []
        super().__init__(
            settings_cls, case_sensitive=False, env_prefix=ENV_PREFIX, env_nested_delimiter=DELIMITER
        )

    def _load_env_vars(self) -> Mapping[str, str | None]:
        self.labels = {name.lower(): f"${name}" for name in self.environ}
        return {name.lower(): value for name, value in self.environ.items() if not _malformed(name)}

    def __call__(self) -> dict[str, Any]:
        return self._place(super().__call__())


class SecretsDirSource(_Located, NestedSecretsSettingsSource):
    """Files named like the variables in a secrets folder (`/run/secrets`, as Docker and
    Kubernetes mount them); a missing folder is no error, as most runs have none."""

    def __init__(self, settings_cls: type[BaseSettings], folder: Path, *, file_data: dict[str, Any]) -> None:
        self.file_data = file_data
        self.labels, self.origins, self.problems = {}, {}, []
        super().__init__(
            SecretsSettingsSource(settings_cls),
            secrets_dir=folder,
            secrets_dir_missing="ok",
            secrets_prefix=ENV_PREFIX,
            secrets_nested_delimiter=DELIMITER,
            secrets_case_sensitive=False,
        )

    def _load_env_vars(self) -> Mapping[str, str | None]:
        found: dict[str, str | None] = {}
        for folder in self.secrets_paths:
            if folder.is_dir():
                for name, value in self.load_secrets(folder).items():
                    if not _malformed(name):
                        found[name.lower()] = value
                    self.labels[name.lower()] = str(folder / name)
        return found

    def __call__(self) -> dict[str, Any]:
        return self._place(super().__call__())


def _malformed(name: str) -> bool:
    """`OKRSYNC_SERVER____LISTEN`: a part is empty; reported by `_check_names`, never applied."""
    lower = name.lower()
    return lower.startswith(ENV_PREFIX.lower()) and "" in lower[len(ENV_PREFIX) :].split(DELIMITER)


def _norm(key: str) -> str:
    return key.lower().replace("-", "_")
