"""Local server processes that chaosgate starts and always stops.

Tests, targets and injectors (the WebSocket frame proxy) start real servers
(Toxiproxy, PostgreSQL, Redis, the reference API) on free loopback ports.
Each runs in its own process group, so stopping it also stops anything it
spawned, and its output goes to a log file that is quoted when it fails to
come up.

A process can publish a :class:`~chaosgate.process_records.ProcessRecord`
(:meth:`ManagedProcess.write_record`) for the `process` injector. The
``ManagedProcess`` that wrote the record follows it: ``pid``, ``running``,
``signal`` and ``stop`` act on whichever process the record names now, and
``stop`` removes the record, so a restart after teardown cannot happen.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from chaosgate.exceptions import ComponentMissing, TargetError
from chaosgate.ports import LOOPBACK, wait_for_port
from chaosgate.process_records import ProcessRecord, process_alive, signal_group, stop_group


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
