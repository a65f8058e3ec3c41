"""Generate the JSON Schema of config.toml and of a mappings/*.toml file (`okrsync schema`).

Both come from the pydantic models that validate the files: `okrsync.settings.Settings` and
`okrsync.mappingformat.MappingFile`. Editors (Taplo / Even Better TOML, with a `#:schema`
comment) then complete keys, show their docstrings and flag mistakes while typing; CI can
check files with any JSON Schema validator.

The config's schema is adjusted in two places where the loader reads more than the model
holds: a secret `x` may also be written `x_env` or `x_file` (resolved at load), and the keys
okrsync fills from a table's name (a source's or channel's `name`, a person's `id`) are not
for users to write. A source's `kind` is required in the file, as the loader requires it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

SCHEMA_DRAFT = "https://json-schema.org/draft/2020-12/schema"
Which = Literal["mappings", "config"]

# Keys set from the table name at load (okrsync.settings), by the model's schema title.
_TABLE_NAME_KEYS = {"GitHubSource": "name", "JiraSource": "name", "ChannelSettings": "name", "Person": "id"}


def json_schema(which: Which) -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) of the config file or of a mappings file."""
    if which == "mappings":
        from okrsync.mappingformat import MappingFile

        return _document(MappingFile, title="okrsync mappings file")
    from okrsync.settings import Settings

    schema = _document(Settings, title="okrsync config.toml")
    for name, definition in schema.get("$defs", {}).items():
        _secret_references(definition)
        hidden = _TABLE_NAME_KEYS.get(name)
        if hidden is not None:
            definition.get("properties", {}).pop(hidden, None)
        kind = definition.get("properties", {}).get("kind", {})
        if "const" in kind:
            definition["required"] = sorted({*definition.get("required", []), "kind"})
    return schema


def _document(model: type[BaseModel], *, title: str) -> dict[str, Any]:
    schema = model.model_json_schema(mode="validation")
    schema["title"] = title
    return {"$schema": SCHEMA_DRAFT, **schema}


def _is_secret(prop: dict[str, Any]) -> bool:
    """Say whether a property is a pydantic SecretStr (`writeOnly`, format password)."""
    options = prop.get("anyOf", [prop])
    return any(o.get("writeOnly") and o.get("format") == "password" for o in options)


def _secret_references(definition: dict[str, Any]) -> None:
    """Offer `x_env` and `x_file` beside each secret `x`, at most one of the three."""
    props = definition.get("properties", {})
    for name in [n for n, prop in props.items() if _is_secret(prop)]:
        props[f"{name}_env"] = {
            "type": "string",
            "minLength": 1,
            "description": f"Name of an environment variable holding {name}.",
        }
        props[f"{name}_file"] = {
            "type": "string",
            "minLength": 1,
            "description": f"Path of a file holding {name} (relative to the config file's folder).",
        }
        forms = [name, f"{name}_env", f"{name}_file"]
        exclusive = {
            "not": {"anyOf": [{"required": [a, b]} for i, a in enumerate(forms) for b in forms[i + 1 :]]}
        }
        definition.setdefault("allOf", []).append(exclusive)
