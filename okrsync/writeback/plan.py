"""What to write: targets, their hashes against what the store remembers, and what a write did.

A `Target` is one thing okrsync keeps in a tracker (a dashboard, a milestone's section, an
epic's property or comment) with its rendering. Its hash is compared with the hash stored
when it was last written (`WritebackTarget.content_hash`): equal means nothing to do and no
request at all, which is what keeps a quiet cycle free. Only a target whose rendering changed,
or that was never written, goes to a writer, which reads the tracker's current text, splices,
and writes only if the result differs from what is there.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from typing import Literal

from okrsync.store import WritebackTarget

TargetKind = Literal["dashboard", "milestone", "epic-property", "epic-comment"]
Action = Literal["created", "updated", "unchanged", "closed"]


@dataclass(frozen=True)
class Target:
    """One thing to keep in a tracker, and what it should say now.

    `container` is the repo or project it lives in; `ref` identifies it there (a milestone
    number, an epic key; empty for a dashboard, of which there is one per container);
    `content` is the rendering okrsync owns (the marked section, or a property's JSON);
    `label` says which it is, for people. A `remove` target has no content: its section is
    taken out and the store forgets it.
    """

    kind: TargetKind
    container: str
    ref: str
    content: str
    label: str
    remove: bool = False  # take okrsync's section out (a milestone no longer linked to any KR)

    @property
    def key(self) -> str:
        """The target's name in the store, unique within its source."""
        if self.kind == "dashboard":
            return f"dashboard:{self.container}"
        if self.kind == "milestone":
            return f"milestone:{self.container}#{self.ref}"  # numbers repeat across repos
        return f"{self.kind}:{self.ref}"  # a Jira key names its project already

    @property
    def digest(self) -> str:
        return content_hash(self.content)


def content_hash(content: str) -> str:
    """Hash a rendering: what the store keeps to tell a changed one from an unchanged one."""
    return hashlib.sha256(content.encode()).hexdigest()


def needs_write(target: Target, stored: WritebackTarget | None) -> bool:
    """Say whether `target` must go to the tracker: never written, or rendered differently."""
    return stored is None or stored.remote_id is None or stored.content_hash != target.digest


@dataclass
class Result:
    """What a writer did with one target (or, in a dry run, would do)."""

    target: Target
    action: Action
    remote_id: str | None = None
    before: str | None = None  # the tracker's text before (None: the thing did not exist)
    after: str | None = None  # the text written, or that a dry run would write
    note: str = ""

    def diff(self) -> str:
        """A unified diff of the tracker's text, before against after."""
        if self.after is None:
            return ""
        lines = difflib.unified_diff(
            (self.before or "").splitlines(),
            self.after.splitlines(),
            fromfile=f"{self.target.label} (now)",
            tofile=f"{self.target.label} (okrsync)",
            lineterm="",
        )
        return "\n".join(lines)
