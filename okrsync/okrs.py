"""The OKRs a team writes as code: cycles, objectives, key results and their links.

These are plain frozen records built by `okrsync.mappings` from mappings/*.toml; every
record remembers where it was written (`Where`) so later messages can point at the line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Literal

LinkKind = Literal["github_milestone", "jira_version", "jira_epic", "jira_jql"]
KrKind = Literal["milestones", "metric"]
Commitment = Literal["committed", "aspirational"]
Weighting = Literal["count", "points"]
Aggregate = Literal["count", "sum", "average"]


_KeyPath = tuple[str | int, ...]  # as okrsync.tomlpos.KeyPath: ("objective", 0, "key_result", 1)


class Where:
    """A position in a user's file, for messages: `file:line`.

    The line is either given or found on first use (`Where.later`): finding it means scanning
    the file's text for every key's line, and a run that shows no message (a sync, a status)
    never needs one, so loading 2,000 links pays for no scan. Immutable, and equal, hashed and
    shown by file and line like the frozen dataclass it replaces.
    """

    __slots__ = ("file", "_line", "_find", "_path")

    file: str
    _line: int | None
    _find: Callable[[_KeyPath], int] | None
    _path: _KeyPath

    def __init__(self, file: str, line: int | None = None) -> None:
        object.__setattr__(self, "file", file)
        object.__setattr__(self, "_line", line)
        object.__setattr__(self, "_find", None)
        object.__setattr__(self, "_path", ())

    @classmethod
    def later(cls, file: str, find: Callable[[_KeyPath], int], path: _KeyPath) -> Where:
        """Make the position of `path` in `file`, whose line `find(path)` gives when first asked."""
        where = cls(file)
        object.__setattr__(where, "_find", find)
        object.__setattr__(where, "_path", path)
        return where

    @property
    def line(self) -> int | None:
        find = self._find
        if find is not None:
            object.__setattr__(self, "_line", find(self._path))
            object.__setattr__(self, "_find", None)
        return self._line

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: a Where is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: a Where is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Where):
            return NotImplemented
        return (self.file, self.line) == (other.file, other.line)

    def __hash__(self) -> int:
        return hash((self.file, self.line))

    def __repr__(self) -> str:
        return f"Where(file={self.file!r}, line={self.line!r})"

    def __reduce__(self) -> tuple[type[Where], tuple[str, int | None]]:
        # Copied or pickled resolved: `find` belongs to the loader that read the file.
        return (Where, (self.file, self.line))

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True)
class Cycle:
    """A time box for OKRs (a quarter for teams, a year for the company)."""

    id: str
    start: date
    end: date
    where: Where = field(default=Where("<unknown>"), compare=False)


@dataclass(frozen=True)
class Link:
    """One milestone in a tracker that a key result is linked to by its mapping.

    `target` is what identifies the milestone in its tracker: the repo (`acme/web`) for a
    GitHub milestone, `ONB/2.0` for a Jira fix version, `ONB-12` for an epic, the JQL text
    for a JQL set.
    """

    source: str
    kind: LinkKind
    target: str
    milestone: str | None = None  # GitHub milestone title
    number: int | None = None  # GitHub milestone number
    title: str | None = None  # JQL set title
    due: date | None = None  # JQL set due day
    weight: float = 1.0
    where: Where = field(default=Where("<unknown>"), compare=False)

    @property
    def label(self) -> str:
        """Say which milestone this is, the way a user wrote it."""
        if self.kind == "github_milestone":
            name = self.milestone if self.milestone is not None else f"#{self.number}"
            return f"{self.target} milestone {name}"
        if self.kind == "jira_version":
            return f"Jira version {self.target}"
        if self.kind == "jira_epic":
            return f"Jira epic {self.target}"
        return f"JQL set {self.title!r}"


@dataclass(frozen=True)
class KeyResult:
    """A measurable outcome with exactly one owner."""

    id: str
    title: str
    owner: str
    objective_id: str
    kind: KrKind = "milestones"
    baseline: float | None = None
    target: float | None = None
    unit: str | None = None
    commitment: Commitment = "aspirational"
    measurement: str = ""
    weight: float = 1.0
    weighting: Weighting = "count"
    links: tuple[Link, ...] = ()
    value_query: str | None = None
    value_source: str | None = None
    value_aggregate: Aggregate = "count"
    """How `value_query`'s issues make the value: their count, or the sum/average of `value_field`."""
    value_field: str | None = None
    in_progress_weight: float | None = None
    """Share of in-progress work counted as done; None: the source's default (0 unless set)."""
    where: Where = field(default=Where("<unknown>"), compare=False)


@dataclass(frozen=True)
class Objective:
    """A qualitative goal; `parent` cascades it under another objective, maybe in another cycle."""

    id: str
    title: str
    owner: str
    cycle_id: str
    team: str | None = None
    parent: str | None = None
    weight: float = 1.0
    key_results: tuple[KeyResult, ...] = ()
    where: Where = field(default=Where("<unknown>"), compare=False)


@dataclass(frozen=True)
class Warning_:
    """A best-practice lint finding: shown by `validate`, fatal with `--strict`."""

    where: Where
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.field}: {self.message}"


@dataclass(frozen=True)
class OkrSet:
    """Every cycle, objective and key result of all mapping files, validated together.

    `lint` finds the best-practice warnings; it runs when `warnings` is first read (by
    `validate`), since sorting them needs the line of every record they name, and finding
    lines costs a scan of each file that a sync or a status never needs.
    """

    cycles: dict[str, Cycle]
    objectives: dict[str, Objective]
    lint: Callable[[OkrSet], Sequence[Warning_]] | None = field(default=None, compare=False, repr=False)

    @cached_property
    def warnings(self) -> tuple[Warning_, ...]:
        """The best-practice findings, in file and line order (none without `lint`)."""
        return tuple(self.lint(self)) if self.lint is not None else ()

    @cached_property
    def key_results(self) -> dict[str, KeyResult]:
        """Every key result by id: built once, as a sync looks one up for each of its alerts.

        The dict is shared by every caller: read it, never change it.
        """
        return {kr.id: kr for o in self.objectives.values() for kr in o.key_results}

    def children(self, objective_id: str) -> list[Objective]:
        """List the objectives whose parent is `objective_id`."""
        return [o for o in self.objectives.values() if o.parent == objective_id]
