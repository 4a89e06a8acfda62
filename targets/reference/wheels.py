"""Wheels for the API image, built on the host and pinned to the project's virtual environment.

A container reaches no package index, so ``pip wheel`` runs here (through
the host's ordinary pip configuration) and the image installs with
``--no-index --find-links``. The versions are the ones installed in this
environment, the same the reference tests run against: :func:`api_pins`
walks the requirement closure of ``requirements.txt`` through
``importlib.metadata``. A wheelhouse is cached by the hash of its pins, so it
is downloaded once.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from chaosgate.exceptions import TargetError

WHEEL_TIMEOUT = 600
COMPLETE = ".complete"


def _requirements(path: Path) -> list[Requirement]:
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return [Requirement(line) for line in lines if line]


def api_pins(requirements: Path, python_version: str) -> list[str]:
    """``name==version`` of every distribution the requirements need on `python_version`, as installed here.

    Markers are evaluated for the image's Python (``3.11.2`` in Debian bookworm), which
    can need what this environment's does not (``async-timeout`` below 3.11.3); such a
    distribution, not installed here, is given by its requirement (``name>=x``) instead.
    """
    target = {
        "python_full_version": python_version,
        "python_version": ".".join(python_version.split(".")[:2]),
    }
    pins: dict[str, str] = {}
    pending = [(req, frozenset(req.extras), True) for req in _requirements(requirements)]
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        req, extras, top = pending.pop()
        name = canonicalize_name(req.name)
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            if top:
                raise TargetError(f"{req.name} is not installed in {sys.prefix} (pip install -e .)") from None
            pins.setdefault(name, f"{name}{req.specifier}")
            continue
        pins[name] = f"{name}=={dist.version}"
        for text in dist.requires or []:
            dep = Requirement(text)
            environments = [{**target, "extra": extra} for extra in extras] or [{**target, "extra": ""}]
            if dep.marker is None or any(dep.marker.evaluate(env) for env in environments):
                pending.append((dep, frozenset(dep.extras), False))
    return sorted(pins.values())


def build_wheelhouse(
    requirements: Path, python_version: str, cache_root: Path, log: Callable[[str], None]
) -> Path:
    """A folder with a wheel for every pin, pip's own wheel, requirements.txt and constraints.txt."""
    pins = [*api_pins(requirements, python_version), f"pip=={metadata.version('pip')}"]
    digest = hashlib.sha256("\n".join([requirements.read_text(), *pins]).encode()).hexdigest()[:16]
    folder = cache_root / digest
    if (folder / COMPLETE).exists():
        return folder
    started = time.monotonic()
    cache_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".partial-", dir=cache_root))
    try:
        shutil.copy2(requirements, work / "requirements.txt")
        (work / "constraints.txt").write_text("\n".join(pin for pin in pins if "==" in pin) + "\n")
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
