"""Local server processes that chaosgate starts and always stops.

Tests and the process runtime of a target start real servers (Toxiproxy,
PostgreSQL, Redis, the reference API) on free loopback ports. Each runs in its
own process group, so stopping it also stops anything it spawned, and its
output goes to a log file that is quoted when it fails to come up.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from chaosgate.exceptions import ComponentMissing, TargetError

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nobody listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(host: str, port: int, timeout: float) -> bool:
    """True once something accepts TCP connections on host:port, False after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class ManagedProcess:
    """A server process with a port, started in its own process group, stopped on exit."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        port: int,
        log_dir: Path,
        host: str = LOOPBACK,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.host = host
        self.port = port
        self.log_path = log_dir / f"{name}.log"
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> Self:
        """Start the process and wait until its port answers; fail with its log if it does not."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env} if self.env is not None else None
        try:
            with self.log_path.open("ab") as log:
                self._proc = subprocess.Popen(  # noqa: S603 - argv is built by chaosgate, not a shell
                    self.argv,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
                    cwd=self.cwd,
                    start_new_session=True,
                )
        except FileNotFoundError:
            raise ComponentMissing(
                f"{self.name}: `{self.argv[0]}` is not installed (run ci/install.sh)"
            ) from None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            if wait_for_port(self.host, self.port, 0.2):
                return self
        self.stop()
        raise TargetError(
            f"{self.name} did not come up on {self.address}; last log lines:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def signal(self, signum: int) -> None:
        """Send a signal to the whole process group (SIGSTOP, SIGCONT, SIGKILL…)."""
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, signum)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the group, then SIGKILL what is left; continue a stopped group first."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            for signum in (signal.SIGCONT, signal.SIGTERM):
                try:
                    os.killpg(proc.pid, signum)
                except ProcessLookupError:
                    break
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=timeout)
        self._proc = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
