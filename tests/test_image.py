"""The image's supply chain, checked without Docker: hashed locks, a pinned base, OCI labels,
dependencies in a layer of their own, and the same lock for `make install` as for the image."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
LOCKS = {name: ROOT / f"requirements/{name}.lock" for name in ("dev", "image", "build")}
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def pins(lock: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) for every requirement of a pip-compile / uv lock."""
    found: dict[str, tuple[str, list[str]]] = {}
    entry = ""
    for line in lock.read_text().splitlines() + [""]:
        if line.startswith((" ", "\t")) and not line.strip().startswith("#"):
            entry += " " + line.strip()
            continue
        if entry:
            requirement, *options = entry.replace("\\", " ").split()
            name, _, version = requirement.partition("==")
            assert version, f"{lock.name}: {requirement} is not pinned with =="
            assert all(o.startswith("--hash=sha256:") for o in options), entry
            found[_canonical(name)] = (version, [o.removeprefix("--hash=sha256:") for o in options])
        entry = "" if line.startswith((" ", "#")) or not line.strip() else line
    return found


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.split("[")[0]).lower()


def _names(requirements: list[str]) -> set[str]:
    return {
        _canonical(re.split(r"[<>=!~; ]", r, maxsplit=1)[0])
        for r in requirements
        if not r.startswith("okrsync")
    }


@pytest.mark.parametrize("name", sorted(LOCKS))
def test_every_locked_requirement_is_pinned_with_hashes(name: str) -> None:
    locked = pins(LOCKS[name])

    assert len(locked) > (0 if name == "build" else 20)
    for requirement, (_, hashes) in locked.items():
        assert hashes and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), requirement


def test_the_locks_cover_pyproject_and_agree_with_each_other() -> None:
    dev, image = pins(LOCKS["dev"]), pins(LOCKS["image"])
    extras = PROJECT["optional-dependencies"]
    runtime = _names(PROJECT["dependencies"]) | _names(extras["postgres"]) | _names(extras["apprise"])

    assert runtime <= set(image), runtime - set(image)
    assert runtime | _names(extras["dev"]) <= set(dev)
    assert {"psycopg", "psycopg-binary", "apprise"} <= set(image)
    build_system = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    assert _names(build_system) <= set(pins(LOCKS["build"]))
    assert not {"pytest", "respx", "aiosmtpd", "ruff", "mypy"} & set(image)  # no test tools in the image
    for name, (version, _) in image.items():  # CI tests exactly what the image runs
        assert dev[name][0] == version, name
    wanted = [*PROJECT["dependencies"], *(r for extra in extras.values() for r in extra)]
    for requirement in map(Requirement, wanted):
        if requirement.name != "okrsync":  # a pin that no longer meets pyproject: run `make lock`
            assert dev[_canonical(requirement.name)][0] in requirement.specifier, requirement


def test_make_install_uses_the_dev_lock_with_hashes_then_okrsync_alone() -> None:
    makefile = (ROOT / "Makefile").read_text()
    rule = makefile[makefile.index("$(BIN)/okrsync:") :].split("\n\n")[0]

    assert "requirements/dev.lock" in makefile and "$(LOCK)" in rule.splitlines()[0]
    assert "--require-hashes -r $(LOCK)" in rule
    assert "--no-deps -e ." in rule
    assert rule.index("--require-hashes") < rule.index("--no-deps -e .")


def dockerfile() -> list[tuple[str, str]]:
    """Every (INSTRUCTION, arguments) of the Dockerfile, continuations joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        instruction, _, arguments = (pending + line).partition(" ")
        out.append((instruction.upper(), arguments.strip()))
        pending = ""
    return out


def test_every_base_image_is_pinned_by_digest() -> None:
    bases = [args.split()[0] for inst, args in dockerfile() if inst == "FROM"]

    assert len(bases) == 2
    for base in bases:
        assert re.fullmatch(r"python:3\.11-slim-bookworm@sha256:[0-9a-f]{64}", base), base


def test_dependencies_are_installed_from_the_lock_before_the_source_is_copied() -> None:
    steps = dockerfile()
    lock_copy = steps.index(("COPY", "requirements/image.lock requirements/build.lock ./requirements/"))
    install = next(i for i, (inst, args) in enumerate(steps) if inst == "RUN" and "--require-hashes" in args)
    assert "--require-hashes -r requirements/build.lock" in steps[install][1]
    first_source = next(
        i for i, (inst, args) in enumerate(steps) if inst == "COPY" and args.startswith("okrsync")
    )

    assert lock_copy < install < first_source
    assert "-r requirements/image.lock" in steps[install][1]
    project = next(args for inst, args in steps[first_source:] if inst == "RUN" and "pip install" in args)
    assert "--no-deps --no-build-isolation" in project  # okrsync alone, built with the locked setuptools
    final = steps[max(i for i, (inst, _) in enumerate(steps) if inst == "FROM") :]
    copies = [args for inst, args in final if inst == "COPY" and args.startswith("--from=build")]
    assert copies == ["--from=build /deps /usr/local", "--from=build /app /usr/local"]


def test_the_image_carries_oci_labels_with_the_package_version() -> None:
    final = dockerfile()[max(i for i, (inst, _) in enumerate(dockerfile()) if inst == "FROM") :]
    labels = dict(
        re.findall(
            r'(org\.opencontainers\.image\.[a-z.]+)="([^"]*)"', " ".join(a for i, a in final if i == "LABEL")
        )
    )
    base = next(a for i, a in final if i == "FROM")

    assert {"title", "description", "version", "revision", "licenses", "base.name", "base.digest"} <= {
        k.removeprefix("org.opencontainers.image.") for k in labels
    }
    assert labels["org.opencontainers.image.version"] == "${VERSION}"
    assert ("ARG", "VERSION=unknown") in final
    assert labels["org.opencontainers.image.licenses"] == PROJECT["license"]
    assert base.endswith(labels["org.opencontainers.image.base.digest"])
    build = subprocess.run(["make", "-n", "image"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert build.returncode == 0, build.stderr
    assert f"--build-arg VERSION={PROJECT['version']} " in build.stdout
