"""Wheels for the API image, built on the host at the versions of the project's uv.lock.

A container reaches no package index, so ``pip wheel`` runs here (through
the host's ordinary pip configuration) and the image installs with
``--no-index --find-links``. The versions come from ``uv.lock``, the same
file the host's ``.venv`` is installed from (``ci/install.sh``), so the API
in a container runs what the reference tests run against:
:func:`locked_pins` walks the requirement closure of ``requirements.txt``
through the lock. A wheelhouse is cached by the hash of its pins, so it is
downloaded once.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from packaging.markers import Marker, default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from chaosgate.exceptions import TargetError

WHEEL_TIMEOUT = 600
COMPLETE = ".complete"


def read_requirements(path: Path) -> list[Requirement]:
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return [Requirement(line) for line in lines if line]


def locked_pins(lock: Path, requirements: Iterable[Requirement], python_version: str) -> list[str]:
    """``name==version`` from `lock` of every distribution `requirements` need on `python_version`.

    Markers are evaluated for the image's Python (``3.11.2`` in Debian bookworm), which
    can need what the host's does not (``async-timeout`` below 3.11.3); the lock holds
    both, since uv resolves for every Python the project supports.
    """
    environment: dict[str, str] = {key: str(value) for key, value in default_environment().items()}
    environment.update(
        python_full_version=python_version, python_version=".".join(python_version.split(".")[:2]), extra=""
    )
    try:
        data = tomllib.loads(lock.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise TargetError(f"cannot read {lock}: {error} (run `uv lock`)") from None
    packages: dict[str, list[dict[str, Any]]] = {}
    for package in data.get("package", []):
        packages.setdefault(canonicalize_name(package["name"]), []).append(package)

    def pick(name: str, version: str | None) -> dict[str, Any]:
        """The locked entry of `name`; uv names the version when it locked several (per Python)."""
        candidates = [p for p in packages.get(name, []) if version is None or p["version"] == version]
        if len(candidates) > 1:
            candidates = [
                p
                for p in candidates
                if any(Marker(m).evaluate(environment) for m in p.get("resolution-markers", []))
            ]
        if not candidates:
            raise TargetError(f"{name} is not in {lock} for Python {python_version} (run `uv lock`)")
        return candidates[0]

    pins: dict[str, str] = {}
    pending: list[tuple[str, frozenset[str], str | None]] = []
    for req in requirements:
        package = pick(canonicalize_name(req.name), None)
        if not req.specifier.contains(package["version"], prereleases=True):
            raise TargetError(f"{lock} has {req.name} {package['version']}, which does not satisfy {req}")
        pending.append((canonicalize_name(req.name), frozenset(req.extras), None))
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        name, extras, version = pending.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        package = pick(name, version)
        pins[name] = f"{name}=={package['version']}"
        optional = package.get("optional-dependencies", {})
        deps = [*package.get("dependencies", []), *(d for extra in extras for d in optional.get(extra, []))]
        for dep in deps:
            if "marker" not in dep or Marker(dep["marker"]).evaluate(environment):
                extra_names = frozenset(dep.get("extra", []))
                pending.append((canonicalize_name(dep["name"]), extra_names, dep.get("version")))
    return sorted(pins.values())


def build_wheelhouse(
    requirements: Path, lock: Path, python_version: str, cache_root: Path, log: Callable[[str], None]
) -> Path:
    """A folder with a wheel for every pin, pip's own wheel, requirements.txt and constraints.txt."""
    pins = locked_pins(lock, [*read_requirements(requirements), Requirement("pip")], python_version)
    digest = hashlib.sha256("\n".join([requirements.read_text(), *pins]).encode()).hexdigest()[:16]
    folder = cache_root / digest
    if (folder / COMPLETE).exists():
        return folder
    started = time.monotonic()
    cache_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".partial-", dir=cache_root))
    try:
        shutil.copy2(requirements, work / "requirements.txt")
        (work / "constraints.txt").write_text("\n".join(pins) + "\n")
        argv = [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--disable-pip-version-check",
            "--wheel-dir",
            str(work),
            "-c",
            str(work / "constraints.txt"),
            *pins,
        ]
        log(f"pip wheel: {len(pins)} distributions")
        try:
            done = subprocess.run(  # noqa: S603 - argv built here
                argv,
                capture_output=True,
                text=True,
                timeout=WHEEL_TIMEOUT,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise TargetError(f"pip wheel did not finish within {WHEEL_TIMEOUT}s") from None
        if done.returncode != 0:
            raise TargetError(
                f"pip wheel failed (exit {done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}"
            )
        (work / COMPLETE).write_text("\n".join(pins) + "\n")
        shutil.rmtree(folder, ignore_errors=True)
        work.rename(folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f"wheelhouse {folder} in {time.monotonic() - started:.1f}s")
    return folder
