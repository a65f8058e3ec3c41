"""Load config.toml and the OKRSYNC_* environment into typed, validated `Settings`.

Order (SPEC §3): the file first, then `OKRSYNC_*` variables, which win. A variable's name
below the prefix is a key path split on `__`, merged into the file's tables, never replacing
them: `OKRSYNC_SOURCES__GITHUB__TOKEN` sets `token` inside the file's `[sources.github]` and
keeps its other keys. Path parts match existing keys case-insensitively, with `_` standing for
`-` (`OKRSYNC_ALERTS__CHANNELS__TEAM_SLACK__URL` reaches `[alerts.channels.team-slack]`).
A variable for a list takes JSON (`["a/b","c/d"]`) or comma-separated values. A variable with no
`__` that names no section (`OKRSYNC_CONFIG`, `OKRSYNC_LOG_LEVEL`) is not a setting and is
ignored; a nested one with an unknown section is an error, to catch typos.

Why not pydantic-settings' own sources: a message must say where a bad value came from, the
file's line or the variable's name, and its sources merge values without remembering that.
So `load_settings` builds the merged values itself, keeping each value's origin, and
validates them with these pydantic(-settings) models; `Settings(**values)` reads nothing else.

Secrets (`SecretStr` fields) may be written as `x`, or as `x_env` (the name of a variable) or
`x_file` (a file holding the secret, as Docker and Kubernetes mount them; a relative path is
resolved against the config file's folder). Both are resolved here, at load, so the rest of
okrsync only sees `x`. A secret's value never appears in a message or a repr.

Relative paths (the SQLite file in `database_url`, `mappings`, `x_file`) are resolved against
the config file's folder, or the working directory when there is no file, so the daemon does
not depend on where it was started.
"""

from __future__ import annotations

import json
import os
import re
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import annotated_types
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
from okrsync.tomlpos import KeyPath, line_of, load_toml, show_value, unknown_key_message

ENV_PREFIX = "OKRSYNC_"
CONFIG_ENV = "OKRSYNC_CONFIG"
DEFAULT_CONFIG = Path("config.toml")

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
    """Everything in config.toml, after the environment and secret references are applied.

    Build it with `load_settings`, which validates everything and reports every problem with
    its origin; `Settings(**values)` only validates the values it is given.
    """

    model_config = SettingsConfigDict(
        extra="forbid",
        frozen=True,
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
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
        """Read only the given values: `load_settings` has merged file and environment already."""
        return (init_settings,)

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


def load_settings(path: Path | None, *, environ: Mapping[str, str] | None = None) -> Settings:
    """Read `path` (None: no file), apply OKRSYNC_* from `environ`, validate, resolve paths.

    Raises ConfigError with every problem found, each naming the file and line (or the
    variable), the dotted key and what was expected.
    """
    env: Mapping[str, str] = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    text = ""
    if path is not None:
        try:
            data, text = load_toml(path)
        except InputError as exc:
            raise ConfigError(exc.problems) from None
    base_dir = (path.parent if path is not None else Path.cwd()).absolute()
    ctx = _Context(display=str(path) if path is not None else "<defaults>", text=text, data=data)

    _apply_environment(ctx, env)
    for tpath, cls, table in list(_tables(data)):
        _check_keys(ctx, tpath, cls, table)
        _resolve_secrets(ctx, tpath, cls, table, env=env, base_dir=base_dir)
    _name_tables(data)

    settings: Settings | None = None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        ctx.problems.extend(_translate(ctx, err) for err in exc.errors())
    if ctx.problems or settings is None:
        raise ConfigError(sorted(ctx.problems, key=_problem_order))

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


# -- where a value came from ----------------------------------------------------------------


@dataclass
class _Context:
    """The merged values, where each came from, and the problems found so far."""

    display: str
    text: str
    data: dict[str, Any]
    origins: dict[KeyPath, str] = field(default_factory=dict)  # key path -> OKRSYNC_* variable
    problems: list[Problem] = field(default_factory=list)

    def add(self, path: KeyPath, message: str) -> None:
        """Record a problem at `path`, located in the file or at the variable that set it."""
        self.problems.append(Problem(*self.where(path), _dotted(path), message))

    def where(self, path: KeyPath) -> tuple[str, int | None]:
        for n in range(len(path), 0, -1):
            var = self.origins.get(path[:n])
            if var is not None:
                return f"${var}", None
        if self.text:
            return self.display, line_of(self.text, path)
        return self.display, None


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


def _problem_order(problem: Problem) -> tuple[bool, str, int]:
    return (problem.file.startswith("$"), problem.file, problem.line or 0)


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
            if isinstance(table.get("writeback"), dict):
                yield ("sources", name, "writeback"), WritebackSection, table["writeback"]
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


def _name_tables(data: dict[str, Any]) -> None:
    """Give each source, channel and person its table name, as `name` / `id`."""
    for tpath, cls, table in _tables(data):
        key = _TABLE_NAME_KEY.get(cls)
        if key is not None:
            table[key] = tpath[-1]


def _secret_fields(cls: type[BaseModel]) -> list[str]:
    return [name for name, info in cls.model_fields.items() if SecretStr in _flat_types(info.annotation)]


def _known_keys(cls: type[BaseModel]) -> list[str]:
    """The keys a user may write in the table `cls` validates."""
    hidden = _TABLE_NAME_KEY.get(cls)
    keys = [name for name in cls.model_fields if name != hidden]
    for name in _secret_fields(cls):
        keys += [f"{name}_env", f"{name}_file"]
    return keys


def _check_keys(ctx: _Context, tpath: KeyPath, cls: type[BaseModel], table: dict[str, Any]) -> None:
    """Report and drop unknown keys, suggesting the nearest known one."""
    known = _known_keys(cls)
    for key in list(table):
        if key in known:
            continue
        del table[key]
        if key == _TABLE_NAME_KEY.get(cls):
            message = f"unknown key; the {key} comes from the table name [{_dotted(tpath)}]"
        else:
            message = unknown_key_message(key, known)
        ctx.add((*tpath, key), message)


def _resolve_secrets(
    ctx: _Context,
    tpath: KeyPath,
    cls: type[BaseModel],
    table: dict[str, Any],
    *,
    env: Mapping[str, str],
    base_dir: Path,
) -> None:
    """Replace `x_env` / `x_file` by the secret `x` they point at; never echo the secret."""
    for name in _secret_fields(cls):
        forms = [k for k in (name, f"{name}_env", f"{name}_file") if k in table]
        if len(forms) > 1:
            # A variable beats the file: OKRSYNC_SOURCES__GITHUB__TOKEN overrides token_file.
            from_env = [k for k in forms if (*tpath, k) in ctx.origins]
            if len(from_env) == 1:
                for k in forms:
                    if k != from_env[0]:
                        del table[k]
                forms = from_env
            else:
                for k in forms:
                    del table[k]
                ctx.add((*tpath, forms[1]), f"expected only one of {name}, {name}_env or {name}_file")
                continue
        if not forms or forms[0] == name:
            continue
        key = forms[0]
        ref = table.pop(key)
        kpath = (*tpath, key)
        if key.endswith("_env"):
            if not isinstance(ref, str) or not ref:
                ctx.add(kpath, "expected the name of an environment variable")
            elif ref not in env:
                ctx.add(kpath, f"environment variable {ref} is not set")
            elif not env[ref]:
                ctx.add(kpath, f"environment variable {ref} is empty")
            else:
                table[name] = env[ref]
            continue
        if not isinstance(ref, str) or not ref:
            ctx.add(kpath, "expected the path of a file holding the secret")
            continue
        secret_path = _absolute(Path(ref), base_dir)
        try:
            value = secret_path.read_text(encoding="utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            ctx.add(kpath, f"expected a UTF-8 text file at {str(secret_path)!r}")
        except OSError as exc:
            ctx.add(kpath, f"cannot read {str(secret_path)!r}: {exc.strerror or type(exc).__name__}")
        else:
            if value:
                table[name] = value
            else:
                ctx.add(kpath, f"the file {str(secret_path)!r} is empty")


# -- the environment ------------------------------------------------------------------------


def _norm(key: str) -> str:
    return key.lower().replace("-", "_")


def _apply_environment(ctx: _Context, env: Mapping[str, str]) -> None:
    """Merge OKRSYNC_* variables into the file's values, deep, recording each one's origin."""
    top_level = list(Settings.model_fields)
    assigned: list[tuple[KeyPath, str]] = []
    for var in sorted(env):
        if not var.upper().startswith(ENV_PREFIX) or var.upper() == CONFIG_ENV:
            continue
        parts = var[len(ENV_PREFIX) :].split("__")
        if parts[0].lower() not in top_level:
            if len(parts) > 1:
                top = parts[0].lower()
                ctx.problems.append(Problem(f"${var}", None, top, unknown_key_message(top, top_level)))
            continue  # OKRSYNC_LOG_LEVEL and the like belong to other parts of okrsync.
        if any(not p for p in parts):
            ctx.problems.append(Problem(f"${var}", None, var, "expected parts separated by a double '__'"))
            continue
        node = ctx.data
        path: KeyPath = ()
        for i, part in enumerate(parts):
            key = next((k for k in node if _norm(k) == _norm(part)), part.lower())
            path = (*path, key)
            if i == len(parts) - 1:
                node[key] = env[var]
            else:
                if not isinstance(node.get(key), dict):
                    node[key] = {}
                node = node[key]
        ctx.origins[path] = var
        assigned.append((path, var))
    # Second pass, once every variable is in place (a source's kind may come from another
    # variable): decode lists and tables from their text.
    for path, var in assigned:
        located = _field_at(ctx.data, path)
        if located is None or len(located[2]) != 0:
            continue
        cls, name, _ = located
        kinds = _flat_types(cls.model_fields[name].annotation)
        try:
            parent = _get(ctx.data, path[:-1])
            raw = parent[path[-1]]
        except (KeyError, TypeError):
            continue
        if not isinstance(raw, str):
            continue  # a later, deeper variable turned it into a table
        if list in kinds and not raw.lstrip().startswith("["):
            parent[path[-1]] = [item.strip() for item in raw.split(",") if item.strip()]
        elif (
            list in kinds
            or dict in kinds
            or any(isinstance(t, type) and issubclass(t, BaseModel) for t in kinds)
        ):
            try:
                parent[path[-1]] = json.loads(raw)
            except ValueError:
                del parent[path[-1]]
                ctx.problems.append(
                    Problem(f"${var}", None, _dotted(path), "expected JSON (a list or an object)")
                )


def _get(data: dict[str, Any], path: KeyPath) -> Any:
    node: Any = data
    for part in path:
        node = node[part]
    return node


# -- pydantic's errors, in plain words ------------------------------------------------------


def _flat_types(annotation: Any) -> list[Any]:
    """Flatten Optional/Union/Annotated into the plain types (list[str] gives `list`)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _flat_types(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [t for arg in get_args(annotation) for t in _flat_types(arg)]
    if origin is not None:
        return [origin]
    return [annotation]


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


def _translate(ctx: _Context, err: Any) -> Problem:
    """Turn one pydantic error into a Problem that says what was expected, in plain words."""
    path = _clean_loc(ctx.data, err["loc"])
    kind = err["type"]
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        path = (*path, "kind")
        expected = " or ".join(repr(k) for k in SOURCE_KINDS)
        got = err.get("input", {}).get("kind") if isinstance(err.get("input"), dict) else None
        message = f"missing; expected {expected}"
        if got is not None:
            message = f"expected {expected}, got {show_value(got)}"
        return Problem(*ctx.where(path), _dotted(path), message)
    if kind == "value_error":
        # Our validators already speak plainly; pydantic prefixes "Value error, ".
        message = str(err.get("ctx", {}).get("error", err["msg"]))
        return Problem(*ctx.where(path), _dotted(path), message)
    located = _field_at(ctx.data, path)
    expected, secret = "a valid value", False
    if located is not None:
        cls, name, rest = located
        info = cls.model_fields[name]
        secret = SecretStr in _flat_types(info.annotation)
        expected = _describe(info.annotation, info.metadata, depth=len(rest))
    if kind == "missing":
        message = f"missing; expected {expected}"
    elif secret:
        message = f"expected {expected}"
    else:
        message = f"expected {expected}, got {show_value(err.get('input'))}"
    return Problem(*ctx.where(path), _dotted(path), message)


def _describe(annotation: Any, metadata: list[Any], *, depth: int = 0) -> str:
    """Say what a field takes: 'an integer ≥ 1', 'a list of strings', 'one of 'a', 'b''."""
    origin = get_origin(annotation)
    if origin is Annotated:
        args = get_args(annotation)
        return _describe(args[0], [*metadata, *args[1:]], depth=depth)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        if len(options) == 1:
            return _describe(options[0], metadata, depth=depth)
        return " or ".join(_describe(a, [], depth=depth) for a in options)
    if origin is list:
        item = _describe(get_args(annotation)[0], [])
        return item if depth else f"a list of {_plural(item)}"
    if origin is dict:
        return _describe(get_args(annotation)[1], []) if depth else "a table"
    if origin is Literal:
        return "one of " + ", ".join(repr(v) for v in get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "a table"
    base = {
        int: "an integer",
        float: "a number",
        bool: "true or false",
        str: "a string",
        SecretStr: "a string",
        Path: "a path",
        date: "a date such as 2026-10-01",
    }.get(annotation, "a valid value")
    low = high = None
    for m in metadata:
        if isinstance(m, annotated_types.Ge):
            low = f"≥ {m.ge}"
        elif isinstance(m, annotated_types.Gt):
            low = f"> {m.gt}"
        elif isinstance(m, annotated_types.Le):
            high = f"≤ {m.le}"
        elif isinstance(m, annotated_types.Lt):
            high = f"< {m.lt}"
        elif isinstance(m, annotated_types.MinLen) and m.min_length == 1 and base == "a string":
            base = "a non-empty string"
    if low and high and low.startswith("≥") and high.startswith("≤"):
        return f"{base} from {low[2:]} to {high[2:]}"
    return " ".join(part for part in (base, low, high) if part)


def _plural(item: str) -> str:
    for article in ("an ", "a "):
        if item.startswith(article):
            noun = item.removeprefix(article)
            head, _, tail = noun.partition(" ")
            return f"{head}s {tail}".strip()
    return item
