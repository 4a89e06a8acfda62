"""A Debian root filesystem with PostgreSQL and Redis, made on the host with debootstrap.

Containers reach no Debian mirror (only a TLS-intercepting proxy), so the
packages are installed on the host, into a folder that ``docker import``
turns into an image. Two stages, so that nothing starts on the host while
the packages configure themselves: the first downloads and unpacks, then a
``policy-rc.d`` that refuses every service start and a PostgreSQL setting
that creates no cluster are put in place, then the second stage configures
inside the chroot. Downloaded ``.deb`` files are kept in a cache folder.

The chroot has ``/proc`` (and sometimes device nodes) mounted while the
second stage runs; the folder is removed only after everything mounted below
it is unmounted, never through a live mount.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from chaosgate.exceptions import ComponentMissing, TargetError

SUITE = "bookworm"
STAGE_TIMEOUT = 900
STRIPPED = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/info")


def _run(argv: Sequence[str], what: str, log_path: Path) -> None:
    with log_path.open("ab") as log:
        try:
            done = subprocess.run(  # noqa: S603 - argv built here, no shell
                list(argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=STAGE_TIMEOUT,
                check=False,
                start_new_session=True,
            )
        except subprocess.TimeoutExpired:
            raise TargetError(f"{what} did not finish within {STAGE_TIMEOUT}s (log: {log_path})") from None
    if done.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-25:])
        raise TargetError(f"{what} failed (exit {done.returncode}); last lines of {log_path}:\n{tail}")


def docker_import(root: Path, tag: str, change: str, timeout: float) -> None:
    """``tar -C root -c . | docker import --change CHANGE - TAG``."""
    with subprocess.Popen(  # noqa: S603 - fixed argv, no shell
        ["tar", "-C", str(root), "-c", "."],  # noqa: S607 - tar and docker from $PATH
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    ) as tar:
        done = subprocess.run(  # noqa: S603
            ["docker", "import", "--change", change, "-", tag],  # noqa: S607
            stdin=tar.stdout,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if tar.stdout is not None:
            tar.stdout.close()
        tar.wait(timeout=60)
    if done.returncode != 0 or tar.returncode != 0:
        raise TargetError(f"docker import {tag} failed: {done.stderr.strip()[-2000:]}")


def mounts_below(root: Path) -> list[Path]:
    """Mount points at or below `root`, deepest first."""
    prefix = str(root.resolve())
    found = []
    with contextlib.suppress(OSError), open("/proc/self/mountinfo") as table:
        for line in table:
            point = line.split()[4].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                found.append(Path(point))
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def remove_tree(root: Path) -> None:
    """Unmount whatever is mounted below `root`, then delete it; refuse while a mount remains."""
    for point in mounts_below(root):
        subprocess.run(["umount", "-l", str(point)], capture_output=True, check=False, timeout=60)  # noqa: S603, S607
    left = mounts_below(root)
    if left:
        raise TargetError(f"not removing {root}: still mounted below it: {', '.join(map(str, left))}")
    shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def build_rootfs(packages: Sequence[str], deb_cache: Path, log: Callable[[str], None]) -> Iterator[Path]:
    """A bootstrapped folder with `packages` installed; removed when the block ends."""
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        raise ComponentMissing("debootstrap is not installed (apt-get install debootstrap)")
    if os.geteuid() != 0:
        raise ComponentMissing(
            "debootstrap needs root: run `sudo .venv/bin/python -m targets.reference.images build` once"
        )
    deb_cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="chaosgate-rootfs-", dir=deb_cache.parent))
    root, log_path = work / "root", work.parent / "debootstrap.log"
    log_path.write_text("")
    try:
        started = time.monotonic()
        log(f"debootstrap {SUITE} with {', '.join(packages)} (log: {log_path})")
        _run(
            [
                debootstrap,
                "--foreign",
                "--variant=minbase",
                f"--cache-dir={deb_cache}",
                f"--include={','.join(packages)}",
                SUITE,
                str(root),  # no mirror argument: debootstrap's default serves
            ],
            "debootstrap (first stage)",
            log_path,
        )
        policy = root / "usr/sbin/policy-rc.d"
        policy.write_text("#!/bin/sh\n# chaosgate: no service starts while the image is built\nexit 101\n")
        policy.chmod(0o755)
        cluster_conf = root / "etc/postgresql-common/createcluster.d"
        cluster_conf.mkdir(parents=True, exist_ok=True)
        (cluster_conf / "chaosgate.conf").write_text("create_main_cluster = false\n")
        _run(
            ["chroot", str(root), "/debootstrap/debootstrap", "--second-stage"],
            "debootstrap (second stage)",
            log_path,
        )
        for mount in mounts_below(root):
            subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False, timeout=60)  # noqa: S603, S607
        for relative in STRIPPED:
            folder = root / relative
            if folder.is_dir():
                for child in folder.iterdir():
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child, ignore_errors=True)
                    else:
                        child.unlink(missing_ok=True)
        log(f"debootstrap done in {time.monotonic() - started:.1f}s")
        yield root
    finally:
        remove_tree(work)
