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
variable's name or the secret file's path (`Loading.where`), never with the value of a secret.

Secrets (`SecretStr` fields) may also be written as `x_env` (the name of a variable) or
`x_file` (a file holding the secret; a relative path is resolved against the config file's
folder). Both are resolved at load, so the rest of okrsync only sees `x`.

Relative paths (the SQLite file in `database_url`, `mappings`, `x_file`) are resolved against
the config file's folder, or the working directory when there is no file, so the daemon does
not depend on where it was started.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from contextvars import ContextVar
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
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from okrsync.errors import ConfigError, InputError, Problem
from okrsync.extras import missing_extras
from okrsync.settings_load import Loading, absolute, dotted
from okrsync.settings_sources import ENV_PREFIX, EnvironmentSource, SecretsDirSource, TomlFileSource

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


class WritebackSection(_Section):
    """`[sources.<name>.writeback]`: opt-in write-back of KR status into the tracker (SPEC §10)."""

    enabled: bool = False
    """Write dashboards and milestone/epic status into this source; off unless asked for."""
    issue_type: str = Field(default="Task", min_length=1)
    """Jira: the issue type of each project's dashboard issue."""
    min_interval: float | None = Field(default=None, ge=0)
    """Seconds between two content writes; unset: GitHub 1 (its guidance for integrations), Jira 0."""


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
    in_progress_weight: float = Field(default=0, ge=0, lt=1)
    """Share of an in-progress issue counted as done, for KRs that set none (0: no partial credit)."""
    writeback: WritebackSection = WritebackSection()
    """Opt-in write-back of KR status into this tracker (SPEC §10)."""


class GitHubSource(SourceBase):
    """`[sources.<name>]` with `kind = "github"`: github.com or GitHub Enterprise."""

    kind: Literal["github"] = "github"
    base_url: str = "https://api.github.com"
    """API root; GitHub Enterprise: https://host/api/v3."""
    repos: list[Repo] = []
    """Repos (`owner/name`) scanned for `kr:` labels, besides the repos of mapped milestones."""
    include_pull_requests: bool = False
    """Count pull requests as issues (left out by default, SPEC §2)."""
    in_progress_labels: list[str] = []
    """Labels that mark an open issue as in progress (partial credit; compared ignoring case)."""
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
    concurrency: int = Field(default=2, ge=1, le=4)
    """Searches run at once when several projects are read in full (a first sync); 1 = one search."""
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
    public_url: str | None = None
    """Where people reach the report (https://okr.acme.com); write-back links KRs to its pages."""

    @field_validator("public_url")
    @classmethod
    def _public(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)

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


class HttpSection(_Section):
    """`[http]`: how okrsync's two HTTP stacks (requests under jira/PyGithub, httpx for alerts) trust TLS.

    Proxies need no setting: both stacks read HTTPS_PROXY, HTTP_PROXY and NO_PROXY.
    """

    ca_bundle: Path | None = None
    """PEM file of the CA certificates to trust instead of the default ones (a company CA)."""

    @field_validator("ca_bundle")
    @classmethod
    def _readable_pem(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        if not value.is_absolute():
            msg = f"expected an absolute path to a PEM file of CA certificates, got {str(value)!r}"
            raise ValueError(msg)
        if not value.is_file():
            msg = f"expected a PEM file of CA certificates, but there is no file at {str(value)!r}"
            raise ValueError(msg)
        return value


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
    http: HttpSection = HttpSection()

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
        """Turn the merged values into what the models validate (see `Loading.prepare`)."""
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
    folder = secrets_dir or Path(env.get(SECRETS_DIR_ENV) or DEFAULT_SECRETS_DIR)
    try:
        file = TomlFileSource(Settings, path)
        secrets = SecretsDirSource(Settings, folder, file_data=file.toml_data)
    except InputError as exc:
        raise ConfigError(exc.problems) from None
    except SettingsError as exc:  # the folder is a file, or holds more than secrets do
        raise ConfigError([Problem(str(folder), None, "secrets folder", str(exc))]) from None
    base_dir = (path.parent if path is not None else Path.cwd()).absolute()
    load = Loading(
        root=Settings,
        display=str(path) if path is not None else "<defaults>",
        file=file,
        env=EnvironmentSource(Settings, env, file_data=file.toml_data),
        secrets=secrets,
        environ=env,
        base_dir=base_dir,
        table_name_keys=_TABLE_NAME_KEY,
        overrides=overrides or {},
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
            problems.append(Problem(*load.where(kpath), dotted(kpath), message))
    if problems or settings is None:
        raise ConfigError(sorted(problems, key=load.order))

    section = settings.okrsync
    resolved = section.model_copy(
        update={
            "mappings": absolute(section.mappings, base_dir),
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
    return f"{scheme}:///{absolute(Path(file_part), base_dir)}{sep}{query}"


# Keys okrsync fills from the table name; a user writing them has misunderstood the format.
_TABLE_NAME_KEY: dict[type[BaseModel], str] = {
    GitHubSource: "name",
    JiraSource: "name",
    ChannelSettings: "name",
    Person: "id",
}

_LOADING: ContextVar[Loading | None] = ContextVar("okrsync_settings_load", default=None)
