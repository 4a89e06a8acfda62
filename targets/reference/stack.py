"""The record of one running reference stack, and how to stop its host processes from any process.

A stack's record is ``state_dir/targets/reference-<id>.json`` (mode 0600: it
holds the chaos token) next to its folder ``reference-<id>/`` (logs, process
records, the API's data). It is written *before* each part starts and
updated after, so whoever reads it — ``down()`` in the same process,
``chaosgate target down`` in another, ``chaosgate cleanup`` after a SIGKILL —
can remove everything, including a part that was still starting:

* ``owner``: pid and start time of the process that started the stack, or
  ``null`` once ``chaosgate target up`` detached it (then only ``target
  down`` or ``cleanup`` stop it, and runs attach to it);
* ``components``: host processes by role, each with its port (known before
  it starts), pid and process group, and the path of its process record when
  it publishes one (the ``process`` injector rewrites that after a restart,
  so the record file is read first);
* ``paths``: folders to delete; ``containers`` and ``network`` (Docker);
* ``deployment``: what ``up()`` returned, for attaching.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from chaosgate.exceptions import TargetError
from chaosgate.private_files import write_private
from chaosgate.process_records import ProcessRecord, process_alive, stop_group, wait_gone
from chaosgate.target import Deployment

PREFIX = "reference-"
STOP_ORDER = ("wsproxy", "api", "toxiproxy", "redis", "postgres")
"""Host processes are stopped front to back: nothing is left talking to a stopped dependency."""
LOCK_TIMEOUT = 900.0


def targets_dir(state_dir: Path) -> Path:
    return state_dir / "targets"


def _started_at(pid: int) -> float | None:
    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


@dataclass
class StackRecord:
    path: Path
    data: dict[str, Any]

    # -- creating and finding --------------------------------------------------------------------

    @classmethod
    def create(cls, state_dir: Path, target: str, runtime: str) -> StackRecord:
        stack_id = secrets.token_hex(4)
        path = targets_dir(state_dir) / f"{PREFIX}{stack_id}.json"
        pid = os.getpid()
        record = cls(
            path,
            {
                "version": 1,
                "stack": stack_id,
                "target": target,
                "runtime": runtime,
                "owner": {"pid": pid, "started_at": _started_at(pid)},
                "created_at": time.time(),
                "dir": str(path.with_suffix("")),
                "components": {},
                "paths": [],
                "containers": [],
                "network": None,
                "resources": {},
                "deployment": None,
            },
        )
        record.folder.mkdir(parents=True, exist_ok=True)
        record.save()
        return record

    @classmethod
    def all(cls, state_dir: Path) -> list[StackRecord]:
        found = []
        for path in sorted(targets_dir(state_dir).glob(f"{PREFIX}*.json")):
            with contextlib.suppress(OSError, ValueError):
                data = json.loads(path.read_text())
                if isinstance(data, dict) and data.get("version") == 1:
                    found.append(cls(path, data))
        return found

    @property
    def stack_id(self) -> str:
        return str(self.data["stack"])

    @property
    def folder(self) -> Path:
        return Path(self.data["dir"])

    @property
    def detached(self) -> bool:
        return self.data.get("owner") is None

    def owner_alive(self) -> bool:
        """True while the process that started the stack runs (and is not a reused pid)."""
        owner = self.data.get("owner")
        if not owner:
            return False
        pid = int(owner["pid"])
        started = _started_at(pid)
        return process_alive(pid) and (owner.get("started_at") is None or started == owner["started_at"])

    def deployment(self) -> Deployment | None:
        saved = self.data.get("deployment")
        if not saved:
            return None
        resources = dict(self.data.get("resources") or {})
        return Deployment(saved["name"], saved["base_url"], resources, saved.get("openapi"))

    # -- writing ---------------------------------------------------------------------------------

    def save(self) -> None:
        write_private(self.path, json.dumps(self.data, indent=2, sort_keys=True))

    def update(self, **fields: Any) -> None:
        self.data.update(fields)
        self.save()

    def component(self, role: str, **fields: Any) -> None:
        """Add to what is known of one host process (its port first, then its pid)."""
        self.data["components"].setdefault(role, {}).update(fields)
        self.save()

    def add_path(self, path: Path) -> None:
        self.data["paths"].append(str(path))
        self.save()

    def set_deployment(self, deployment: Deployment) -> None:
        """Publish the deployment; its resources where ``chaosgate cleanup`` looks for them."""
        self.update(
            resources=dict(deployment.resources),
            deployment={
                "name": deployment.name,
                "base_url": deployment.base_url,
                "openapi": deployment.openapi,
            },
        )

    def detach(self) -> None:
        self.update(owner=None)

    # -- host processes --------------------------------------------------------------------------

    def pid_of(self, role: str) -> tuple[int, int] | None:
        """(pid, pgid) serving `role` now: its process record's (after a restart) or the one started."""
        info = self.data["components"].get(role, {})
        if info.get("record"):
            with contextlib.suppress(TargetError):
                record = ProcessRecord.read(Path(info["record"]))
                return record.pid, record.pgid
        if info.get("pid"):
            return int(info["pid"]), int(info.get("pgid") or info["pid"])
        port, program = info.get("port"), info.get("program")
        listener = listening_pid(int(port), str(program)) if port and program else None
        if listener is None:
            return None
        with contextlib.suppress(ProcessLookupError):
            return listener, os.getpgid(listener)
        return None

    def processes_alive(self) -> bool:
        roles = self.data["components"]
        return bool(roles) and all(
            (found := self.pid_of(role)) is not None and process_alive(found[0]) for role in roles
        )

    def stop_processes(self) -> list[str]:
        lines = []
        roles = [r for r in STOP_ORDER if r in self.data["components"]]
        roles += [r for r in self.data["components"] if r not in roles]
        for role in roles:
            found = self.pid_of(role)
            if found is None or not process_alive(found[0]):
                continue
            pid, pgid = found
            if role == "postgres":  # fast shutdown: roll back sessions, do not wait for clients
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, signal.SIGCONT)
                    os.killpg(pgid, signal.SIGINT)
                wait_gone(pid, 10.0)
            stop_group(pid, pgid, 10.0)
            lines.append(f"reference {self.stack_id}: stopped {role} (pid {pid})")
        return lines

    def remove_files(self) -> None:
        for path in [*self.data.get("paths", []), self.data["dir"]]:
            shutil.rmtree(path, ignore_errors=True)
        self.path.unlink(missing_ok=True)


def listening_pid(port: int, program: str) -> int | None:
    """The `program` process listening on `port` (a part whose start was cut before its pid was saved).

    The program name is checked so that a port reused by someone else's server is never signalled.
    """
    with contextlib.suppress(psutil.Error):
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                with contextlib.suppress(psutil.Error):
                    if program in " ".join(psutil.Process(conn.pid).cmdline()):
                        return int(conn.pid)
    return None


@contextlib.contextmanager
def file_lock(path: Path, timeout: float, holder: str) -> Iterator[None]:
    """An exclusive ``flock`` on `path`, waited for at most `timeout` seconds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TargetError(f"{holder} holds {path} for over {timeout:.0f}s") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def stacks_lock(state_dir: Path, timeout: float = LOCK_TIMEOUT) -> contextlib.AbstractContextManager[None]:
    """Serialise finding, starting and stopping stacks (two `target up` must not start two)."""
    return file_lock(targets_dir(state_dir) / ".reference.lock", timeout, "another chaosgate")
