"""Read the mappings as they are in a folder or at a git revision, for `okrsync diff`.

Each side of a diff is either an existing folder (read as it is) or a git revision of the repo
that holds the configured mappings folder (`main`, `HEAD~1`, `origin/main`, a commit): the
`*.toml` files directly in that folder at that revision are written to a scratch folder and
read by the same loader as `okrsync validate`. A name that is both a folder and a revision is
taken as the folder. A revision without the folder, or with no `*.toml` in it, holds no OKRs
(a pull request that introduces the mappings diffs against nothing), rather than being an
error. A problem in a file at a revision names it `REV:path/in/repo.toml:line`.
"""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path
from typing import Any

from okrsync.errors import InputError, MappingError, Problem
from okrsync.mappings import load_okrs
from okrsync.okrs import OkrSet


def load_side(spec: str, *, settings: Any, scratch: Path) -> OkrSet:
    """Load the OKRs of one side of a diff: the folder `spec`, or the mappings at revision `spec`."""
    folder = Path(spec)
    if folder.is_dir():
        return load_okrs(folder, settings=settings)
    mappings: Path = settings.okrsync.mappings
    toplevel, inside = _repo_of(mappings, spec=spec)
    target = scratch / _safe(spec)
    target.mkdir(parents=True)
    names = _toml_files(toplevel, spec, inside)
    if not names:
        return OkrSet(cycles={}, objectives={})
    for name in names:
        blob = f"{spec}:{inside}/{name}" if inside != "." else f"{spec}:{name}"
        (target / name).write_bytes(_git(toplevel, "show", blob, spec=spec))
    try:
        return load_okrs(target, settings=settings)
    except InputError as exc:
        prefix = f"{spec}:{inside}/" if inside != "." else f"{spec}:"
        problems = [_renamed(p, folder=target, prefix=prefix) for p in exc.problems]
        raise MappingError(problems) from None


def _renamed(problem: Problem, *, folder: Path, prefix: str) -> Problem:
    """Name a file of the scratch folder as `REV:path` in the user's repo."""
    for scratch_name in (str(folder) + "/", str(folder.resolve()) + "/"):
        if problem.file.startswith(scratch_name):
            return dataclasses.replace(problem, file=prefix + problem.file[len(scratch_name) :])
    return problem


def _safe(spec: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in spec) or "rev"


def _repo_of(mappings: Path, *, spec: str) -> tuple[Path, str]:
    """Find the git repo holding the mappings folder, and the folder's path inside it."""
    probe = mappings if mappings.is_dir() else mappings.parent
    while not probe.is_dir():
        probe = probe.parent
    done = subprocess.run(
        ["git", "-C", str(probe), "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        msg = f"{spec!r} is not a folder, and the mappings folder {mappings} is not in a git repo to read a revision from"
        raise MappingError([Problem(spec, None, "revision", msg)])
    toplevel = Path(done.stdout.strip()).resolve()
    try:
        inside = mappings.resolve().relative_to(toplevel).as_posix()
    except ValueError:
        msg = f"the mappings folder {mappings} lies outside its git repo {toplevel}"
        raise MappingError([Problem(spec, None, "revision", msg)]) from None
    return toplevel, inside or "."


def _toml_files(toplevel: Path, spec: str, inside: str) -> list[str]:
    """List the *.toml files directly in `inside` at revision `spec` (none when it is absent)."""
    _git(toplevel, "rev-parse", "--verify", "--quiet", f"{spec}^{{commit}}", spec=spec)
    listing = _git(
        toplevel, "ls-tree", "-z", "--name-only", spec, f"{inside}/" if inside != "." else ".", spec=spec
    )
    names = [Path(item).name for item in listing.decode().split("\0") if item.endswith(".toml")]
    return sorted(names)


def _git(toplevel: Path, *args: str, spec: str) -> bytes:
    done = subprocess.run(["git", "-C", str(toplevel), *args], capture_output=True, check=False)
    if done.returncode != 0:
        detail = done.stderr.decode(errors="replace").strip().splitlines()
        reason = f"git: {detail[-1]}" if detail else "no such folder or revision"
        msg = f"expected a folder or a git revision (branch, tag or commit) of {toplevel}; {reason}"
        raise MappingError([Problem(spec, None, "revision", msg)])
    return done.stdout
