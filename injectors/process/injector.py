"""The `process` injector: signals to a target's local server process (R3.3).

=========  ==========================================================  ==========================
action     inject                                                      revert
=========  ==========================================================  ==========================
stop       SIGSTOP to the process group: it holds its port, answers    SIGCONT to the group
           nothing
kill       a signal (default SIGKILL) to the group; waits for the       start it again from its
           process to end                                              record, wait for its port
terminate  SIGTERM, then SIGKILL after `timeout` seconds                the same as kill
=========  ==========================================================  ==========================

The process is found through its :class:`~chaosgate.process_records.ProcessRecord`,
whose path the target gives as ``context.resources["process:<name>"]``. A
restart rewrites that record with the new pid, which the target's
``ManagedProcess`` follows. A signal that did not end the process (``kill``
with, say, SIGHUP) leaves nothing to restart. Before every signal an undo
record is written (see :mod:`injectors.process.state`), so ``chaosgate
cleanup`` continues a frozen group or restarts a killed process after a
SIGKILLed run, as long as the target still publishes its record (a target
torn down in between is not started again).
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from chaosgate.exceptions import ChaosgateError, InjectorError
from chaosgate.injector import InjectionContext, Injector, InjectorParams
from chaosgate.process_records import ProcessRecord, process_alive, signal_group, start_from_record, wait_gone
from injectors.process.params import ProcessParams
from injectors.process.state import ProcessUndo, UndoLog, undo_dir

RESOURCE_PREFIX = "process:"
_EXIT_WAIT = {"SIGKILL": 10.0}
_OTHER_EXIT_WAIT = 1.0
_SURVIVAL_WAIT = 2.0


def record_path(resources: Mapping[str, str], name: str) -> Path:
    """The record of the process a scenario calls `name`."""
    found = resources.get(f"{RESOURCE_PREFIX}{name}")
    if not found:
        raise InjectorError(
            f"process: the target has no process named {name!r} "
            f"(it must provide the resource `{RESOURCE_PREFIX}{name}`: the path of its process record)"
        )
    return Path(str(found))


class ProcessInjector(Injector[ProcessParams]):
    """Local processes: freeze (SIGSTOP/SIGCONT), kill with a signal and restart, or terminate and restart."""

    name: ClassVar[str] = "process"
    Params: ClassVar[type[InjectorParams]] = ProcessParams
    summary: ClassVar[str] = (
        "Faults on a target's local processes: SIGSTOP/SIGCONT, a kill signal then a restart, or SIGTERM."
    )

    @classmethod
    def fault_class(cls, params: Mapping[str, Any]) -> str:
        return f"process: {params.get('action', '?')}"

    def __init__(self, params: ProcessParams, context: InjectionContext) -> None:
        super().__init__(params, context)
        self.undo_log = UndoLog(undo_dir(context.state_dir))
        self._applied: tuple[Path, ProcessUndo] | None = None
        self.last_undo = ""
        """What the last revert did, in words."""

    @property
    def record_path(self) -> Path:
        return record_path(self.context.resources, self.params.process)

    def _record(self) -> ProcessRecord:
        try:
            return ProcessRecord.read(self.record_path)
        except ChaosgateError as error:
            raise InjectorError(f"process {self.params.process}: {error}") from error

    def inject(self) -> None:
        if self._applied is not None:
            raise InjectorError(f"{self.describe()}: already injected")
        record = self._record()
        if not process_alive(record.pid):
            raise InjectorError(f"process {self.params.process} (pid {record.pid}) is not running")
        action = self.params.action
        sent = "SIGSTOP" if action == "stop" else self.params.kill_signal
        undo = ProcessUndo(
            run_id=self.context.run_id, action=action, name=self.params.process,
            record_path=str(self.record_path), pid=record.pid, pgid=record.pgid, signal=sent,
        )
        path = self.undo_log.write(undo)  # before the signal: a crash right after it is still undone
        if not signal_group(record.pgid, getattr(signal, sent)):
            self.undo_log.remove(path)
            raise InjectorError(f"process {self.params.process} (pid {record.pid}) exited before the signal")
        self._applied = (path, undo)
        if action == "terminate":
            if not wait_gone(record.pid, self.params.grace):
                signal_group(record.pgid, signal.SIGKILL)
                wait_gone(record.pid, _EXIT_WAIT["SIGKILL"])
        elif action == "kill":
            wait_gone(record.pid, _EXIT_WAIT.get(sent, _OTHER_EXIT_WAIT))

    def revert(self) -> None:
        if self._applied is None:
            return
        path, undo_record = self._applied
        self.last_undo = undo(undo_record, startup_timeout=self.params.startup_timeout)
        self.undo_log.remove(path)
        self._applied = None

    @classmethod
    def cleanup(cls, context: InjectionContext) -> list[str]:
        """Continue frozen groups and restart killed processes that a SIGKILLed run left recorded."""
        return cleanup_all(context.state_dir)

    def describe(self) -> str:
        p = self.params
        detail = {
            "stop": f"freeze {p.process} (SIGSTOP to its process group; SIGCONT on revert)",
            "kill": f"kill {p.process} with {p.kill_signal}, started again on revert",
            "terminate": (
                f"terminate {p.process} (SIGTERM, SIGKILL after {p.grace}s), started again on revert"
            ),
        }[p.action]
        return f"process: {detail}"


def undo(record: ProcessUndo, *, startup_timeout: float = 30.0) -> str:
    """Put back what `record` says was done; a description of what was done (idempotent)."""
    name = record.name
    if record.action == "stop":
        if signal_group(record.pgid, signal.SIGCONT):
            return f"process: continued {name} (process group {record.pgid})"
        return f"process: {name} is gone; nothing to continue"
    # A process may still be shutting down after a catchable signal: give it a moment before
    # deciding that it survived (immediate when it is gone already).
    wait_gone(record.pid, _EXIT_WAIT.get(record.signal, _SURVIVAL_WAIT))
    if process_alive(record.pid):
        return f"process: {name} (pid {record.pid}) survived {record.signal}; nothing to restart"
    path = Path(record.record_path)
    if not path.exists():
        return f"process: {name} was torn down (no record at {path}); not started again"
    try:
        current = ProcessRecord.read(path)
        if current.pid != record.pid and process_alive(current.pid):
            return f"process: {name} runs again already (pid {current.pid})"
        restarted = start_from_record(current, startup_timeout=startup_timeout)
        restarted.write(path)
    except ChaosgateError as error:
        raise InjectorError(f"process: cannot restart {name}: {error}") from error
    except OSError as error:
        raise InjectorError(f"process: cannot update the record {path} of {name}: {error}") from error
    where = f" on {restarted.host}:{restarted.port}" if restarted.port is not None else ""
    return f"process: started {name} again (pid {restarted.pid}){where}"


def cleanup_all(state_root: Path | None = None, run_id: str | None = None) -> list[str]:
    """Undo every signal a process fault left recorded (after a SIGKILL); lines saying what was done.

    A record whose undo fails is kept (the next cleanup tries again) and the
    failures are raised together once every other record was handled.
    """
    log = UndoLog(undo_dir(state_root))
    done, failed = [], []
    for path, record in log.records(run_id):
        try:
            done.append(undo(record))
        except InjectorError as error:
            failed.append(str(error))
            continue
        log.remove(path)
    if failed:
        raise InjectorError("; ".join([*failed, *(f"(done: {line})" for line in done)]))
    return done
