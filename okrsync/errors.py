"""Classified errors, so every caller knows what went wrong and whether to retry.

OkrsyncError
├── ConfigError        config.toml or the environment is invalid (exit 2)
├── MappingError       a mappings/*.toml file is invalid (exit 2)
├── SourceError        a tracker failed this cycle (exit 1); retriable or not
├── DeliveryError      an alert channel refused a delivery; permanent or not
└── WriteError         write-back into a tracker failed (recorded, retried next cycle)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class OkrsyncError(Exception):
    """Base of every error okrsync raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One invalid thing in a user's file: where it is, which field, what was expected."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}"


class InputError(OkrsyncError):
    """Invalid user input, carrying every problem found so the user can fix them at once."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ConfigError(InputError):
    """config.toml or an OKRSYNC_* variable is invalid."""


class MappingError(InputError):
    """A mappings/*.toml file is invalid."""


class SourceError(OkrsyncError):
    """A tracker failed; the message names the source and never holds a secret."""

    def __init__(self, source: str, message: str, *, retriable: bool = True) -> None:
        self.source = source
        self.retriable = retriable
        self.detail = message
        super().__init__(f"source {source!r}: {message}")

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled when a poll's fetcher process fails (connectors.forked): rebuilt as raised.
        return (_source_error, (self.source, self.detail, self.retriable))


class DeliveryError(OkrsyncError):
    """An alert channel failed to take a delivery."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        self.permanent = permanent
        super().__init__(message)


class WriteError(OkrsyncError):
    """Write-back into a tracker failed; `stop` when the rest of that source's writes would fail too.

    Never raised out of a cycle: it is recorded under the source and retried next cycle.
    """

    def __init__(self, source: str, message: str, *, stop: bool = False) -> None:
        self.source = source
        self.stop = stop
        super().__init__(f"write-back to {source!r}: {message}")


def _source_error(source: str, message: str, retriable: bool) -> SourceError:
    """Rebuild a pickled SourceError (its keyword-only argument defeats pickle's default)."""
    return SourceError(source, message, retriable=retriable)
