"""The images of the reference stack's Docker runtime, built locally and cached by content.

    .venv/bin/python -m targets.reference.images build     # what ci/install.sh runs
    .venv/bin/python -m targets.reference.images status    # which images exist, which would be built
    .venv/bin/python -m targets.reference.images prune     # remove superseded tags

No registry is reachable and containers reach no package index, so nothing is
pulled. Every tag is a hash of what goes into the image, so a build does
nothing when the tag exists, and a change (code, packages, Dockerfile)
builds a new tag:

============  ==========================================================================
image         how
============  ==========================================================================
rootfs        ``debootstrap --variant=minbase --include=<rootfs/packages.txt>`` on the
              host (PostgreSQL and Redis from Debian), ``docker import``; services are
              kept from starting in the chroot (``policy-rc.d``), no cluster is created
postgres      rootfs + a ready cluster with database ``prism`` (``images/postgres``)
redis         rootfs + ``redis-server`` as its command (``images/redis``)
toxiproxy     the Debian base + the host's ``toxiproxy-server`` binary
api           the Debian base + wheels built on the host (``pip wheel``, versions pinned by
              the project's ``uv.lock``, as in the host's ``.venv``) + ``reference_impl/``
============  ==========================================================================

Build contexts are under ``targets/images/``; downloads (``.deb`` files,
wheels) are cached under ``$CHAOSGATE_CACHE_DIR`` (default
``~/.cache/chaosgate``). Every image carries the label ``chaosgate.image``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaosgate.exceptions import ComponentMissing, TargetError
from targets.reference.rootfs import build_rootfs, docker_import
from targets.reference.stack import file_lock
from targets.reference.wheels import build_wheelhouse, locked_pins, read_requirements

PROJECT_ROOT = Path(__file__).resolve().parents[2]
IMAGES_DIR = PROJECT_ROOT / "targets" / "images"
LOCK_FILE = PROJECT_ROOT / "uv.lock"
BASE_IMAGE = "chaosgate/debian:bookworm"
LABEL = "chaosgate.image"
REPOSITORIES = {
    "rootfs": "chaosgate/prism-rootfs",
    "postgres": "chaosgate/prism-postgres",
    "redis": "chaosgate/prism-redis",
    "toxiproxy": "chaosgate/toxiproxy",
    "api": "chaosgate/prism-api",
}
BUILD_TIMEOUT = 900
Log = Callable[[str], None]


def _stderr(line: str) -> None:
    sys.stderr.write(f"[images] {line}\n")


def cache_dir() -> Path:
    explicit = os.environ.get("CHAOSGATE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "chaosgate"


@dataclass(frozen=True)
class ImageSet:
    """The tags the Docker runtime starts its containers from."""

    postgres: str
    redis: str
    toxiproxy: str
    api: str


def _digest(*parts: str | bytes) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(part.encode() if isinstance(part, str) else part)
        hasher.update(b"\0")
    return hasher.hexdigest()[:16]


def _tree_digest(root: Path) -> str:
    hasher = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            hasher.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return hasher.hexdigest()


def _file_digest(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def toxiproxy_binary() -> Path:
    found = shutil.which("toxiproxy-server")
    if found is None:
        raise ComponentMissing("toxiproxy-server is not installed (run ci/install.sh)")
    return Path(found).resolve()


def rootfs_packages() -> list[str]:
    lines = (IMAGES_DIR / "rootfs" / "packages.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


class ImageBuilder:
    """Computes the tag of every image from its inputs and builds the missing ones."""

    def __init__(self, log: Log = _stderr) -> None:
        import docker  # noqa: PLC0415 - the SDK loads only when images are needed
        import docker.errors  # noqa: PLC0415

        self._errors: Any = docker.errors
        try:
            self.sdk: Any = docker.from_env(timeout=BUILD_TIMEOUT)
            self.sdk.ping()
        except Exception as error:  # noqa: BLE001 - any SDK/requests failure means no engine
            raise ComponentMissing(f"docker engine not reachable ({error}); run ci/install.sh") from None
        self.log = log

    def close(self) -> None:
        self.sdk.close()

    # -- tags ------------------------------------------------------------------------------------

    def _base_id(self) -> str:
        try:
            return str(self.sdk.images.get(BASE_IMAGE).id)
        except self._errors.ImageNotFound:
            raise ComponentMissing(
                f"the base image {BASE_IMAGE} is missing (ci/install.sh builds it with debootstrap)"
            ) from None

    def python_version(self) -> str:
        """The Python of the base image (the wheels must fit it), asked once per base image."""
        base = self._base_id()
        cached = cache_dir() / f"python-{base.split(':')[-1][:16]}.txt"
        if cached.exists():
            return cached.read_text().strip()
        output = self.sdk.containers.run(
            BASE_IMAGE,
            ["python3", "-c", "import platform; print(platform.python_version())"],
            name=f"chaosgate-probe-{uuid.uuid4().hex[:8]}",
            remove=True,
            network_mode="none",
            labels={LABEL: "probe"},
        )
        version = bytes(output).decode().strip()
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(version + "\n")
        return version

    def tags(self) -> dict[str, str]:
        """role → ``repository:content-hash`` for every image of the stack."""
        base = self._base_id()
        files = {role: _tree_digest(IMAGES_DIR / role) for role in REPOSITORIES}
        rootfs = _digest("rootfs-v1", files["rootfs"])
        rootfs_tag = f"{REPOSITORIES['rootfs']}:{rootfs}"
        api_requirements = read_requirements(IMAGES_DIR / "api" / "requirements.txt")
        pins = "\n".join(locked_pins(LOCK_FILE, api_requirements, self.python_version()))
        hashes = {
            "rootfs": rootfs,
            "postgres": _digest(rootfs_tag, files["postgres"]),
            "redis": _digest(rootfs_tag, files["redis"]),
            "toxiproxy": _digest(base, files["toxiproxy"], _file_digest(toxiproxy_binary())),
            "api": _digest(base, files["api"], pins, _tree_digest(PROJECT_ROOT / "reference_impl")),
        }
        return {role: f"{REPOSITORIES[role]}:{value}" for role, value in hashes.items()}

    def exists(self, tag: str) -> bool:
        try:
            self.sdk.images.get(tag)
        except self._errors.ImageNotFound:
            return False
        return True

    # -- building --------------------------------------------------------------------------------

    def ensure(self, *, force: bool = False) -> ImageSet:
        """Build whatever image is missing (everything with `force`); the tags to run."""
        with file_lock(cache_dir() / "images.lock", BUILD_TIMEOUT, "an image build"):
            tags = self.tags()
            missing = {role for role, tag in tags.items() if force or not self.exists(tag)}
            if {"postgres", "redis"} & missing and not self.exists(tags["rootfs"]):
                missing.add("rootfs")
            if not missing:
                return _image_set(tags)
            started = time.monotonic()
            self.log(f"building {', '.join(sorted(missing))} (cached by content hash)")
            with ThreadPoolExecutor(max_workers=1) as pool:
                wheels: Future[Path] | None = None
                if "api" in missing:  # download wheels while debootstrap runs
                    wheels = pool.submit(
                        build_wheelhouse,
                        IMAGES_DIR / "api" / "requirements.txt",
                        LOCK_FILE,
                        self.python_version(),
                        cache_dir() / "wheelhouse",
                        self.log,
                    )
                if "rootfs" in missing:
                    self._import_rootfs(tags["rootfs"])
                for role in ("postgres", "redis"):
                    if role in missing:
                        self._build(role, tags[role], buildargs={"ROOTFS": tags["rootfs"]})
                if "toxiproxy" in missing:
                    self._build(
                        "toxiproxy", tags["toxiproxy"], extra={"toxiproxy-server": toxiproxy_binary()}
                    )
                if wheels is not None:
                    wheelhouse = wheels.result()
                    self._build(
                        "api",
                        tags["api"],
                        extra={
                            "wheels": wheelhouse,
                            "reference_impl": PROJECT_ROOT / "reference_impl",
                        },
                    )
            self.log(f"images ready in {time.monotonic() - started:.1f}s")
            return _image_set(tags)

    def _import_rootfs(self, tag: str) -> None:
        started = time.monotonic()
        with build_rootfs(rootfs_packages(), cache_dir() / "debootstrap", self.log) as root:
            self.log(f"docker import {tag}")
            docker_import(root, tag, f"LABEL {LABEL}=rootfs", BUILD_TIMEOUT)
        self.log(f"rootfs {tag} in {time.monotonic() - started:.1f}s")

    def _build(
        self,
        role: str,
        tag: str,
        *,
        buildargs: dict[str, str] | None = None,
        extra: dict[str, Path] | None = None,
    ) -> None:
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=f"chaosgate-build-{role}-") as context:
            shutil.copytree(IMAGES_DIR / role, context, dirs_exist_ok=True)
            for name, source in (extra or {}).items():
                target = Path(context) / name
                if source.is_dir():
                    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
                else:
                    shutil.copy2(source, target)
            try:
                self.sdk.images.build(
                    path=context,
                    tag=tag,
                    buildargs=buildargs,
                    labels={LABEL: role},
                    network_mode="none",
                    rm=True,
                    forcerm=True,
                    pull=False,
                    timeout=BUILD_TIMEOUT,
                )
            except self._errors.BuildError as error:
                lines = "".join(
                    str(chunk.get("stream") or chunk.get("error") or "") for chunk in error.build_log
                )
                raise TargetError(f"building {tag} failed: {error.msg}\n{lines[-3000:]}") from None
            except self._errors.APIError as error:
                raise TargetError(f"building {tag} failed: {error}") from None
        self.log(f"{role} {tag} in {time.monotonic() - started:.1f}s")

    # -- housekeeping ----------------------------------------------------------------------------

    def prune(self) -> list[str]:
        """Remove the tags of our repositories that the current inputs no longer produce."""
        current = set(self.tags().values())
        removed = []
        for image in self.sdk.images.list(filters={"label": LABEL}):
            for tag in image.tags:
                if tag.split(":")[0] in REPOSITORIES.values() and tag not in current:
                    with contextlib.suppress(self._errors.APIError):
                        self.sdk.images.remove(tag, noprune=False)
                        removed.append(tag)
        return removed


def _image_set(tags: dict[str, str]) -> ImageSet:
    return ImageSet(
        postgres=tags["postgres"], redis=tags["redis"], toxiproxy=tags["toxiproxy"], api=tags["api"]
    )


def ensure_images(log: Log = _stderr, *, force: bool = False) -> ImageSet:
    builder = ImageBuilder(log)
    try:
        return builder.ensure(force=force)
    finally:
        builder.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m targets.reference.images", description=__doc__.split("\n")[0]
    )
    parser.add_argument("action", choices=["build", "status", "prune"])
    parser.add_argument("--force", action="store_true", help="rebuild even the images that exist")
    args = parser.parse_args(argv)
    try:
        builder = ImageBuilder()
        try:
            if args.action == "build":
                builder.ensure(force=args.force)
            elif args.action == "prune":
                for tag in builder.prune():
                    sys.stdout.write(f"removed {tag}\n")
            for role, tag in builder.tags().items():
                state = "present" if builder.exists(tag) else "missing"
                sys.stdout.write(f"{role:10} {tag:45} {state}\n")
        finally:
            builder.close()
    except (ComponentMissing, TargetError) as error:
        sys.stderr.write(f"{error}\n")
        return int(error.exit_code)
    return 0


if __name__ == "__main__":
    sys.exit(main())
