"""Say what a change to the mappings does to the OKRs (`okrsync diff A B`).

The comparison is of two validated `OkrSet`s, so formatting, comments and file layout never
show: only objectives and key results added, removed or renamed, and the fields that change
what is measured or who answers for it (targets, owners, links, due days, weights...).

**Renamed** means one of two things, both common in a review: the same id with a new title
(the wording was improved), or the same title under a new id (renumbered: `ENG-1.3` became
`ENG-2.1`), matched only when exactly one removed and one added item share that title. An
item whose id and title both change is a removal and an addition: nothing else links the two.
A renamed item's other changes are listed with it.

A KR's **links** are matched by the milestone they name (`progress.link_key`: the repo and
milestone, the Jira version or epic, a JQL set's title), so a changed weight, due day or JQL
text is a change of that link, and naming another milestone is one removed and one added.

**Progress before and after** (given a database): both sides are rolled up by the same code
as `okrsync status` (`progress.compute`) over the same stored issues, milestones, values and
check-ins, so the difference is what the change to the mappings does, and nothing that
happened in the trackers since the last sync. When A is what the daemon runs, "before" is what
`status` shows. A metric KR whose `value_query` changes keeps its stored value until the next
sync measures the new query; the diff says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

from okrsync.okrs import Cycle, KeyResult, Link, Objective, OkrSet
from okrsync.progress import link_key

ChangeKind = Literal["added", "removed", "renamed", "changed"]


@dataclass(frozen=True)
class FieldChange:
    """One field of an item, before and after (text as a user would write it; None: not set)."""

    field: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class ItemChange:
    """An objective or key result that the change adds, removes, renames or changes."""

    what: Literal["objective", "key result"]
    change: ChangeKind
    id: str
    title: str
    old_id: str | None = None  # the id before, when it changed
    old_title: str | None = None  # the title before, when it changed
    fields: tuple[FieldChange, ...] = ()


@dataclass(frozen=True)
class KrMovement:
    """A changed key result's progress rolled up with the old and with the new mappings."""

    id: str
    before: float | None  # None: the KR is new
    after: float | None  # None: the KR is removed
    status_before: str | None
    status_after: str | None
    note: str | None = None


@dataclass(frozen=True)
class OkrDiff:
    """Everything `okrsync diff` reports; `progress` is empty when no database was read."""

    before: str
    after: str
    cycles: tuple[FieldChange, ...]
    objectives: tuple[ItemChange, ...]
    key_results: tuple[ItemChange, ...]
    progress: tuple[KrMovement, ...] = ()
    progress_note: str | None = None  # why progress is missing, when it is

    @property
    def empty(self) -> bool:
        return not (self.cycles or self.objectives or self.key_results)


def compare(before: OkrSet, after: OkrSet, *, before_name: str, after_name: str) -> OkrDiff:
    """Compare two sets of OKRs (see the module docstring for what counts as what)."""
    objectives = _items("objective", before.objectives, after.objectives, fields=_objective_fields)
    key_results = _items(
        "key result",
        before.key_results,
        after.key_results,
        fields=_kr_fields,
    )
    return OkrDiff(
        before=before_name,
        after=after_name,
        cycles=tuple(_cycle_changes(before.cycles, after.cycles)),
        objectives=tuple(objectives),
        key_results=tuple(key_results),
    )


def _items(
    what: Literal["objective", "key result"],
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    *,
    fields: Callable[[Any, Any], list[FieldChange]],
) -> list[ItemChange]:
    removed = [i for i in old if i not in new]
    added = [i for i in new if i not in old]
    # Same title, new id: a unique title on each side pairs them up.
    renumbered: dict[str, str] = {}
    for old_id in removed:
        title = old[old_id].title
        same_old = [i for i in removed if old[i].title == title]
        same_new = [i for i in added if new[i].title == title]
        if len(same_old) == 1 and len(same_new) == 1:
            renumbered[old_id] = same_new[0]
    changes: list[ItemChange] = []
    for ident, item in new.items():
        if ident in old:
            before = old[ident]
            diffs = tuple(fields(before, item))
            if before.title != item.title:
                changes.append(
                    ItemChange(what, "renamed", ident, item.title, old_title=before.title, fields=diffs)
                )
            elif diffs:
                changes.append(ItemChange(what, "changed", ident, item.title, fields=diffs))
        elif ident in renumbered.values():
            old_id = next(o for o, n in renumbered.items() if n == ident)
            diffs = tuple(fields(old[old_id], item))
            changes.append(ItemChange(what, "renamed", ident, item.title, old_id=old_id, fields=diffs))
        else:
            changes.append(ItemChange(what, "added", ident, item.title, fields=tuple(fields(None, item))))
    for ident in removed:
        if ident not in renumbered:
            changes.append(ItemChange(what, "removed", ident, old[ident].title))
    return changes


def _text(value: Any) -> str | None:
    """Show a value as a user wrote it: 100 rather than 100.0, dates as ISO days."""
    if value is None or value == "":
        return None
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _field_changes(before: Any, after: Any, names: Sequence[str]) -> Iterable[FieldChange]:
    """Yield the named fields that differ; with no `before` (an addition), the ones set."""
    for name in names:
        old = _text(getattr(before, name)) if before is not None else None
        new = _text(getattr(after, name))
        if old != new:
            yield FieldChange(name, old, new)


_OBJECTIVE_FIELDS = ("owner", "team", "parent", "weight", "cycle_id")
_KR_FIELDS = (
    "owner",
    "kind",
    "baseline",
    "target",
    "unit",
    "commitment",
    "weight",
    "weighting",
    "value_query",
    "value_source",
    "value_aggregate",
    "value_field",
    "in_progress_weight",
    "measurement",
)
_DEFAULTS = {
    "weight": "1",
    "kind": "milestones",
    "commitment": "aspirational",
    "weighting": "count",
    "value_aggregate": "count",
}


def _objective_fields(before: Objective | None, after: Objective) -> list[FieldChange]:
    changes = list(_field_changes(before, after, _OBJECTIVE_FIELDS))
    return [_named(c) for c in changes if before is not None or _DEFAULTS.get(c.field) != c.after]


def _named(change: FieldChange) -> FieldChange:
    return FieldChange("cycle", change.before, change.after) if change.field == "cycle_id" else change


def _kr_fields(before: KeyResult | None, after: KeyResult) -> list[FieldChange]:
    changes = [
        c
        for c in _field_changes(before, after, _KR_FIELDS)
        if before is not None or _DEFAULTS.get(c.field) != c.after
    ]
    if before is not None and before.objective_id != after.objective_id:
        changes.insert(0, FieldChange("objective", before.objective_id, after.objective_id))
    changes += _link_changes(before.links if before is not None else (), after.links)
    return changes


def _link_text(link: Link) -> str:
    parts = [link.label]
    if link.kind == "jira_jql":
        parts.append(f"due {link.due}")
    if link.weight != 1:
        parts.append(f"weight {_text(link.weight)}")
    return ", ".join(parts)


def _link_changes(before: Sequence[Link], after: Sequence[Link]) -> list[FieldChange]:
    old = {(link.source, link_key(link)): link for link in before}
    new = {(link.source, link_key(link)): link for link in after}
    changes = []
    for key, link in new.items():
        if key not in old:
            changes.append(FieldChange("link", None, _link_text(link)))
            continue
        was = old[key]
        for name, label in (("weight", "weight"), ("due", "due"), ("target", "jql")):
            if name == "target" and link.kind != "jira_jql":
                continue
            a, b = _text(getattr(was, name)), _text(getattr(link, name))
            if a != b:
                changes.append(FieldChange(f"link {link.label}: {label}", a, b))
    for key, link in old.items():
        if key not in new:
            changes.append(FieldChange("link", _link_text(link), None))
    return changes


def _cycle_changes(before: Mapping[str, Cycle], after: Mapping[str, Cycle]) -> Iterable[FieldChange]:
    """Cycle dates matter: a cycle's end is the due day of its `kr:` label milestones."""
    for ident in sorted({*before, *after}):
        old, new = before.get(ident), after.get(ident)
        show_old = f"{old.start} – {old.end}" if old else None
        show_new = f"{new.start} – {new.end}" if new else None
        if show_old != show_new:
            yield FieldChange(f"cycle {ident}", show_old, show_new)


def with_progress(
    diff: OkrDiff, before: OkrSet, after: OkrSet, *, session: Any, settings: Any, today: date
) -> OkrDiff:
    """Add each changed KR's progress with the old and the new mappings, over the stored data."""
    from okrsync.progress import compute

    old_rollup, _ = compute(session, before, settings, today=today)
    new_rollup, _ = compute(session, after, settings, today=today)
    movements = []
    for change in diff.key_results:
        old_id = change.old_id or change.id
        was = old_rollup.key_results.get(old_id) if change.change != "added" else None
        now = new_rollup.key_results.get(change.id) if change.change != "removed" else None
        note = None
        if any(
            c.field in ("value_query", "value_source", "value_aggregate", "value_field")
            for c in change.fields
        ):
            note = "the new query is measured at the next sync; its stored value is shown"
        movements.append(
            KrMovement(
                id=change.id,
                before=was.progress if was else None,
                after=now.progress if now else None,
                status_before=was.status if was else None,
                status_after=now.status if now else None,
                note=note,
            )
        )
    return dataclasses.replace(diff, progress=tuple(movements))


def without_progress(diff: OkrDiff, reason: str) -> OkrDiff:
    """Say why the diff carries no progress (no database, or one behind this okrsync)."""
    return dataclasses.replace(diff, progress_note=reason)


def read_only_store(url: str) -> tuple[Any, str | None]:
    """Open the config's database for reading progress, or say why not, writing nothing.

    `diff` runs in CI and in hooks, where the database is often absent: a SQLite file that
    does not exist is not created, and a database that is empty or at another schema revision
    is not migrated (that is the daemon's job), so the diff goes on without progress.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from okrsync.store import SCHEMA_HEADS, make_engine, schema_revisions

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or parsed.database == ":memory:" or not Path(parsed.database).is_file():
            return None, f"no database at {parsed.database or 'memory'}"
    engine = make_engine(url)
    try:
        revisions = schema_revisions(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        return None, f"cannot read the database ({type(exc).__name__})"
    if revisions != SCHEMA_HEADS:
        engine.dispose()
        return None, "the database has not been synced by this okrsync version"
    return engine, None
