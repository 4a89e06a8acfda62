"""Wheels for the API image, built on the host from ``targets/images/api/requirements.lock``.

A container reaches no package index, so ``pip wheel`` runs here (through
the host's ordinary pip configuration) and the image installs with
``--no-index --find-links``. The image's lock is the closure of its
``requirements.txt`` (and pip, which installs it) for the image's Python,
``python-version`` beside it, at the versions of the project's
``requirements.lock``, which the host's ``.venv`` is installed from: the API
in a container runs what the reference tests run against. ``ci/lock.sh``
writes both locks. Every download is checked against the lock's hashes, and a
wheelhouse is cached by the hash of the lock, so it is downloaded once.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from chaosgate.exceptions import TargetError

WHEEL_TIMEOUT = 600
COMPLETE = ".complete"
LOCK_FIX = "run `bash ci/lock.sh`"


@dataclass(frozen=True)
class LockedPin:
    """One distribution of a hash-pinned lock: exactly one version, the hashes it may have."""

    name: str
    version: str
    requirement: Requirement
    hashes: tuple[str, ...]

    @property
    def pin(self) -> str:
        """``name==version`` with the lock's marker, as pip reads a constraint."""
        marker = f" ; {self.requirement.marker}" if self.requirement.marker else ""
        return f"{self.name}=={self.version}{marker}"


def _logical_lines(path: Path) -> list[tuple[int, str]]:
    """(first line number, text) of every requirement, continuations joined, comments dropped."""
    try:
        text = path.read_text()
    except OSError as error:
        raise TargetError(f"cannot read {path}: {error.strerror} ({LOCK_FIX})") from None
    logical: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #")[0].strip() if not raw.lstrip().startswith("#") else ""
        if not pending:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1].strip())
            continue
        pending.append(line)
        joined = " ".join(part for part in pending if part)
        pending = []
        if joined:
            logical.append((start, joined))
    return logical


def read_lock(path: Path) -> dict[str, LockedPin]:
    """Every pin of a lock written by ``ci/lock.sh``, by canonical name.

    Anything but ``name==version [; marker] --hash=...`` is refused: pip would
    resolve a loose line itself, and the image would run versions the host does not.
    """
    pins: dict[str, LockedPin] = {}
    for number, line in _logical_lines(path):
        spec, *hash_options = line.split(" --hash=")
        where = f"{path}:{number}:1"
        try:
            requirement = Requirement(spec)
        except InvalidRequirement as error:
            raise TargetError(f"{where}: not a requirement: {error} ({LOCK_FIX})") from None
        specifiers = list(requirement.specifier)
        if (
            requirement.url
            or len(specifiers) != 1
            or specifiers[0].operator != "=="
            or "*" in str(specifiers[0].version)
        ):
            raise TargetError(f"{where}: {spec!r} is not pinned to one version ({LOCK_FIX})")
        if not hash_options:
            raise TargetError(f"{where}: {requirement.name} has no --hash ({LOCK_FIX})")
        name = canonicalize_name(requirement.name)
        hashes = tuple(option.strip() for option in hash_options)
        pins[name] = LockedPin(name, specifiers[0].version, requirement, hashes)
    if not pins:
        raise TargetError(f"{path} pins nothing ({LOCK_FIX})")
    return pins


def build_wheelhouse(requirements: Path, lock: Path, cache_root: Path, log: Callable[[str], None]) -> Path:
    """A folder with a wheel for every pin of `lock`, pip's own wheel, requirements.txt, constraints.txt."""
    pins = read_lock(lock)
    digest = hashlib.sha256("\n".join([requirements.read_text(), lock.read_text()]).encode()).hexdigest()[:16]
    folder = cache_root / digest
    if (folder / COMPLETE).exists():
        return folder
    started = time.monotonic()
    cache_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".partial-", dir=cache_root))
    constraints = sorted(pin.pin for pin in pins.values())
    try:
        shutil.copy2(requirements, work / "requirements.txt")
        (work / "constraints.txt").write_text("\n".join(constraints) + "\n")
        # --no-deps: the lock is the whole closure; --require-hashes: pip checks every download.
        argv = [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--require-hashes",
            "--wheel-dir",
            str(work),
            "-r",
            str(lock),
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
        (work / COMPLETE).write_text("\n".join(constraints) + "\n")
        shutil.rmtree(folder, ignore_errors=True)
        work.rename(folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f"wheelhouse {folder} in {time.monotonic() - started:.1f}s")
    return folder
