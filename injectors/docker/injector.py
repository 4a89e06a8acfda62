"""The `docker` injector: container faults through the Docker engine (R3.2).

Each action and its revert:

=============  ===========================================================
pause          unpause (if still paused)
stop           start (if not running)
kill (signal)  start (if the signal stopped it; SIGKILL is awaited)
restart        nothing: the container comes back by itself; a restart is a
               transient fault and leaves no state to undo
disconnect     connect to the same network with the same aliases and
               static address
limit          the previous CPU and memory settings (see below)
=============  ===========================================================

Before every change an undo record is written to disk (see
:mod:`injectors.docker.state` for where and why: the engine cannot label a
running container), so ``chaosgate cleanup`` can undo a SIGKILLed run through
:func:`cleanup_all`. Only running containers are faulted: stopping an
already-stopped container and "restoring" it would start something that was
meant to be down.

Limits: the engine's update API treats 0 as "leave unchanged" and refuses a
negative memory limit, so a limit cannot be *removed*. CPU uses the CFS quota,
whose ``-1`` means unlimited, so CPU is restored exactly (unless the container
was created with ``--cpus``, in which case NanoCpus is changed and restored).
A container that had no memory limit gets back one equal to the host's whole
memory (swap: twice that): the same behaviour, but it shows in inspect. An
unlimited swap (-1) is likewise restored as twice the host's memory, because
the engine records -1 without applying it to the cgroup.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar

from chaosgate.exceptions import ChaosgateError, InjectorError
from chaosgate.injector import InjectionContext, Injector, InjectorParams
from injectors.docker.client import Container, ContainerGone, DockerEngine, NetworkAttachment
from injectors.docker.params import DockerParams, format_memory
from injectors.docker.state import STATE_DIR_KEY, UndoLog, UndoRecord, state_dir

CFS_PERIOD = 100_000
"""Microseconds; Docker's own default period for ``--cpus``."""
_SIGKILL_WAIT = 10.0
_OTHER_SIGNAL_WAIT = 1.0


class DockerInjector(Injector[DockerParams]):
    """Docker: pause, stop, kill, restart, disconnect from a network, or limit CPU and memory."""

    name: ClassVar[str] = "docker"
    Params: ClassVar[type[InjectorParams]] = DockerParams
    summary: ClassVar[str] = "Container faults: pause, stop, kill, restart, disconnect, CPU/memory limits."

    def __init__(self, params: DockerParams, context: InjectionContext) -> None:
        super().__init__(params, context)
        self._applied: list[tuple[Path, UndoRecord]] = []
        self.undo_log = UndoLog(state_dir(context.resources))

    @property
    def container_name(self) -> str | None:
        """The container as the engine knows it: the target's resolution of the scenario's name."""
        name = self.params.container
        return None if name is None else self.context.resources.get(f"container:{name}", name)

    def _targets(self, engine: DockerEngine) -> list[Container]:
        if self.container_name is not None:
            try:
                return [engine.get(self.container_name)]
            except ContainerGone:
                raise InjectorError(f"docker: no container named {self.container_name}") from None
        label = str(self.params.label)
        found = engine.by_label(label)
        if not found:
            raise InjectorError(f"docker: no container carries the label {label}")
        return found

    def inject(self) -> None:
        if self._applied:
            raise InjectorError(f"{self.describe()}: already injected")
        with DockerEngine() as engine:
            try:
                for container in self._targets(engine):
                    self._apply(engine, container)
            except ChaosgateError:
                self._undo_applied(engine)  # a group half-faulted is worse than none
                raise

    def _record(
        self,
        container: Container,
        *,
        signal: str | None = None,
        network: dict[str, Any] | None = None,
        previous_limits: dict[str, int] | None = None,
    ) -> None:
        """Write the undo record *before* the change, so a crash right after it can still be undone."""
        record = UndoRecord(
            run_id=self.context.run_id, action=self.params.action,
            container_id=str(container.id), container_name=str(container.name),
            signal=signal, network=network, previous_limits=previous_limits or {},
        )
        self._applied.append((self.undo_log.write(record), record))

    def _apply(self, engine: DockerEngine, container: Container) -> None:
        action, params = self.params.action, self.params
        if action in ("pause", "stop", "kill", "restart"):
            state = engine.state(container)
            if state != "running":
                raise InjectorError(f"docker: cannot {action} {container.name}: it is {state}, not running")
        if action == "pause":
            self._record(container)
            engine.pause(container)
        elif action == "stop":
            self._record(container)
            engine.stop(container, params.grace)
        elif action == "kill":
            self._record(container, signal=params.kill_signal)
            engine.kill(container, params.kill_signal)
        elif action == "restart":
            engine.restart(container, params.grace)  # transient: nothing to record or undo
        elif action == "disconnect":
            for attachment in self._chosen_networks(engine, container):
                self._record(container, network=asdict(attachment))
                engine.disconnect(container, attachment)
        elif action == "limit":
            previous = engine.limits(container)
            body = limit_body(params, previous)
            self._record(container, previous_limits={key: previous[key] for key in restore_keys(body)})
            engine.update_resources(container, body)

    def _chosen_networks(self, engine: DockerEngine, container: Container) -> list[NetworkAttachment]:
        attached = engine.attachments(container)
        if self.params.network is None:
            return list(attached.values())
        chosen = [a for a in attached.values() if self.params.network in (a.network_name, a.network_id)]
        if not chosen:
            on = ", ".join(attached) or "none"
            wanted = self.params.network
            raise InjectorError(f"docker: {container.name} is not on network {wanted} (it is on: {on})")
        return chosen

    def revert(self) -> None:
        if not self._applied:
            return
        with DockerEngine() as engine:
            self._undo_applied(engine)

    def _undo_applied(self, engine: DockerEngine) -> None:
        while self._applied:
            path, record = self._applied[-1]
            undo(engine, record)
            self.undo_log.remove(path)
            self._applied.pop()

    @classmethod
    def cleanup(cls, context: InjectionContext) -> list[str]:
        """Undo every change recorded in the state directory (``resources["state_dir"]`` or the default).

        With no record left there is nothing to undo and the engine is not
        contacted, so a machine without Docker cleans up without an error.
        """
        root = context.resources.get(STATE_DIR_KEY)
        state_root = Path(root) if root else None
        if not UndoLog(state_dir(context.resources)).records():
            return []
        with DockerEngine() as engine:
            return cleanup_all(engine, state_root)

    def describe(self) -> str:
        p = self.params
        target = p.selector()
        if self.container_name and self.container_name != p.container:
            target += f" ({self.container_name})"
        networks = f"network {p.network}" if p.network else "all its networks"
        limits = [f"{p.cpus:g} CPUs"] if p.cpus is not None else []
        limits += [f"{format_memory(p.memory)} memory"] if p.memory is not None else []
        detail = {
            "pause": f"pause {target}",
            "stop": f"stop {target} ({p.grace}s grace), started again on revert",
            "kill": f"kill {target} with {p.kill_signal}, started again on revert",
            "restart": f"restart {target} ({p.grace}s grace)",
            "disconnect": f"disconnect {target} from {networks}",
            "limit": f"limit {target} to {', '.join(limits)}",
        }[p.action]
        return f"docker: {detail}"


def limit_body(params: DockerParams, previous: dict[str, int]) -> dict[str, int]:
    """The update that applies `params`' limits given the container's current settings."""
    body: dict[str, int] = {}
    if params.memory is not None:
        body["Memory"] = params.memory
        body["MemorySwap"] = params.memory  # no swap on top, so the limit bites
    if params.cpus is not None:
        if previous.get("NanoCpus", 0) > 0:  # created with --cpus: the engine forbids mixing in CFS fields
            body["NanoCpus"] = round(params.cpus * 1e9)
        else:
            body["CpuPeriod"] = CFS_PERIOD
            body["CpuQuota"] = round(params.cpus * CFS_PERIOD)
    return body


def restore_keys(body: dict[str, int]) -> list[str]:
    """The HostConfig fields to remember so that `body` can be undone."""
    keys = list(body)
    if "Memory" in body:
        keys.append("MemorySwap")
    if "CpuQuota" in body:
        keys.append("CpuPeriod")
    return sorted(set(keys))


def restore_body(previous: dict[str, int], host_memory: int) -> dict[str, int]:
    """The update that puts back `previous` as closely as the engine allows (module docstring)."""
    body: dict[str, int] = {}
    if "Memory" in previous:
        memory = previous["Memory"] if previous["Memory"] > 0 else host_memory
        swap = previous.get("MemorySwap", 0)
        body["Memory"] = memory
        # A swap of -1 is recorded by the engine but not written to the cgroup (Docker 20.10), which
        # then refuses the larger memory limit; twice the memory is Docker's own default ratio.
        body["MemorySwap"] = swap if swap > 0 else 2 * max(memory, host_memory)
    if previous.get("NanoCpus", 0) > 0:
        body["NanoCpus"] = previous["NanoCpus"]
    if "CpuQuota" in previous:
        body["CpuQuota"] = previous["CpuQuota"] if previous["CpuQuota"] > 0 else -1
        body["CpuPeriod"] = previous.get("CpuPeriod") or CFS_PERIOD
    return body


def _wait_not_running(engine: DockerEngine, container: Container, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    state = engine.state(container)
    while state == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
        state = engine.state(container)
    return state


def undo(engine: DockerEngine, record: UndoRecord) -> str:
    """Put back what `record` says was changed; a description of what was done (idempotent)."""
    try:
        container = engine.get(record.container_id)
    except ContainerGone:
        return f"docker: {record.container_name} is gone; nothing to undo for {record.action}"
    name = record.container_name
    if record.action == "pause":
        if engine.state(container) == "paused":
            engine.unpause(container)
            return f"docker: unpaused {name}"
    elif record.action in ("stop", "kill"):
        wait = _SIGKILL_WAIT if record.signal == "SIGKILL" else _OTHER_SIGNAL_WAIT
        if record.action == "kill":
            state = _wait_not_running(engine, container, wait)
        else:
            state = engine.state(container)
        if state not in ("running", "restarting", "paused"):
            engine.start(container)
            return f"docker: started {name} again"
    elif record.action == "disconnect" and record.network:
        saved = record.network
        attachment = NetworkAttachment(**{**saved, "aliases": tuple(saved.get("aliases") or ())})
        attached = engine.attachments(container)
        if not any(attachment.network_id in (a.network_id, a.network_name) for a in attached.values()):
            engine.connect(container, attachment)
            return f"docker: reconnected {name} to {attachment.network_name}"
    elif record.action == "limit" and record.previous_limits:
        body = restore_body(record.previous_limits, engine.host_memory())
        engine.update_resources(container, body)
        return f"docker: restored the limits of {name}"
    return f"docker: {name} needed no undo for {record.action}"


def cleanup_all(engine: DockerEngine, state_root: Path | None = None, run_id: str | None = None) -> list[str]:
    """Undo every change a docker fault left recorded (after a SIGKILL); lines saying what was done.

    `state_root` is what the runner passed as ``resources["state_dir"]``, if anything.
    """
    log = UndoLog(state_dir({STATE_DIR_KEY: str(state_root)} if state_root is not None else None))
    done = []
    for path, record in log.records(run_id):
        done.append(undo(engine, record))
        log.remove(path)
    return done
