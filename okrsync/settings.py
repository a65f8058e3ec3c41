"""Typed, validated `Settings` from config.toml, the OKRSYNC_* environment and a secrets folder.

Order (SPEC §3), highest first: `OKRSYNC_*` variables, files of the secrets folder
(/run/secrets, as Docker and Kubernetes mount them), config.toml, the defaults.
pydantic-settings layers these sources (see `okrsync.settings_sources`); values merge deep, so
`OKRSYNC_SOURCES__GITHUB__TOKEN` sets `token` inside the file's `[sources.github]` and keeps
its other keys. A variable's name below the prefix is a key path split on `__`, matched to the
file's keys case-insensitively, `_` standing for `-`. A variable for a list takes JSON
(`["a/b","c/d"]`) or comma-separated values. Variables without `__` that name no section
(`OKRSYNC_CONFIG`, `OKRSYNC_LOG_FORMAT`, `OKRSYNC_SECRETS_DIR`) are read elsewhere; a nested one
with an unknown section is an error, to catch typos.

Every problem is reported at once, each with where its value came from: the file's line, the
variable's name or the secret file's path (`_Load.where`), never with the value of a secret.

Secrets (`SecretStr` fields) may also be written as `x_env` (the name of a variable) or
`x_file` (a file holding the secret; a relative path is resolved against the config file's
folder). Both are resolved at load, so the rest of okrsync only sees `x`.

Relative paths (the SQLite file in `database_url`, `mappings`, `x_file`) are resolved against
the config file's folder, or the working directory when there is no file, so the daemon does
not depend on where it was started.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from okrsync.errors import ConfigError, InputError, Problem
from okrsync.extras import missing_extras
from okrsync.pydantic_words import describe, flat_types
from okrsync.settings_sources import ENV_PREFIX, EnvironmentSource, SecretsDirSource, TomlFileSource
from okrsync.tomlpos import KeyPath, line_of, show_value, unknown_key_message

CONFIG_ENV = "OKRSYNC_CONFIG"
DEFAULT_CONFIG = Path("config.toml")
SECRETS_DIR_ENV = "OKRSYNC_SECRETS_DIR"
DEFAULT_SECRETS_DIR = Path("/run/secrets")

_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_SQLITE_URL = re.compile(r"(sqlite(?:\+\w+)?):///(.*)", re.DOTALL)


class _Section(BaseModel):
    """A config table: unknown keys are errors and values never change after load."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        msg = f"expected an http:// or https:// address, got {value!r}"
        raise ValueError(msg)
    return value.rstrip("/")


def _owner_name(value: str) -> str:
    if not _REPO.fullmatch(value):
        msg = f"expected a repo as 'owner/name', got {value!r}"
        raise ValueError(msg)
    return value


Repo = Annotated[str, AfterValidator(_owner_name)]


class OkrsyncSection(_Section):
    """`[okrsync]`: where state and mappings live, and how often to poll."""

    database_url: str = "sqlite:///okrsync.db"
    """SQLAlchemy URL; a relative SQLite path is made absolute against the config folder."""
    mappings: Path = Path("mappings")
    """Folder of mappings/*.toml; made absolute against the config folder."""
    timezone: str = "UTC"
    """IANA zone in which due dates are calendar days (SPEC §2, Time)."""
    poll_interval: int = Field(default=300, ge=1)
    """Seconds between two sync cycles of the daemon."""
    label_prefix: str = Field(default="kr:", min_length=1)
    """Prefix of tracker labels that link an issue to a KR (`kr:ENG-1.1`)."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            msg = f"expected an IANA time zone such as 'Europe/Berlin' or 'UTC', got {value!r}"
            raise ValueError(msg) from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        """The configured zone, for turning due dates into instants."""
        return ZoneInfo(self.timezone)


class SourceBase(_Section):
    """What every tracker source has: a name, a token, and bounds on waiting."""

    name: str = ""
    """The source's table name (`[sources.<name>]`); set at load, not written by users."""
    token: SecretStr | None = None
    """API token (GitHub) or API token / personal access token (Jira)."""
    timeout: float = Field(default=30, gt=0)
    """Seconds before one HTTP request is abandoned."""
    overlap_seconds: int = Field(default=300, ge=0)
    """Each incremental poll re-reads this many seconds before the cursor (SPEC §6)."""
    max_rate_limit_wait: float = Field(default=60, ge=0)
    """Longest wait for a rate limit to lift before the source fails this cycle."""


class GitHubSource(SourceBase):
    """`[sources.<name>]` with `kind = "github"`: github.com or GitHub Enterprise."""

    kind: Literal["github"] = "github"
    base_url: str = "https://api.github.com"
    """API root; GitHub Enterprise: https://host/api/v3."""
    repos: list[Repo] = []
    """Repos (`owner/name`) scanned for `kr:` labels, besides the repos of mapped milestones."""
    include_pull_requests: bool = False
    """Count pull requests as issues (left out by default, SPEC §2)."""
    app_id: int | None = None
    """GitHub App auth: the app's id (with app_private_key and installation_id)."""
    app_private_key: SecretStr | None = None
    """GitHub App auth: the app's PEM private key."""
    installation_id: int | None = None
    """GitHub App auth: the installation on the organisation."""
    per_page: int = Field(default=100, ge=1, le=100)
    """Items per list page (GitHub allows at most 100)."""
    concurrency: int = Field(default=2, ge=1, le=4)
    """Repos fetched at once (1 = serial); GitHub asks for few concurrent requests."""
    deleted_check_interval: int = Field(default=3600, ge=0)
    """Seconds between two full listings of a repo's issues that find deleted and moved ones."""

    _base_url = field_validator("base_url")(_http_url)

    @model_validator(mode="after")
    def _one_auth(self) -> GitHubSource:
        app = (self.app_id, self.app_private_key, self.installation_id)
        given = sum(v is not None for v in app)
        if given not in (0, 3):
            msg = "expected app_id, app_private_key and installation_id together (GitHub App auth)"
            raise ValueError(msg)
        if given == 3 and self.token is not None:
            msg = "expected either a token or GitHub App auth, not both"
            raise ValueError(msg)
        return self


DEFAULT_EXCLUDED_RESOLUTIONS = ("Won't Do", "Won't Fix", "Duplicate", "Cannot Reproduce")


class JiraSource(SourceBase):
    """`[sources.<name>]` with `kind = "jira"`: Jira Cloud or Data Center."""

    kind: Literal["jira"] = "jira"
    url: str
    """Site address, e.g. https://acme.atlassian.net."""
    email: str | None = None
    """Cloud: the account's email (basic auth with the API token); leave out for a DC PAT."""
    projects: list[str] = []
    """Project keys scanned for `kr:` labels, besides the projects of mapped links."""
    story_points_field: str = "auto"
    """Story points field id (`customfield_10016`), or `auto` to find it via /rest/api/2/field."""
    excluded_resolutions: list[str] = list(DEFAULT_EXCLUDED_RESOLUTIONS)
    """Done issues with these resolutions are out of scope, not done (SPEC §2)."""
    include_subtasks: bool = False
    """Count sub-tasks (left out by default: they would count twice)."""
    deleted_check_interval: int = Field(default=3600, ge=0)
    """Seconds between two id-only searches that find deleted issues."""

    _url = field_validator("url")(_http_url)


SOURCE_KINDS: dict[str, type[GitHubSource] | type[JiraSource]] = {
    "github": GitHubSource,
    "jira": JiraSource,
}
Source = Annotated[GitHubSource | JiraSource, Field(discriminator="kind")]


class Person(_Section):
    """`[people.<id>]`: how to reach an owner named in the mappings."""

    id: str = ""
    """The table name, as used in `owner = "<id>"`; set at load."""
    name: str | None = None
    email: str | None = None
    slack: str | None = None
    """Slack member id (U024BE7LH), for mentions."""


ChannelType = Literal["slack", "email", "webhook", "apprise", "log"]


class ChannelSettings(_Section):
    """`[alerts.channels.<name>]`: one way alerts leave okrsync."""

    name: str = ""
    """The table name; set at load."""
    type: ChannelType
    url: SecretStr | None = None
    """Slack incoming-webhook URL, webhook endpoint or Apprise URL; a secret (it grants access)."""
    secret: SecretStr | None = None
    """Webhook: signs each POST with HMAC-SHA256 (SPEC §5)."""
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    starttls: bool = False
    sender: str | None = None
    """Email: the From address."""
    to: list[str] = []
    """Email: fixed recipients, who get every alert besides the KR owner."""

    @model_validator(mode="after")
    def _needs(self) -> ChannelSettings:
        if self.type in ("slack", "webhook", "apprise") and self.url is None:
            msg = f"expected url (or url_env / url_file) for a {self.type} channel"
            raise ValueError(msg)
        if self.type == "email" and (self.smtp_host is None or self.sender is None):
            msg = "expected smtp_host and sender for an email channel"
            raise ValueError(msg)
        return self


Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class AlertsSection(_Section):
    """`[alerts]`: which slow-burning conditions alert, and through which channels."""

    stale_after_days: int = Field(default=21, ge=1)
    """A KR below 1 whose progress has not moved for this many days raises kr.stale."""
    confidence_drop: int = Field(default=3, ge=1, le=9)
    """A confidence fall of this much within 14 days raises kr.confidence_drop."""
    send_backlog: bool = False
    """On a new database, also send events whose onset is before today."""
    digest_day: Weekday = "monday"
    """Day of the week the weekly digest (digest.weekly) goes to each KR owner."""
    digest_hour: int = Field(default=9, ge=0, le=23)
    """Hour of `digest_day`, in the configured timezone, from which the digest is sent."""
    channels: dict[str, ChannelSettings] = {}

    @field_validator("digest_day", mode="before")
    @classmethod
    def _weekday_any_case(cls, value: Any) -> Any:
        """Accept "Monday" as well as "monday": the day is a name, not an identifier."""
        if isinstance(value, str) and value.strip().lower() in get_args(Weekday):
            return value.strip().lower()
        return value  # left as written, so the error message shows what the user typed


class ServerSection(_Section):
    """`[server]`: the HTTP server of `okrsync run` (/healthz, /metrics, the report)."""

    listen: str = "127.0.0.1:9464"
    """host:port; loopback by default so nothing is exposed by accident."""
    token: SecretStr | None = None
    """A Bearer token the server asks clients for, when set."""

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            msg = f"expected host:port such as '127.0.0.1:9464', got {value!r}"
            raise ValueError(msg)
        return value

    @property
    def host(self) -> str:
        """The host part, without IPv6 brackets."""
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


class Settings(BaseSettings):
    """Everything in config.toml, after the environment, secret files and references are applied.

    Build it with `load_settings`, which layers the sources, validates everything and reports
    every problem with its origin; outside it, `Settings(**values)` only validates the values
    it is given.
    """

    model_config = SettingsConfigDict(
        extra="forbid",
        frozen=True,
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        enable_decoding=False,
        use_attribute_docstrings=True,
    )

    okrsync: OkrsyncSection = OkrsyncSection()
    sources: dict[str, Source] = {}
    """Trackers by name; the name is what links refer to (`source = "github"`)."""
    people: dict[str, Person] = {}
    """Owners by id; the id is what `owner` refers to in the mappings."""
    alerts: AlertsSection = AlertsSection()
    server: ServerSection = ServerSection()

    _config_path: Path | None = PrivateAttr(None)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Highest first: given values, OKRSYNC_* variables, the secrets folder, config.toml.

        Only while `load_settings` runs: it chooses the file, the environment and the folder,
        and must know each value's origin; elsewhere a Settings is a plain model of its values.
        """
        load = _LOADING.get()
        if load is None:
            return (init_settings,)
        return (init_settings, load.env, load.secrets, load.file)

    @model_validator(mode="before")
    @classmethod
    def _prepare(cls, data: Any) -> Any:
        """Turn the merged values into what the models validate (see `_Load.prepare`)."""
        load = _LOADING.get()
        return load.prepare(data) if load is not None and isinstance(data, dict) else data

    @property
    def config_path(self) -> Path | None:
        """The file these settings were read from, if any."""
        return self._config_path


def find_config(cli_path: Path | None, *, environ: Mapping[str, str] | None = None) -> Path | None:
    """Choose the config file: `--config`, else `$OKRSYNC_CONFIG`, else ./config.toml if present.

    An explicit path is returned even when missing, so loading it fails loudly; only the
    implicit ./config.toml may be absent (None: run on defaults and the environment).
    """
    env = os.environ if environ is None else environ
    if cli_path is not None:
        return cli_path
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV])
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


def load_settings(
    path: Path | None,
    *,
    environ: Mapping[str, str] | None = None,
    secrets_dir: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Read `path` (None: no file), the OKRSYNC_* variables of `environ` and the secrets folder,
    layer them under `overrides`, validate, resolve paths.

    The secrets folder is `secrets_dir`, else `$OKRSYNC_SECRETS_DIR`, else /run/secrets.
    Raises ConfigError with every problem found, each naming the file and line (or the
    variable, or the secret file), the dotted key and what was expected.
    """
    env: Mapping[str, str] = os.environ if environ is None else environ
    try:
        file = TomlFileSource(Settings, path)
    except InputError as exc:
        raise ConfigError(exc.problems) from None
    folder = secrets_dir or Path(env.get(SECRETS_DIR_ENV) or DEFAULT_SECRETS_DIR)
    base_dir = (path.parent if path is not None else Path.cwd()).absolute()
    load = _Load(
        display=str(path) if path is not None else "<defaults>",
        file=file,
        env=EnvironmentSource(Settings, env, file_data=file.toml_data),
        secrets=SecretsDirSource(Settings, folder, file_data=file.toml_data),
        environ=env,
        base_dir=base_dir,
    )
    settings: Settings | None = None
    token = _LOADING.set(load)
    try:
        settings = Settings(**dict(overrides or {}))
    except ValidationError as exc:
        load.problems.extend(load.translate(err) for err in exc.errors())
    finally:
        _LOADING.reset(token)
    problems = load.env.problems + load.secrets.problems + load.problems
    if settings is not None:
        channels = {name: channel.type for name, channel in settings.alerts.channels.items()}
        for kpath, message in missing_extras(settings.okrsync.database_url, channels):
            problems.append(Problem(*load.where(kpath), _dotted(kpath), message))
    if problems or settings is None:
        raise ConfigError(sorted(problems, key=load.order))

    section = settings.okrsync
    resolved = section.model_copy(
        update={
            "mappings": _absolute(section.mappings, base_dir),
            "database_url": resolve_sqlite_url(section.database_url, base_dir=base_dir),
        }
    )
    settings = settings.model_copy(update={"okrsync": resolved})
    settings._config_path = path
    return settings


def resolve_sqlite_url(url: str, *, base_dir: Path) -> str:
    """Make a relative SQLite path absolute against `base_dir`; leave every other URL alone."""
    match = _SQLITE_URL.fullmatch(url)
    if match is None:
        return url
    scheme, rest = match[1], match[2]
    file_part, sep, query = rest.partition("?")
    if file_part in ("", ":memory:") or file_part.startswith(("/", "file:")):
        return url
    return f"{scheme}:///{_absolute(Path(file_part), base_dir)}{sep}{query}"


def _absolute(path: Path, base_dir: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() else base_dir / path


# -- one load: the sources, where each value came from, the problems found -----------------


@dataclass
class _Load:
    """The sources of one `load_settings` call, and what it learns while validating."""

    display: str
    file: TomlFileSource
    env: EnvironmentSource
    secrets: SecretsDirSource
    environ: Mapping[str, str]
    base_dir: Path
    data: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def add(self, path: KeyPath, message: str) -> None:
        """Record a problem at `path`, located at the variable, secret file or line that set it."""
        self.problems.append(Problem(*self.where(path), _dotted(path), message))

    def where(self, path: KeyPath) -> tuple[str, int | None]:
        for n in range(len(path), 0, -1):
            for source in (self.env, self.secrets):
                origin = source.origins.get(path[:n])
                if origin is not None:
                    return origin, None
        if self.file.text:
            return self.display, line_of(self.file.text, path)
        return self.display, None

    def rank(self, path: KeyPath) -> int:
        """Which source set `path`: 0 the environment, 1 the secrets folder, 2 the file."""
        return 0 if path in self.env.origins else 1 if path in self.secrets.origins else 2

    def order(self, problem: Problem) -> tuple[bool, bool, str, int]:
        """The file's problems first, in line order, then secret files', then variables'."""
        return (problem.file != self.display, problem.file.startswith("$"), problem.file, problem.line or 0)

    def prepare(self, data: dict[str, Any]) -> dict[str, Any]:
        """Decode variables' text, resolve secret references, name the tables from their keys."""
        self.data = data
        self._decode_text()
        for tpath, cls, table in list(_tables(data)):
            hidden = _TABLE_NAME_KEY.get(cls)
            if hidden is not None and hidden in table:
                del table[hidden]
                self.add(
                    (*tpath, hidden),
                    f"unknown key; the {hidden} comes from the table name [{_dotted(tpath)}]",
                )
            self._resolve_secrets(tpath, cls, table)
            if hidden is not None:
                table[hidden] = tpath[-1]
        return data

    def _decode_text(self) -> None:
        """A list or table set by a variable or secret file is text: JSON, or commas for a list."""
        for path in [*self.env.origins, *self.secrets.origins]:
            located = _field_at(self.data, path)
            try:
                parent = _get(self.data, path[:-1])
                raw = parent[path[-1]]
            except (KeyError, TypeError):
                continue
            if located is None or located[2] or not isinstance(raw, str):
                continue
            kinds = flat_types(located[0].model_fields[located[1]].annotation)
            if list in kinds and not raw.lstrip().startswith("["):
                parent[path[-1]] = [item.strip() for item in raw.split(",") if item.strip()]
            elif list in kinds or dict in kinds or any(_is_model(t) for t in kinds):
                try:
                    parent[path[-1]] = json.loads(raw)
                except ValueError:
                    del parent[path[-1]]
                    self.add(path, "expected JSON (a list or an object)")

    def _resolve_secrets(self, tpath: KeyPath, cls: type[BaseModel], table: dict[str, Any]) -> None:
        """Replace `x_env` / `x_file` by the secret `x` they point at; never echo the secret.

        Of two forms, the one from the higher source wins (OKRSYNC_SOURCES__GITHUB__TOKEN
        overrides the file's token_file); two from the same source are an error.
        """
        for name in _secret_fields(cls):
            forms = [k for k in (name, f"{name}_env", f"{name}_file") if k in table]
            if len(forms) > 1:
                best = min(self.rank((*tpath, k)) for k in forms)
                winners = [k for k in forms if self.rank((*tpath, k)) == best]
                for k in forms:
                    if len(winners) > 1 or k != winners[0]:
                        del table[k]
                if len(winners) > 1:
                    self.add((*tpath, forms[1]), f"expected only one of {name}, {name}_env or {name}_file")
                    continue
                forms = winners
            if not forms or forms[0] == name:
                continue
            key = forms[0]
            ref = table.pop(key)
            kpath = (*tpath, key)
            if key.endswith("_env"):
                if not isinstance(ref, str) or not ref:
                    self.add(kpath, "expected the name of an environment variable")
                elif ref not in self.environ:
                    self.add(kpath, f"environment variable {ref} is not set")
                elif not self.environ[ref]:
                    self.add(kpath, f"environment variable {ref} is empty")
                else:
                    table[name] = self.environ[ref]
                continue
            if not isinstance(ref, str) or not ref:
                self.add(kpath, "expected the path of a file holding the secret")
                continue
            secret_path = _absolute(Path(ref), self.base_dir)
            try:
                value = secret_path.read_text(encoding="utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                self.add(kpath, f"expected a UTF-8 text file at {str(secret_path)!r}")
            except OSError as exc:
                self.add(kpath, f"cannot read {str(secret_path)!r}: {exc.strerror or type(exc).__name__}")
            else:
                if value:
                    table[name] = value
                else:
                    self.add(kpath, f"the file {str(secret_path)!r} is empty")

    def translate(self, err: Any) -> Problem:
        """Turn one pydantic error into a Problem that says what was expected, in plain words."""
        path = _clean_loc(self.data, err["loc"])
        kind = err["type"]
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            path = (*path, "kind")
            expected = " or ".join(repr(k) for k in SOURCE_KINDS)
            got = err.get("input", {}).get("kind") if isinstance(err.get("input"), dict) else None
            message = f"missing; expected {expected}"
            if got is not None:
                message = f"expected {expected}, got {show_value(got)}"
            return Problem(*self.where(path), _dotted(path), message)
        if kind == "value_error":
            # Our validators already speak plainly; pydantic prefixes "Value error, ".
            message = str(err.get("ctx", {}).get("error", err["msg"]))
            return Problem(*self.where(path), _dotted(path), message)
        if kind == "extra_forbidden":
            table_cls = next((cls for tpath, cls, _ in _tables(self.data) if tpath == path[:-1]), Settings)
            message = unknown_key_message(str(path[-1]), _known_keys(table_cls))
            return Problem(*self.where(path), _dotted(path), message)
        located = _field_at(self.data, path)
        expected, secret = "a valid value", False
        if located is not None:
            cls, name, rest = located
            info = cls.model_fields[name]
            secret = SecretStr in flat_types(info.annotation)
            expected = describe(info.annotation, info.metadata, depth=len(rest))
        if kind == "missing":
            message = f"missing; expected {expected}"
        elif secret:
            message = f"expected {expected}"
        else:
            message = f"expected {expected}, got {show_value(err.get('input'))}"
        return Problem(*self.where(path), _dotted(path), message)


_LOADING: ContextVar[_Load | None] = ContextVar("okrsync_settings_load", default=None)


def _dotted(path: KeyPath) -> str:
    """Format a key path the way users write it: `sources.github.repos[0]`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else json.dumps(part)
            out += f".{name}" if out else name
    return out


# -- the model tree, walked over the raw values ---------------------------------------------


def _tables(data: dict[str, Any]) -> Iterator[tuple[KeyPath, type[BaseModel], dict[str, Any]]]:
    """Yield every table of the raw values with the model that validates it."""
    yield (), Settings, data
    for key, cls in (("okrsync", OkrsyncSection), ("alerts", AlertsSection), ("server", ServerSection)):
        if isinstance(data.get(key), dict):
            yield (key,), cls, data[key]
    for name, table in _subtables(data.get("sources")):
        kind = table.get("kind")
        kind_cls = SOURCE_KINDS.get(kind) if isinstance(kind, str) else None
        if kind_cls is not None:
            yield ("sources", name), kind_cls, table
    for name, table in _subtables(data.get("people")):
        yield ("people", name), Person, table
    alerts = data.get("alerts")
    if isinstance(alerts, dict):
        for name, table in _subtables(alerts.get("channels")):
            yield ("alerts", "channels", name), ChannelSettings, table


def _subtables(value: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(value, dict):
        for name, table in value.items():
            if isinstance(table, dict):
                yield name, table


# Keys okrsync fills from the table name; a user writing them has misunderstood the format.
_TABLE_NAME_KEY: dict[type[BaseModel], str] = {
    GitHubSource: "name",
    JiraSource: "name",
    ChannelSettings: "name",
    Person: "id",
}


def _secret_fields(cls: type[BaseModel]) -> list[str]:
    return [name for name, info in cls.model_fields.items() if SecretStr in flat_types(info.annotation)]


def _known_keys(cls: type[BaseModel]) -> list[str]:
    """The keys a user may write in the table `cls` validates."""
    hidden = _TABLE_NAME_KEY.get(cls)
    keys = [name for name in cls.model_fields if name != hidden]
    for name in _secret_fields(cls):
        keys += [f"{name}_env", f"{name}_file"]
    return keys


def _is_model(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, BaseModel)


def _get(data: dict[str, Any], path: KeyPath) -> Any:
    node: Any = data
    for part in path:
        node = node[part]
    return node


def _field_at(data: dict[str, Any], path: KeyPath) -> tuple[type[BaseModel], str, KeyPath] | None:
    """Find the model field a key path lands in: (model, field, rest of path inside it)."""
    best: tuple[type[BaseModel], str, KeyPath] | None = None
    best_depth = -1
    for tpath, cls, _ in _tables(data):
        n = len(tpath)
        if n > best_depth and len(path) > n and path[:n] == tpath and path[n] in cls.model_fields:
            best, best_depth = (cls, str(path[n]), path[n + 1 :]), n
    return best


def _clean_loc(data: dict[str, Any], loc: tuple[str | int, ...]) -> KeyPath:
    """Drop the discriminator tag pydantic puts in a loc: sources.gh.github.token -> sources.gh.token."""
    if len(loc) >= 3 and loc[0] == "sources":
        table = data.get("sources", {}).get(loc[1]) if isinstance(data.get("sources"), dict) else None
        if isinstance(table, dict) and loc[2] == table.get("kind"):
            return (*loc[:2], *loc[3:])
    return tuple(loc)
