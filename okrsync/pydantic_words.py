"""Say in plain words what a pydantic field takes: 'an integer ≥ 1', 'a list of strings'.

pydantic's own messages name its types and constraints ("Input should be greater than or
equal to 1"); config errors speak the user's language instead, from the field's annotation.
"""

from __future__ import annotations

import types
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, SecretStr


def flat_types(annotation: Any) -> list[Any]:
    """Flatten Optional/Union/Annotated into the plain types (list[str] gives `list`)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return flat_types(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [t for arg in get_args(annotation) for t in flat_types(arg)]
    if origin is not None:
        return [origin]
    return [annotation]


def describe(annotation: Any, metadata: list[Any], *, depth: int = 0) -> str:
    """Say what a field takes: 'an integer ≥ 1', 'a list of strings', 'one of 'a', 'b''."""
    origin = get_origin(annotation)
    if origin is Annotated:
        args = get_args(annotation)
        return describe(args[0], [*metadata, *args[1:]], depth=depth)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        if len(options) == 1:
            return describe(options[0], metadata, depth=depth)
        return " or ".join(describe(a, [], depth=depth) for a in options)
    if origin is list:
        item = describe(get_args(annotation)[0], [])
        return item if depth else f"a list of {_plural(item)}"
    if origin is dict:
        return describe(get_args(annotation)[1], []) if depth else "a table"
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
