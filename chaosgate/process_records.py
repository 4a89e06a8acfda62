"""Process records and process groups: how a local server is found, signalled and started again.

A server that chaosgate starts (:class:`~chaosgate.processes.ManagedProcess`)
can publish a :class:`ProcessRecord`: a small JSON file with its pid, process
group and how to start it again. The record is the contract between a target
that runs local processes and the `process` injector that signals them: the
injector finds it through the target (``resources["process:<name>"]``),
signals the group, and after a kill restarts the process from the record
(:func:`start_from_record`) and rewrites the record with the new pid. Both
sides use this module, so it belongs to the engine, not to either of them.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import psutil

from chaosgate.exceptions import TargetError
from chaosgate.ports import LOOPBACK, wait_for_port
from chaosgate.private_files import write_private


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
