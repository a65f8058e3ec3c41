"""`okrsync validate` warns about a source that has no credentials at all.

A source without a token is not invalid: GitHub answers public repos anonymously (60 requests
an hour) and a Jira server may allow anonymous reads. But for most users it is a forgotten
secret, and the first they would hear of it is a `sync` failing with 401 and every KR it
feeds staying `unknown`. So `validate` names the source and where okrsync would read its
token from, and still passes, even with `--strict`: the warning is about the machine's
environment, not the files, and the pre-commit hook and the CI action run `validate --strict`
where no tracker secret exists (and should not).

The message names the variable and the keys, never a value: there is none to name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from okrsync.errors import Problem
from okrsync.tomlpos import line_of

__all__ = ["missing_credentials", "token_variable"]


def token_variable(source: str) -> str:
    """The environment variable that sets a source's token (`-` in a name is written `_`)."""
    return f"OKRSYNC_SOURCES__{source.upper().replace('-', '_')}__TOKEN"


def _has_credentials(source: Any) -> bool:
    if source.token is not None:
        return True
    # GitHub App auth stands instead of a token (settings check it is complete).
    return getattr(source, "app_id", None) is not None


def missing_credentials(settings: Any, config: Path | None) -> list[Problem]:
    """Return a warning per configured source with neither a token nor GitHub App auth."""
    text = config.read_text(encoding="utf-8-sig") if config is not None and config.is_file() else ""
    file = str(config) if config is not None else "<environment>"
    warnings = []
    for name, source in settings.sources.items():
        if _has_credentials(source):
            continue
        line = line_of(text, ("sources", name)) if text else None
        app = (
            " or GitHub App auth (app_id, app_private_key, installation_id)"
            if source.kind == "github"
            else ""
        )
        warnings.append(
            Problem(
                file,
                line,
                f"sources.{name}",
                f"no token: set {token_variable(name)} (or token, token_env or token_file in"
                f" [sources.{name}]){app}; without one the tracker will most likely refuse"
                " `okrsync sync` and what this source feeds stays unknown",
            )
        )
    return warnings
