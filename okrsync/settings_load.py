"""One `load_settings` call: the merged raw values made ready to validate, and every problem
located where its value came from.

pydantic-settings merges the sources; what it cannot do, this does, on the merged values
(`Loading.prepare`, run by the settings model's before-validator):

- decode the text of a variable or secret file set for a list or table (JSON, or commas);
- resolve `x_env` / `x_file` secret references, the higher source winning when two forms
  meet (`OKRSYNC_SOURCES__GITHUB__TOKEN` beats the file's `token_file`);
- fill the keys that come from a table's name (a source's `name`, a person's `id`).

After validation, `translate` turns each pydantic error into a `Problem` in plain words, and
`where` says where the value came from: the variable, the secret file or the file's line.
Nothing here names a model: the model tree is walked from its annotations, so a new section
or field gets located errors without code here.
"""

from __future__ import annotations

import json
import re
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from okrsync.errors import Problem
from okrsync.pydantic_words import describe, flat_types
from okrsync.settings_sources import EnvironmentSource, SecretsDirSource, TomlFileSource
from okrsync.tomlpos import KeyPath, line_of, show_value, unknown_key_message

Table = tuple[KeyPath, type[BaseModel], dict[str, Any]]


@dataclass
class Loading:
    """The sources of one load, and what it learns while preparing and validating."""

    root: type[BaseModel]
    display: str
    file: TomlFileSource
    env: EnvironmentSource
    secrets: SecretsDirSource
    environ: Mapping[str, str]
    base_dir: Path
    table_name_keys: Mapping[type[BaseModel], str]
    """Keys okrsync fills from the table name; a user writing them misunderstood the format."""
    overrides: Mapping[str, Any] = field(default_factory=dict)
    """Values the caller gave, above every source (`load_settings(overrides=...)`)."""
    data: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    tagged: set[KeyPath] = field(default_factory=set)
    """Tables whose model a discriminator chose (pydantic puts the tag in their errors' loc);
    it only grows, as a table's tag does not change once the values are decoded."""

    # -- where ------------------------------------------------------------------------------

    def add(self, path: KeyPath, message: str) -> None:
        """Record a problem at `path`, located at the variable, secret file or line that set it."""
        self.problems.append(Problem(*self.where(path), dotted(path), message))

    def where(self, path: KeyPath) -> tuple[str, int | None]:
        if _has(self.overrides, path):
            return "<overrides>", None
        for n in range(len(path), 0, -1):
            for source in (self.env, self.secrets):
                origin = source.origins.get(path[:n])
                if origin is not None:
                    return origin, None
        if self.file.text:
            return self.display, line_of(self.file.text, path)
        return self.display, None

    def rank(self, path: KeyPath) -> int:
        """Which source set `path`: -1 the caller, 0 the environment, 1 the secrets folder, 2 the file."""
        if _has(self.overrides, path):
            return -1
        return 0 if path in self.env.origins else 1 if path in self.secrets.origins else 2

    def order(self, problem: Problem) -> tuple[bool, bool, str, int]:
        """The file's problems first, in line order, then secret files', then variables'."""
        return (problem.file != self.display, problem.file.startswith("$"), problem.file, problem.line or 0)

    # -- before validation ------------------------------------------------------------------

    def prepare(self, data: dict[str, Any]) -> dict[str, Any]:
        """Decode variables' text, resolve secret references, name the tables from their keys."""
        self.data = data
        self._decode_text()
        for tpath, cls, table in list(self.tables()):
            hidden = self.table_name_keys.get(cls)
            if hidden is not None and hidden in table:
                del table[hidden]
                self.add(
                    (*tpath, hidden), f"unknown key; the {hidden} comes from the table name [{dotted(tpath)}]"
                )
            self._resolve_secrets(tpath, cls, table)
            if hidden is not None:
                table[hidden] = tpath[-1]
        return data

    def _decode_text(self) -> None:
        """A list or table set by a variable or secret file is text: JSON, or commas for a list."""
        for path in [*self.env.origins, *self.secrets.origins]:
            located = self.field_at(path)
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

        Of two forms, the one from the higher source wins; two from one source are an error.
        """
        for name in secret_fields(cls):
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
            secret_path = absolute(Path(ref), self.base_dir)
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

    # -- after validation -------------------------------------------------------------------

    def translate(self, err: Any) -> Problem:
        """Turn one pydantic error into a Problem that says what was expected, in plain words."""
        path = self._clean_loc(err["loc"])
        kind = err["type"]
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            discriminator = str(err.get("ctx", {}).get("discriminator", "")).strip("'")
            located = self.field_at(path)
            tags = (
                _union_tags(located[0].model_fields[located[1]].annotation, discriminator) if located else []
            )
            path = (*path, discriminator)
            expected = " or ".join(repr(t) for t in tags)
            given = err.get("input")
            got = given.get(discriminator) if isinstance(given, dict) else None
            message = (
                f"expected {expected}, got {show_value(got)}"
                if got is not None
                else f"missing; expected {expected}"
            )
        elif kind == "value_error":
            # Our validators already speak plainly; pydantic prefixes "Value error, ".
            message = str(err.get("ctx", {}).get("error", err["msg"]))
        elif kind == "extra_forbidden":
            table_cls = next((cls for tpath, cls, _ in self.tables() if tpath == path[:-1]), self.root)
            message = unknown_key_message(str(path[-1]), self.known_keys(table_cls))
        else:
            located = self.field_at(path)
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
        return Problem(*self.where(path), dotted(path), message)

    def _clean_loc(self, loc: tuple[str | int, ...]) -> KeyPath:
        """Drop the tag pydantic puts in a loc: sources.gh.github.token -> sources.gh.token."""
        out: KeyPath = ()
        parts = list(loc)
        while parts:
            part = parts.pop(0)
            out = (*out, part)
            if out in self.tagged and parts:
                parts.pop(0)
        return out

    # -- the model tree, walked over the raw values -----------------------------------------

    def tables(self) -> Iterator[Table]:
        """Yield every table of the raw values with the model that validates it."""
        yield from self._walk(self.root, self.data, ())

    def _walk(self, cls: type[BaseModel], table: dict[str, Any], path: KeyPath) -> Iterator[Table]:
        yield path, cls, table
        for name, info in cls.model_fields.items():
            value = table.get(name)
            if not isinstance(value, dict):
                continue
            model = self._model_for(info.annotation, info.metadata, value, (*path, name))
            if model is not None:
                yield from self._walk(model, value, (*path, name))
            elif get_origin(info.annotation) is dict:
                item = get_args(info.annotation)[1]
                for key, sub in value.items():
                    sub_model = self._model_for(item, [], sub, (*path, name, key))
                    if sub_model is not None and isinstance(sub, dict):
                        yield from self._walk(sub_model, sub, (*path, name, key))

    def _model_for(
        self, annotation: Any, metadata: list[Any], value: Any, path: KeyPath
    ) -> type[BaseModel] | None:
        """The model that validates `value`: the annotation's, or the union member its tag picks."""
        if get_origin(annotation) is Annotated:
            annotation, *extra = get_args(annotation)
            metadata = [*metadata, *extra]
        if _is_model(annotation):
            return annotation  # type: ignore[no-any-return]
        options = [a for a in get_args(annotation) if a is not type(None)]
        if get_origin(annotation) in (Union, types.UnionType) and len(options) == 1 and _is_model(options[0]):
            return options[0]  # type: ignore[no-any-return]  # an optional table
        discriminator = next(
            (m.discriminator for m in metadata if isinstance(m, FieldInfo) and m.discriminator), None
        )
        if isinstance(discriminator, str) and isinstance(value, dict):
            for member in get_args(annotation):
                if _is_model(member) and value.get(discriminator) in _union_tags(member, discriminator):
                    self.tagged.add(path)
                    return member  # type: ignore[no-any-return]
        return None

    def field_at(self, path: KeyPath) -> tuple[type[BaseModel], str, KeyPath] | None:
        """Find the model field a key path lands in: (model, field, rest of path inside it)."""
        best: tuple[type[BaseModel], str, KeyPath] | None = None
        best_depth = -1
        for tpath, cls, _ in self.tables():
            n = len(tpath)
            if n > best_depth and len(path) > n and path[:n] == tpath and path[n] in cls.model_fields:
                best, best_depth = (cls, str(path[n]), path[n + 1 :]), n
        return best

    def known_keys(self, cls: type[BaseModel]) -> list[str]:
        """The keys a user may write in the table `cls` validates."""
        hidden = self.table_name_keys.get(cls)
        keys = [name for name in cls.model_fields if name != hidden]
        for name in secret_fields(cls):
            keys += [f"{name}_env", f"{name}_file"]
        return keys


def dotted(path: KeyPath) -> str:
    """Format a key path the way users write it: `sources.github.repos[0]`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else json.dumps(part)
            out += f".{name}" if out else name
    return out


def absolute(path: Path, base_dir: Path) -> Path:
    """`path` itself when absolute (after `~`), else resolved against `base_dir`."""
    path = path.expanduser()
    return path if path.is_absolute() else base_dir / path


def secret_fields(cls: type[BaseModel]) -> list[str]:
    return [name for name, info in cls.model_fields.items() if SecretStr in flat_types(info.annotation)]


def _union_tags(annotation: Any, discriminator: str) -> list[Any]:
    """The tags a discriminated union (or a dict of one, or one member) accepts, in order."""
    if get_origin(annotation) is dict:
        annotation = get_args(annotation)[1]
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    members = [annotation] if _is_model(annotation) else get_args(annotation)
    return [
        tag
        for member in members
        if _is_model(member) and discriminator in member.model_fields
        for tag in get_args(member.model_fields[discriminator].annotation)
    ]


def _is_model(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, BaseModel)


def _get(data: dict[str, Any], path: KeyPath) -> Any:
    node: Any = data
    for part in path:
        node = node[part]
    return node


def _has(data: Mapping[str, Any], path: KeyPath) -> bool:
    try:
        _get(dict(data), path)
    except (KeyError, TypeError, IndexError):
        return False
    return True
