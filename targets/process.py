"""Local server processes that chaosgate starts and always stops.

Tests and the process runtime of a target start real servers (Toxiproxy,
PostgreSQL, Redis, the reference API) on free loopback ports. Each runs in its
own process group, so stopping it also stops anything it spawned, and its
output goes to a log file that is quoted when it fails to come up.

A process can publish a :class:`ProcessRecord` (``ManagedProcess.write_record``):
a small JSON file with its pid, process group and how to start it again. The
`process` injector finds it through the target (``resources["process:<name>"]``),
signals the group, and after a kill restarts the process from the record
(:func:`start_from_record`) and rewrites the record with the new pid. The
``ManagedProcess`` that wrote the record follows it: ``pid``, ``running``,
``signal`` and ``stop`` act on whichever process the record names now, and
``stop`` removes the record, so a restart after teardown cannot happen.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import psutil

from chaosgate.exceptions import ComponentMissing, TargetError
from chaosgate.ports import LOOPBACK, free_port, wait_for_port
from chaosgate.private_files import write_private

# The port helpers live in chaosgate.ports; callers of this module get them from here too.
__all__ = [
    "LOOPBACK",
    "ManagedProcess",
    "ProcessRecord",
    "free_port",
    "process_alive",
    "signal_group",
    "start_from_record",
    "stop_group",
    "wait_for_port",
    "wait_gone",
]


@dataclass(frozen=True)
class ProcessRecord:
    """What a running server is and how to start it again, as published for the `process` injector."""

    name: str
    pid: int
    pgid: int
    argv: tuple[str, ...]
    env: dict[str, str] | None = None
    """The whole environment it was started with (None: inherit the restarter's)."""
    cwd: str | None = None
    log: str | None = None
    """Its output file; a restart appends to it."""
    host: str = LOOPBACK
    port: int | None = None
    """The port it serves on; a restart waits for it."""
    started_at: float = field(default_factory=time.time)

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "argv": list(self.argv)}, indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProcessRecord:
        env = data.get("env")
        return cls(
            name=str(data["name"]),
            pid=int(data["pid"]),
            pgid=int(data["pgid"]),
            argv=tuple(str(arg) for arg in data["argv"]),
            env={str(k): str(v) for k, v in env.items()} if isinstance(env, dict) else None,
            cwd=data.get("cwd"),
            log=data.get("log"),
            host=str(data.get("host") or LOOPBACK),
            port=int(data["port"]) if data.get("port") is not None else None,
            started_at=float(data.get("started_at") or 0.0),
        )

    @classmethod
    def read(cls, path: Path) -> ProcessRecord:
        """The record at `path`; TargetError when it is missing or unreadable."""
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except FileNotFoundError:
            raise TargetError(f"no process record at {path}: the process is not running (any more)") from None
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise TargetError(f"unreadable process record {path}: {error}") from error

    def write(self, path: Path) -> Path:
        """Write atomically, readable by its owner only (it holds the environment)."""
        return write_private(path, self.to_json())


_children: dict[int, subprocess.Popen[bytes]] = {}
"""Processes this Python process restarted, so they are reaped and not reported as zombies."""


def process_alive(pid: int) -> bool:
    """True while `pid` runs (a stopped process runs; a zombie does not)."""
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_gone(pid: int, timeout: float) -> bool:
    """True once `pid` has exited, False if it still runs after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while process_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def signal_group(pgid: int, signum: int) -> bool:
    """Send `signum` to a process group; False when no process of it is left."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    return True


def stop_group(pid: int, pgid: int, timeout: float = 10.0) -> None:
    """SIGCONT + SIGTERM the group, then SIGKILL it if `pid` is still there after `timeout`."""
    for signum in (signal.SIGCONT, signal.SIGTERM):
        if not signal_group(pgid, signum):
            return
    if not wait_gone(pid, timeout):
        signal_group(pgid, signal.SIGKILL)
        wait_gone(pid, timeout)


def start_from_record(record: ProcessRecord, *, startup_timeout: float = 30.0) -> ProcessRecord:
    """Start the process a record describes again, wait for its port; the record of the new process."""
    log_path = Path(record.log) if record.log else Path(os.devnull)
    try:
        with log_path.open("ab") as log:
            proc = subprocess.Popen(  # noqa: S603 - argv comes from chaosgate's own record
                list(record.argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=record.env,
                cwd=record.cwd,
                start_new_session=True,
            )
    except OSError as error:
        raise TargetError(f"{record.name}: cannot start `{record.argv[0]}` again: {error}") from error
    _children[proc.pid] = proc
    restarted = replace(record, pid=proc.pid, pgid=proc.pid, started_at=time.time())
    if record.port is None:
        return restarted
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if wait_for_port(record.host, record.port, 0.2):
            return restarted
    stop_group(proc.pid, proc.pid, 5.0)
    tail = "(no log)"
    if record.log:
        with contextlib.suppress(OSError):
            tail = "\n".join(Path(record.log).read_text(errors="replace").splitlines()[-20:])
    raise TargetError(
        f"{record.name} did not come back on {record.host}:{record.port}; last log lines:\n{tail}"
    )


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
        self._record_path: Path | None = None

    @property
    def pid(self) -> int | None:
        """The process serving now: the record's, when a fault restarted it (see the module docstring)."""
        record = self._adopted()
        if record is not None:
            return record.pid
        return self._proc.pid if self._proc else None

    def write_record(self, path: Path) -> ProcessRecord:
        """Publish this running process as a :class:`ProcessRecord` at `path` (for the `process` injector)."""
        if self._proc is None:
            raise TargetError(f"{self.name}: not started, nothing to record")
        env = {**os.environ, **self.env} if self.env is not None else dict(os.environ)
        record = ProcessRecord(
            name=self.name,
            pid=self._proc.pid,
            pgid=os.getpgid(self._proc.pid),
            argv=tuple(self.argv),
            env=env,
            cwd=str(self.cwd) if self.cwd else None,
            log=str(self.log_path),
            host=self.host,
            port=self.port,
        )
        record.write(path)
        self._record_path = path
        return record

    def _adopted(self) -> ProcessRecord | None:
        """The record's process, if the record now names another process than the one started here."""
        if self._record_path is None or self._proc is None:
            return None
        try:
            record = ProcessRecord.read(self._record_path)
        except TargetError:
            return None
        return record if record.pid != self._proc.pid else None

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
        adopted = self._adopted()
        if adopted is not None:
            return process_alive(adopted.pid)
        return self._proc is not None and self._proc.poll() is None

    def signal(self, signum: int) -> None:
        """Send a signal to the whole process group (SIGSTOP, SIGCONT, SIGKILL…)."""
        adopted = self._adopted()
        if adopted is not None:
            signal_group(adopted.pgid, signum)
        elif self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, signum)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the group, then SIGKILL what is left; continue a stopped group first.

        A process that a fault restarted in its place is stopped the same way,
        and the published record is removed.
        """
        adopted = self._adopted()
        if adopted is not None:
            stop_group(adopted.pid, adopted.pgid, timeout)
        if self._record_path is not None:
            self._record_path.unlink(missing_ok=True)
            self._record_path = None
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
