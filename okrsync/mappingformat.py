"""The shape of one mappings/*.toml table, declared once: what `okrsync.mappings` accepts and
what `okrsync schema mappings` publishes.

`okrsync.mappings` reads the files with its own loader, because its messages need what a
per-table validator cannot give: the line of every key, ids unique across files, cycles with
the same dates in every file, parents that exist and do not loop. What each table may hold,
though, (its keys, their types, the choices and ranges) is written here as pydantic models,
and the loader takes its key lists and choices from them; the JSON Schema is generated from the
same models, so an editor and `okrsync validate` cannot disagree about a key. Rules that span
keys (exactly one link selector, `value_source` with `value_query`, a metric's baseline and
target) are added to the schema as JSON Schema conditions next to the model they belong to.

Dates are JSON Schema strings with `format: date`: Taplo (Even Better TOML) hands a TOML date
to the schema as its ISO text, and the loader accepts either.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
REPO_PATTERN = r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$"
VERSION_PATTERN = r"^[^/\s]+/.+$"
ISSUE_KEY_PATTERN = r"^[A-Z][A-Z0-9_]*-[0-9]+$"

Ident = Annotated[str, Field(pattern=ID_PATTERN)]
Text = Annotated[str, Field(pattern=r"\S")]  # a string with something in it besides blanks
Positive = Annotated[float, Field(gt=0)]

KrKindChoice = Literal["milestones", "metric"]
CommitmentChoice = Literal["aspirational", "committed"]
WeightingChoice = Literal["count", "points"]
AggregateChoice = Literal["count", "sum", "average"]


class _Table(BaseModel):
    """A mapping table: unknown keys are errors (the loader names the nearest known one)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


# Which key picks a link's kind; each alternative lists the keys it needs and the keys it forbids.
_LINK_ALTERNATIVES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("milestone", ("repo",), ("due", "title")),
    ("number", ("repo",), ("due", "title")),
    ("version", (), ("repo", "due", "title")),
    ("epic", (), ("repo", "due", "title")),
    ("jql", ("due", "title"), ("repo",)),
)
LINK_SELECTORS = tuple(selector for selector, _needs, _forbids in _LINK_ALTERNATIVES)


def _link_rules(schema: dict[str, Any]) -> None:
    """Exactly one selector, with the keys it needs and none it forbids."""
    options = []
    for selector, needs, forbids in _LINK_ALTERNATIVES:
        others = [s for s in LINK_SELECTORS if s != selector]
        options.append(
            {
                "required": [selector, *needs],
                "not": {"anyOf": [{"required": [key]} for key in (*others, *forbids)]},
            }
        )
    schema["oneOf"] = options


class LinkTable(_Table):
    """`[[objective.key_result.link]]`: one tracker milestone a key result is linked to."""

    model_config = ConfigDict(json_schema_extra=_link_rules)

    source: Text
    """Name of a configured source (`[sources.<name>]`) of the kind the link needs."""
    repo: Annotated[str, Field(pattern=REPO_PATTERN)] | None = None
    """GitHub repo `owner/name` of a `milestone` or `number` link."""
    milestone: Text | None = None
    """GitHub milestone title."""
    number: Annotated[int, Field(ge=1)] | None = None
    """GitHub milestone number."""
    version: Annotated[str, Field(pattern=VERSION_PATTERN)] | None = None
    """Jira fix version as `PROJECT/version name`, e.g. `ONB/2.0`."""
    epic: Annotated[str, Field(pattern=ISSUE_KEY_PATTERN)] | None = None
    """Jira epic's issue key, e.g. `ONB-12`."""
    jql: Text | None = None
    """A JQL query whose issues form a milestone (with `due` and `title`)."""
    due: date | None = None
    """Due day of a `jql` set."""
    title: Text | None = None
    """Title of a `jql` set."""
    weight: Positive | None = None
    """The milestone's weight in its key result's mean (default 1)."""


def _key_result_rules(schema: dict[str, Any]) -> None:
    """Conditions across keys, as the loader checks them."""
    schema["allOf"] = [
        {
            "if": {"properties": {"kind": {"const": "metric"}}, "required": ["kind"]},
            "then": {"required": ["baseline", "target"]},
            "else": {"not": {"required": ["value_query"]}},
        },
        {
            "if": {
                "properties": {"value_aggregate": {"enum": ["sum", "average"]}},
                "required": ["value_aggregate"],
            },
            "then": {"required": ["value_field"]},
        },
    ]
    schema["dependentRequired"] = {
        "value_query": ["value_source"],
        "value_source": ["value_query"],
        "value_aggregate": ["value_query"],
        "value_field": ["value_query"],
    }


class KeyResultTable(_Table):
    """`[[objective.key_result]]`: a measurable outcome with exactly one owner."""

    model_config = ConfigDict(json_schema_extra=_key_result_rules)

    id: Ident
    """Unique across every mapping file; used in tracker labels (`kr:ENG-1.1`)."""
    title: Text
    owner: Text
    """The person (a `[people.<id>]` of the config) who answers for this key result."""
    kind: KrKindChoice = "milestones"
    """`milestones`: progress from linked milestones; `metric`: from a value."""
    baseline: float | None = None
    target: float | None = None
    unit: Text | None = None
    commitment: CommitmentChoice = "aspirational"
    measurement: str | None = None
    """Free text: data source, calculation, edge cases."""
    weight: Positive | None = None
    """Weight in the objective's mean (default 1)."""
    weighting: WeightingChoice = "count"
    """How milestones weigh their issues: 1 each, or story points (`points:N` labels on GitHub)."""
    value_query: Text | None = None
    """Metric KR: a GitHub issue-search string or a JQL query measured on `value_source`."""
    value_source: Text | None = None
    """The configured source that runs `value_query`."""
    value_aggregate: AggregateChoice = "count"
    """How `value_query`'s issues become the value: their count, or the sum or average of `value_field`."""
    value_field: Text | None = None
    """Numeric field summed or averaged: a Jira field by name (`Story Points`); GitHub: `points` (`points:N` labels)."""
    in_progress_weight: Annotated[float, Field(ge=0, lt=1)] | None = None
    """Share of an in-progress issue counted as done (default: the source's, else 0)."""
    link: list[LinkTable] = []


class ObjectiveTable(_Table):
    """`[[objective]]`: a qualitative goal and its key results."""

    id: Ident
    title: Text
    owner: Text
    team: Text | None = None
    parent: Ident | None = None
    """An objective id in any mapping file or cycle: the cascade."""
    weight: Positive | None = None
    """Weight in the parent objective's mean (default 1)."""
    key_result: list[KeyResultTable] = []


class CycleTable(_Table):
    """`[cycle]`: the time box; files sharing an id must give the same dates."""

    id: Ident
    start: date
    end: date


class MappingFile(_Table):
    """One mappings/*.toml file: a cycle and its objectives (SPEC §3)."""

    model_config = ConfigDict(title="okrsync mappings file")

    cycle: CycleTable
    objective: list[ObjectiveTable] = []


def keys(model: type[BaseModel]) -> tuple[str, ...]:
    """The keys a table may hold, in the order they are declared."""
    return tuple(model.model_fields)


def choices(model: type[BaseModel], key: str) -> tuple[str, ...]:
    """The values a choice key takes, its default first (the loader reads an absent key so)."""
    info = model.model_fields[key]
    options = tuple(str(v) for v in get_args(info.annotation))
    default = str(info.default)
    return (default, *[o for o in options if o != default])
