"""Load mappings/*.toml (OKRs as code) into one validated `OkrSet`, or report every problem.

The format is SPEC §3. Each file has one `[cycle]` (id, start, end) and any number of
`[[objective]]`, each with `[[objective.key_result]]`, each with
`[[objective.key_result.link]]`. Several files may share a cycle (with identical dates); ids of
objectives and key results share one namespace across all files.

okrsync additions to the format:

- objective `weight` (default 1): its weight in its parent objective's mean.
- key result `weighting = "count" | "points"` (default "count"): how its milestones weigh
  their issues (1 each, or story points; SPEC §2).
- metric key result `value_query` + `value_source`: a GitHub issue-search string or a JQL
  query, run on the configured source `value_source`; its result count is the KR's value.
- metric key result `value_aggregate = "count" | "sum" | "average"` (default "count") with
  `value_field`: the sum or average of a numeric field over `value_query`'s issues (a Jira
  field by name or id; on GitHub only `points`, from `points:N` labels).
- key result `in_progress_weight` (0 up to 1; default: its sources' `in_progress_weight`, else
  0): the share of an in-progress issue counted as done (partial credit).
- link `weight` (default 1): the milestone's weight in its KR's mean.

The keys each table may hold, their types and choices are declared once in
`okrsync.mappingformat` (also the source of `okrsync schema mappings`).

A link names a configured `source` and exactly one of:

| keys                             | link kind          | source kind | target         |
|----------------------------------|--------------------|-------------|----------------|
| `repo` + `milestone` (title)     | `github_milestone` | github      | the repo       |
| `repo` + `number`                | `github_milestone` | github      | the repo       |
| `version = "ONB/2.0"`            | `jira_version`     | jira        | `ONB/2.0`      |
| `epic = "ONB-12"`                | `jira_epic`        | jira        | `ONB-12`       |
| `jql` + `due` + `title`          | `jira_jql`         | jira        | the JQL text   |

Dates are TOML dates (`2026-10-01`); a quoted ISO date is accepted too. Every problem names
`file:line`, the field path (`objective[1].key_result[0].link[2].source`) and what was
expected; all files are read before one `MappingError` lists them all, so nothing reaches the
database while any file is invalid. Best-practice findings are not errors: they come back as
the set's `warnings` (see `okrsync.lint`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any, cast

from pydantic import ValidationError

from okrsync.errors import InputError, MappingError, Problem
from okrsync.lint import lint
from okrsync.mappingformat import (
    ID_PATTERN,
    ISSUE_KEY_PATTERN,
    REPO_PATTERN,
    CycleTable,
    KeyResultTable,
    LinkTable,
    MappingFile,
    ObjectiveTable,
    choices,
    keys,
)
from okrsync.okrs import (
    Aggregate,
    Commitment,
    Cycle,
    KeyResult,
    KrKind,
    Link,
    LinkKind,
    Objective,
    OkrSet,
    Weighting,
    Where,
)
from okrsync.settings import Settings
from okrsync.tomlpos import KeyPath, TomlPositions, line_of, load_toml, show_value, unknown_key_message

# The keys each table may hold are declared once, in okrsync.mappingformat (also the JSON Schema).
FILE_KEYS = keys(MappingFile)
CYCLE_KEYS = keys(CycleTable)
OBJECTIVE_KEYS = keys(ObjectiveTable)
KR_KEYS = keys(KeyResultTable)
LINK_KEYS = keys(LinkTable)

# Which key picks the link kind, and the source kind it needs.
_SELECTORS: dict[str, tuple[LinkKind, str]] = {
    "milestone": ("github_milestone", "github"),
    "number": ("github_milestone", "github"),
    "version": ("jira_version", "jira"),
    "epic": ("jira_epic", "jira"),
    "jql": ("jira_jql", "jira"),
}
_ONE_OF = "exactly one of milestone, number, version, epic or jql"

# Ids end up in tracker labels (`kr:ENG-1.1`), so they must survive being a label.
_ID = re.compile(ID_PATTERN)
_REPO = re.compile(REPO_PATTERN)
_ISSUE_KEY = re.compile(ISSUE_KEY_PATTERN)


def load_okrs(folder: Path, *, settings: Settings) -> OkrSet:
    """Read every *.toml in `folder` (sorted) and validate them together against `settings`.

    Raises MappingError with every problem of every file; returns the set otherwise, whose
    lint warnings are found when first read (only `validate` shows them). Record positions
    are resolved lazily too (`Where.later`): a run that shows no message never scans a file
    for its key lines.
    """
    files = sorted(folder.glob("*.toml")) if folder.is_dir() else []
    if not files:
        found = "no such folder" if not folder.is_dir() else "it holds no *.toml file"
        msg = f"expected a folder of mapping files (*.toml) at {_display(folder)}, {found}"
        raise MappingError([Problem(*_mappings_setting(settings), "okrsync.mappings", msg)])
    loader = _Loader(settings)
    for path in files:
        loader.read(path)
    return loader.finish(people=list(settings.people))


def _mappings_setting(settings: Settings) -> tuple[str, int | None]:
    """Say where `okrsync.mappings` was set: the config file and line (None when defaulted)."""
    config = settings.config_path
    if config is None or not config.is_file():
        return "config", None
    return _display(config), line_of(config.read_text(), ("okrsync", "mappings"))


def _display(path: Path) -> str:
    """Name a file for messages: relative to the working directory when it lies below it."""
    if path.is_absolute():
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            pass
    return str(path)


def _dotted(path: KeyPath) -> str:
    """Format a key path as users read it: `objective[1].key_result[0].link[2].source`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass
class _File:
    """One mapping file being read: its text (for line numbers) and where problems go.

    Records get a `Where` whose line is found when first shown: the file is scanned for
    key lines only if a message (an error, a warning) needs one.
    """

    display: str
    text: str
    problems: list[Problem]
    positions: TomlPositions = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.positions = TomlPositions(self.text)

    def line(self, path: KeyPath) -> int:
        return self.positions.line_of(path)

    def where(self, path: KeyPath) -> Where:
        return Where.later(self.display, self.positions.line_of, path)

    def add(self, path: KeyPath, message: str) -> None:
        self.problems.append(Problem(self.display, self.line(path), _dotted(path), message))

    # -- typed reads: each returns None (after recording a problem) when the value is bad ---

    def keys(self, table: dict[str, Any], path: KeyPath, known: Sequence[str]) -> None:
        for key in table:
            if key not in known:
                self.add((*path, key), unknown_key_message(key, known))

    def string(self, table: dict[str, Any], path: KeyPath, key: str, *, required: bool = False) -> str | None:
        if key not in table:
            if required:
                self.add((*path, key), "missing; expected a non-empty string")
            return None
        value = table[key]
        if not isinstance(value, str) or not value.strip():
            self.add((*path, key), f"expected a non-empty string, got {show_value(value)}")
            return None
        return value

    def ident(self, table: dict[str, Any], path: KeyPath, key: str, *, required: bool = False) -> str | None:
        value = self.string(table, path, key, required=required)
        if value is not None and not _ID.fullmatch(value):
            self.add((*path, key), f"expected an id of letters, digits, '.', '_' or '-', got {value!r}")
            return None
        return value

    def number(
        self, table: dict[str, Any], path: KeyPath, key: str, *, positive: bool = False
    ) -> float | None:
        if key not in table:
            return None
        value = table[key]
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or (positive and value <= 0):
            expected = "a number > 0" if positive else "a number"
            self.add((*path, key), f"expected {expected}, got {show_value(value)}")
            return None
        return float(value)

    def fraction(self, table: dict[str, Any], path: KeyPath, key: str) -> float | None:
        """Read a share from 0 up to (not including) 1, such as `in_progress_weight`."""
        value = self.number(table, path, key)
        if value is not None and not 0 <= value < 1:
            self.add((*path, key), f"expected a number from 0 up to (not including) 1, got {_num(value)}")
            return None
        return value

    def integer(self, table: dict[str, Any], path: KeyPath, key: str) -> int | None:
        value = table[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            self.add((*path, key), f"expected an integer ≥ 1, got {show_value(value)}")
            return None
        return value

    def day(self, table: dict[str, Any], path: KeyPath, key: str, *, required: bool = False) -> date | None:
        if key not in table:
            if required:
                self.add((*path, key), "missing; expected a date such as 2026-10-01")
            return None
        value = table[key]
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        elif isinstance(value, date) and not isinstance(value, datetime):
            return value
        self.add((*path, key), f"expected a date such as 2026-10-01, got {show_value(value)}")
        return None

    def choice(self, table: dict[str, Any], path: KeyPath, key: str, options: Sequence[str]) -> str | None:
        """Read one of `options`; absent means the first (the default)."""
        value = table.get(key, options[0])
        if value not in options:
            expected = " or ".join(repr(o) for o in options)
            self.add((*path, key), f"expected {expected}, got {show_value(value)}")
            return None
        return str(value)

    def array(self, table: dict[str, Any], path: KeyPath, key: str) -> list[tuple[KeyPath, dict[str, Any]]]:
        """Read an array of tables (`[[objective]]`), with each element's path."""
        value = table.get(key, [])
        if isinstance(value, dict):
            header = _dotted(tuple(p for p in (*path, key) if isinstance(p, str)))
            self.add((*path, key), f"expected [[{header}]] (an array of tables), got a single table")
            return []
        if not isinstance(value, list):
            self.add((*path, key), f"expected an array of tables, got {show_value(value)}")
            return []
        out = []
        for i, item in enumerate(value):
            if isinstance(item, dict):
                out.append(((*path, key, i), item))
            else:
                self.add((*path, key, i), f"expected a table, got {show_value(item)}")
        return out


@dataclass
class _Seen:
    """Where an id was first defined, for duplicate and reference messages."""

    what: str  # "objective" or "key result"
    where: Where


@dataclass
class _Loader:
    """Reads files one by one, then checks what spans files: cycles, ids, parents."""

    settings: Settings
    problems: list[Problem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    cycles: dict[str, Cycle] = field(default_factory=dict)
    ids: dict[str, _Seen] = field(default_factory=dict)
    objectives: list[Objective] = field(default_factory=list)
    # (objective id, parent id, file, path of the parent key) for the cascade checks.
    parents: list[tuple[str, str, _File, KeyPath]] = field(default_factory=list)

    def read(self, path: Path) -> None:
        display = _display(path)
        self.files.append(display)
        try:
            data, text = load_toml(path, display=display)
        except InputError as exc:
            self.problems.extend(exc.problems)
            return
        f = _File(display, text, self.problems)
        before = len(self.problems)
        f.keys(data, (), FILE_KEYS)
        cycle = self.read_cycle(f, data)
        for opath, table in f.array(data, (), "objective"):
            objective = self.read_objective(f, table, opath, cycle_id=cycle.id if cycle else "")
            if objective is not None and cycle is not None:
                self.objectives.append(objective)
        if len(self.problems) == before:
            self.check_shape(f, data)

    def check_shape(self, f: _File, data: dict[str, Any]) -> None:
        """Validate the file with the models of `okrsync.mappingformat` too, as the JSON Schema does.

        The checks above give the precise messages; this pass guarantees that a file the
        published schema would refuse (it is generated from the same models) is never accepted,
        should the two ever drift apart. It runs only on a file those checks passed.
        """
        try:
            MappingFile.model_validate(data)
        except ValidationError as exc:
            for error in exc.errors():
                got = show_value(error.get("input"))
                f.add(tuple(error["loc"]), f"not accepted by the mappings format ({error['msg']}); got {got}")

    def read_cycle(self, f: _File, data: dict[str, Any]) -> Cycle | None:
        path: KeyPath = ("cycle",)
        table = data.get("cycle")
        if table is None:
            f.add(path, "missing [cycle] table; expected id, start and end")
            return None
        if not isinstance(table, dict):
            f.add(path, f"expected a [cycle] table, got {show_value(table)}")
            return None
        f.keys(table, path, CYCLE_KEYS)
        cycle_id = f.ident(table, path, "id", required=True)
        start = f.day(table, path, "start", required=True)
        end = f.day(table, path, "end", required=True)
        if start is not None and end is not None and end < start:
            f.add((*path, "end"), f"expected a date on or after start ({start}), got {end}")
            return None
        if cycle_id is None or start is None or end is None:
            return None
        cycle = Cycle(cycle_id, start, end, where=f.where(path))
        known = self.cycles.get(cycle_id)
        if known is None:
            self.cycles[cycle_id] = cycle
            return cycle
        ok = True
        for key, mine, theirs in (("start", start, known.start), ("end", end, known.end)):
            if mine != theirs:
                msg = f"expected {theirs}, as cycle {cycle_id!r} has in {known.where}; got {mine}"
                f.add((*path, key), msg)
                ok = False
        return cycle if ok else None

    def claim(self, f: _File, path: KeyPath, ident: str, what: str) -> bool:
        """Register an id; a second definition anywhere is an error at the second one."""
        seen = self.ids.get(ident)
        if seen is not None:
            f.add((*path, "id"), f"duplicate id {ident!r}; already used by the {seen.what} at {seen.where}")
            return False
        self.ids[ident] = _Seen(what, f.where(path))
        return True

    def read_objective(
        self, f: _File, table: dict[str, Any], path: KeyPath, *, cycle_id: str
    ) -> Objective | None:
        f.keys(table, path, OBJECTIVE_KEYS)
        ident = f.ident(table, path, "id", required=True)
        unique = ident is not None and self.claim(f, path, ident, "objective")
        title = f.string(table, path, "title", required=True)
        owner = f.string(table, path, "owner", required=True)
        team = f.string(table, path, "team")
        parent = f.ident(table, path, "parent")
        weight = f.number(table, path, "weight", positive=True)
        bad_weight = "weight" in table and weight is None
        if ident is not None and parent is not None:
            self.parents.append((ident, parent, f, (*path, "parent")))
        krs = []
        for kpath, kr_table in f.array(table, path, "key_result"):
            kr = self.read_key_result(f, kr_table, kpath, objective_id=ident or "")
            if kr is not None:
                krs.append(kr)
        if ident is None or not unique or title is None or owner is None or bad_weight:
            return None
        return Objective(
            id=ident,
            title=title,
            owner=owner,
            cycle_id=cycle_id,
            team=team,
            parent=parent,
            weight=weight if weight is not None else 1.0,
            key_results=tuple(krs),
            where=f.where(path),
        )

    def read_key_result(
        self, f: _File, table: dict[str, Any], path: KeyPath, *, objective_id: str
    ) -> KeyResult | None:
        count = len(self.problems)
        f.keys(table, path, KR_KEYS)
        ident = f.ident(table, path, "id", required=True)
        if ident is not None:
            self.claim(f, path, ident, "key result")
        title = f.string(table, path, "title", required=True)
        owner = f.string(table, path, "owner", required=True)
        kind = f.choice(table, path, "kind", choices(KeyResultTable, "kind"))
        commitment = f.choice(table, path, "commitment", choices(KeyResultTable, "commitment"))
        weighting = f.choice(table, path, "weighting", choices(KeyResultTable, "weighting"))
        aggregate = f.choice(table, path, "value_aggregate", choices(KeyResultTable, "value_aggregate"))
        baseline = f.number(table, path, "baseline")
        target = f.number(table, path, "target")
        unit = f.string(table, path, "unit")
        measurement = f.string(table, path, "measurement") if "measurement" in table else ""
        weight = f.number(table, path, "weight", positive=True)
        value_query = f.string(table, path, "value_query")
        value_source = f.string(table, path, "value_source")
        value_field = f.string(table, path, "value_field")
        in_progress_weight = f.fraction(table, path, "in_progress_weight")

        if baseline is not None and target is not None and baseline == target:
            f.add((*path, "target"), f"expected a target different from the baseline ({_num(baseline)})")
        if kind == "metric":
            for key in ("baseline", "target"):
                if key not in table:
                    f.add(
                        (*path, key), "missing; a metric key result needs a baseline and a target (numbers)"
                    )
        if kind == "milestones" and "value_query" in table:
            f.add(
                (*path, "value_query"),
                "expected no value_query on a milestones key result (its progress comes from its "
                'links); set kind = "metric" to measure a count',
            )
        if value_query is not None and "value_source" not in table:
            f.add((*path, "value_source"), "missing; expected the name of the source that runs value_query")
        if value_source is not None:
            if "value_query" not in table:
                f.add((*path, "value_source"), "expected value_source only together with value_query")
            self.check_source(f, (*path, "value_source"), value_source, needed=None, selector=None)
        self.check_aggregate(f, table, path, aggregate=aggregate, value_field=value_field)

        links = []
        for lpath, link_table in f.array(table, path, "link"):
            link = self.read_link(f, link_table, lpath)
            if link is not None:
                links.append(link)
        if (
            len(self.problems) > count
            or ident is None
            or title is None
            or owner is None
            or kind is None
            or commitment is None
            or weighting is None
            or aggregate is None
        ):
            return None
        return KeyResult(
            id=ident,
            title=title,
            owner=owner,
            objective_id=objective_id,
            kind=cast(KrKind, kind),
            baseline=baseline,
            target=target,
            unit=unit,
            commitment=cast(Commitment, commitment),
            measurement=measurement or "",
            weight=weight if weight is not None else 1.0,
            weighting=cast(Weighting, weighting),
            links=tuple(links),
            value_query=value_query,
            value_source=value_source,
            value_aggregate=cast(Aggregate, aggregate),
            value_field=value_field,
            in_progress_weight=in_progress_weight,
            where=f.where(path),
        )

    def check_aggregate(
        self,
        f: _File,
        table: dict[str, Any],
        path: KeyPath,
        *,
        aggregate: str | None,
        value_field: str | None,
    ) -> None:
        """Check `value_aggregate` and `value_field`: a sum or an average needs a numeric field.

        GitHub issues carry no numeric fields, only labels, so on a GitHub source the one field
        is `points` (from `points:N` labels, as `weighting = "points"` reads them).
        """
        for key in ("value_aggregate", "value_field"):
            if key in table and "value_query" not in table:
                f.add((*path, key), f"expected {key} only together with value_query")
        if aggregate in ("sum", "average") and "value_field" not in table:
            f.add(
                (*path, "value_field"),
                f"missing; value_aggregate = {aggregate!r} needs the numeric field to {aggregate}"
                " (a Jira field name such as 'Story Points'; GitHub: 'points')",
            )
        if aggregate == "count" and "value_field" in table:
            f.add(
                (*path, "value_field"), 'expected value_field only with value_aggregate = "sum" or "average"'
            )
        source = self.settings.sources.get(str(table.get("value_source")))
        if (
            value_field is not None
            and source is not None
            and source.kind == "github"
            and value_field != "points"
        ):
            f.add(
                (*path, "value_field"),
                f"expected 'points' on a GitHub source (issues have no numeric fields; points come from"
                f" points:N labels), got {value_field!r}",
            )

    def check_source(
        self, f: _File, path: KeyPath, name: str, *, needed: str | None, selector: str | None
    ) -> bool:
        """Check that a link or query names a configured source of the kind it needs."""
        sources = self.settings.sources
        if name not in sources:
            if not sources:
                f.add(path, f"unknown source {name!r}; no sources are configured in [sources]")
                return False
            close = difflib.get_close_matches(name, list(sources), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else "expected one of: " + ", ".join(sources)
            f.add(path, f"unknown source {name!r}; {hint}")
            return False
        actual = sources[name].kind
        if needed is not None and actual != needed:
            f.add(path, f"expected a {needed} source for a {selector} link; {name!r} is a {actual} source")
            return False
        return True

    def read_link(self, f: _File, table: dict[str, Any], path: KeyPath) -> Link | None:
        count = len(self.problems)
        f.keys(table, path, LINK_KEYS)
        source = f.string(table, path, "source", required=True)
        weight = f.number(table, path, "weight", positive=True)
        selectors = [k for k in _SELECTORS if k in table]
        if not selectors:
            f.add(path, f"expected {_ONE_OF}; got none")
            return None
        if len(selectors) > 1:
            f.add((*path, selectors[1]), f"expected {_ONE_OF}; got {' and '.join(selectors)}")
            return None
        selector = selectors[0]
        kind, needed = _SELECTORS[selector]
        if source is not None:
            self.check_source(f, (*path, "source"), source, needed=needed, selector=selector)

        target = milestone = title = None
        number = None
        due = None
        if kind == "github_milestone":
            repo = f.string(table, path, "repo")
            if "repo" not in table:
                f.add((*path, "repo"), f'missing; a {selector} link needs repo = "owner/name"')
            elif repo is not None and not _REPO.fullmatch(repo):
                f.add((*path, "repo"), f"expected a repo as 'owner/name', got {repo!r}")
            target = repo
            if selector == "milestone":
                milestone = f.string(table, path, "milestone")
            else:
                number = f.integer(table, path, "number")
        elif kind == "jira_version":
            target = f.string(table, path, "version")
            if target is not None and not re.fullmatch(r"[^/\s]+/.+", target):
                f.add(
                    (*path, "version"), f"expected 'PROJECT/version name' such as 'ONB/2.0', got {target!r}"
                )
        elif kind == "jira_epic":
            target = f.string(table, path, "epic")
            if target is not None and not _ISSUE_KEY.fullmatch(target):
                f.add((*path, "epic"), f"expected an epic's issue key such as 'ONB-12', got {target!r}")
        else:
            target = f.string(table, path, "jql")
            due = f.day(table, path, "due", required=True)
            title = f.string(table, path, "title", required=True)

        if kind != "github_milestone" and "repo" in table:
            f.add((*path, "repo"), "expected repo only on a milestone or number link")
        if kind != "jira_jql":
            for key in ("due", "title"):
                if key in table:
                    f.add(
                        (*path, key), f"expected {key} only on a jql link (a tracker milestone has its own)"
                    )
        if len(self.problems) > count or source is None or target is None:
            return None
        return Link(
            source=source,
            kind=kind,
            target=target,
            milestone=milestone,
            number=number,
            title=title,
            due=due,
            weight=weight if weight is not None else 1.0,
            where=f.where(path),
        )

    def finish(self, *, people: Sequence[str]) -> OkrSet:
        """Check the cascade across files, then return the set or raise every problem."""
        by_id = {o.id: o for o in self.objectives}
        graph: dict[str, str] = {}
        for child, parent, f, path in self.parents:
            if parent in by_id or (parent in self.ids and self.ids[parent].what == "objective"):
                graph[child] = parent
                continue
            seen = self.ids.get(parent)
            if seen is not None:
                f.add(path, f"expected an objective id; {parent!r} is a key result ({seen.where})")
                continue
            objectives = [i for i, s in self.ids.items() if s.what == "objective"]
            close = difflib.get_close_matches(parent, objectives, n=1, cutoff=0.6)
            hint = (
                f"did you mean {close[0]!r}?"
                if close
                else "expected the id of an objective in any mapping file"
            )
            f.add(path, f"unknown objective id {parent!r}; {hint}")
        self._check_loops(graph)
        if self.problems:
            order = {name: i for i, name in enumerate(self.files)}
            self.problems.sort(key=lambda p: (order.get(p.file, len(order)), p.line or 0))
            raise MappingError(self.problems)
        unlabelled = [
            name
            for name, source in self.settings.sources.items()
            if source.kind == "github" and not getattr(source, "in_progress_labels", None)
        ]
        # Linted when `warnings` is first read (validate): sorting them needs lines, a scan.
        find_warnings = partial(lint, people=list(people), unlabelled=unlabelled)
        return OkrSet(cycles=dict(self.cycles), objectives=by_id, lint=find_warnings)

    def _check_loops(self, graph: dict[str, str]) -> None:
        """Report each parent loop (A → B → A) once, at its first objective in file order."""
        reported: set[str] = set()
        for child, _parent, f, path in self.parents:
            if child in reported or child not in graph:
                continue
            chain = [child]
            node = graph[child]
            while node in graph and node not in chain:
                chain.append(node)
                node = graph[node]
            if node != child:
                continue  # the walk ended at a top objective, or joins a loop elsewhere
            reported.update(chain)
            loop = " → ".join([*chain, child])
            f.add(path, f"expected the parents to end at a top objective; they loop: {loop}")


def _num(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)
