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
partition      delete the iptables rules tagged with this fault's
               ``chaosgate:<run>:<n>`` (see :mod:`injectors.docker.firewall`)
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

Partition: the containers of each group are resolved and their addresses read
once, at inject time; the rules drop IPv4 packets between every pair of
containers of different groups on every network both are on (the default
``bridge`` included, or only ``network`` when given), in both directions. A
container that restarts with a new address during the fault is not followed.
Networks with IPv6 addresses are refused rather than half cut.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from itertools import combinations, product
from pathlib import Path
from typing import Any, ClassVar

from chaosgate.exceptions import ChaosgateError, InjectorError
from chaosgate.injector import InjectionContext, Injector, InjectorParams
from injectors.docker.client import Container, ContainerGone, DockerEngine, NetworkAddress, NetworkAttachment
from injectors.docker.firewall import (
    IPTABLES,
    PARTITION_LOCK,
    TAG_PREFIX,
    Firewall,
    drop_rule,
    require_bridge_filtering,
    run_tag_prefix,
)
from injectors.docker.params import DockerParams, format_memory, split_entry
from injectors.docker.state import UndoLog, UndoRecord, undo_dir

CFS_PERIOD = 100_000
"""Microseconds; Docker's own default period for ``--cpus``."""
_SIGKILL_WAIT = 10.0
_OTHER_SIGNAL_WAIT = 1.0


class DockerInjector(Injector[DockerParams]):
    """Docker: pause, stop, kill, restart, disconnect, partition groups apart, or limit CPU and memory."""

    name: ClassVar[str] = "docker"
    Params: ClassVar[type[InjectorParams]] = DockerParams
    summary: ClassVar[str] = (
        "Container faults: pause, stop, kill, restart, disconnect, partition between groups, "
        "CPU/memory limits."
    )

    @classmethod
    def fault_class(cls, params: Mapping[str, Any]) -> str:
        return f"container: {params.get('action', '?')}"

    def __init__(self, params: DockerParams, context: InjectionContext) -> None:
        super().__init__(params, context)
        self._applied: list[tuple[Path, UndoRecord]] = []
        self.undo_log = UndoLog(undo_dir(context.state_dir))

    def resolve(self, name: str) -> str:
        """The container as the engine knows it: the target's resolution of the scenario's name."""
        return self.context.resources.get(f"container:{name}", name)

    @property
    def container_name(self) -> str | None:
        name = self.params.container
        return None if name is None else self.resolve(name)

    def _select(self, engine: DockerEngine, name: str | None, label: str | None) -> list[Container]:
        """The container called `name` (through the target), or every one carrying `label`."""
        if name is not None:
            resolved = self.resolve(name)
            try:
                return [engine.get(resolved)]
            except ContainerGone:
                raise InjectorError(f"docker: no container named {resolved}") from None
        found = engine.by_label(str(label))
        if not found:
            raise InjectorError(f"docker: no container carries the label {label}")
        return found

    def inject(self) -> None:
        if self._applied:
            raise InjectorError(f"{self.describe()}: already injected")
        with DockerEngine() as engine:
            try:
                if self.params.action == "partition":
                    self._partition(engine)
                else:
                    for container in self._select(engine, self.params.container, self.params.label):
                        self._apply(engine, container)
            except ChaosgateError:
                self._undo_applied(engine)  # a group half-faulted is worse than none
                raise

    def _record(
        self,
        container: Container | None,
        *,
        signal: str | None = None,
        network: dict[str, Any] | None = None,
        previous_limits: dict[str, int] | None = None,
        firewall: dict[str, Any] | None = None,
    ) -> None:
        """Write the undo record *before* the change, so a crash right after it can still be undone."""
        record = UndoRecord(
            run_id=self.context.run_id, action=self.params.action,
            container_id="" if container is None else str(container.id),
            container_name=self.params.selector() if container is None else str(container.name),
            signal=signal, network=network, previous_limits=previous_limits or {}, firewall=firewall,
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

    def _partition(self, engine: DockerEngine) -> None:
        """Resolve the groups, read their addresses, then record and insert the DROP rules."""
        groups = self._partition_groups(engine)
        sides = [[(str(c.name), engine.addresses(c)) for c in group] for group in groups]
        pairs = address_pairs(sides, self.params.network)
        if not pairs:
            on = f"network {self.params.network}" if self.params.network else "network"
            raise InjectorError(f"docker: the groups {self.params.selector()} share no {on}: nothing to cut")
        require_bridge_filtering()
        firewall = Firewall()
        with PARTITION_LOCK:
            chain = firewall.chain()
            tag = firewall.next_tag(self.context.run_id)
            rules = [drop_rule(source, destination, tag) for source, destination in pairs]
            self._record(None, firewall={"chain": chain, "tag": tag, "rules": [list(rule) for rule in rules]})
            for rule in rules:
                firewall.insert(chain, rule)

    def _partition_groups(self, engine: DockerEngine) -> list[list[Container]]:
        """The running containers of each group; one container in two groups is an error."""
        groups: list[list[Container]] = []
        group_of: dict[str, int] = {}
        for number, entries in enumerate(self.params.groups or (), start=1):
            members: dict[str, Container] = {}
            for entry in entries:
                for container in self._select(engine, *split_entry(entry)):
                    members.setdefault(str(container.id), container)
            for container_id, container in members.items():
                if container_id in group_of:
                    raise InjectorError(
                        f"docker: {container.name} is in group {group_of[container_id]} and group {number}"
                    )
                group_of[container_id] = number
                state = engine.state(container)
                if state != "running":
                    name = container.name
                    raise InjectorError(f"docker: cannot partition {name}: it is {state}, not running")
            groups.append(list(members.values()))
        return groups

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
        if self.params.action == "partition":
            self._undo_applied(None)  # iptables only: works even if the engine went away meanwhile
            return
        with DockerEngine() as engine:
            self._undo_applied(engine)

    def _undo_applied(self, engine: DockerEngine | None) -> None:
        while self._applied:
            path, record = self._applied[-1]
            undo(engine, record)
            self.undo_log.remove(path)
            self._applied.pop()

    @classmethod
    def cleanup(cls, context: InjectionContext) -> list[str]:
        """Undo every change recorded under the context's state directory,
        then delete any ``chaosgate:`` iptables rule still on the host.

        The engine is contacted only for records of container changes, so a
        machine without Docker cleans up without an error.
        """
        return cleanup_all(None, context.state_dir)

    def describe(self) -> str:
        p = self.params
        target = p.selector()
        if self.container_name and self.container_name != p.container:
            target += f" ({self.container_name})"
        networks = f"network {p.network}" if p.network else "all its networks"
        if p.groups is not None:
            shown = [[self._shown(entry) for entry in group] for group in p.groups]
            between = " | ".join(f"[{', '.join(group)}]" for group in shown)
            cut = f"network {p.network}" if p.network else "every network they share"
            return f"docker: partition {between} on {cut}"
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

    def _shown(self, entry: str) -> str:
        name, _ = split_entry(entry)
        if name is None or self.resolve(name) == name:
            return entry
        return f"{name} ({self.resolve(name)})"


def address_pairs(
    sides: Sequence[Sequence[tuple[str, Mapping[str, NetworkAddress]]]], network: str | None
) -> list[tuple[str, str]]:
    """(source, destination) IPv4 addresses to drop: both ways between containers of different sides.

    Each side is a list of (container name, its addresses by network id); a
    pair counts on every network both containers are on, or on `network` only.
    """
    pairs: dict[tuple[str, str], None] = {}
    for first, second in combinations(sides, 2):
        for (name_x, on_x), (name_y, on_y) in product(first, second):
            for network_id, x in on_x.items():
                y = on_y.get(network_id)
                if y is None or (network is not None and network not in (x.network_name, x.network_id)):
                    continue
                if x.ipv6 or y.ipv6:
                    raise InjectorError(
                        f"docker: cannot partition {name_x} from {name_y} on {x.network_name}: "
                        "the network has IPv6 addresses and only IPv4 is cut"
                    )
                if x.ipv4 and y.ipv4:
                    pairs[(x.ipv4, y.ipv4)] = None
                    pairs[(y.ipv4, x.ipv4)] = None
    return list(pairs)


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


def undo_partition(record: UndoRecord) -> str:
    """Delete the rules of the partition `record` describes (by their tag; idempotent)."""
    tag = str((record.firewall or {}).get("tag") or "")
    if not tag.startswith(TAG_PREFIX):
        return f"docker: partition {record.container_name} recorded no rule tag; nothing to undo"
    removed = Firewall().remove(lambda found: found == tag)
    if removed:
        return f"docker: removed the partition {record.container_name} ({len(removed)} iptables rules {tag})"
    return f"docker: {record.container_name} needed no undo for partition"


def sweep_partition_rules(run_id: str | None = None) -> list[str]:
    """Delete every ``chaosgate:`` iptables rule left on the host (of one run, if given).

    This catches rules whose undo record is gone or lives in another state
    folder. Without the ``iptables`` command or root there is nothing chaosgate
    could have inserted, or could delete: nothing is looked at.
    """
    if shutil.which(IPTABLES) is None or os.geteuid() != 0:
        return []
    prefix = run_tag_prefix(run_id) if run_id is not None else TAG_PREFIX
    removed = Firewall().remove(lambda tag: tag.startswith(prefix))
    counts = Counter(rule.tag for rule in removed)
    return [f"docker: removed {count} leftover iptables rules tagged {tag}" for tag, count in counts.items()]


def undo(engine: DockerEngine | None, record: UndoRecord) -> str:
    """Put back what `record` says was changed; a description of what was done (idempotent).

    A partition needs only iptables; any other change opens an engine if none is given.
    """
    if record.action == "partition":
        return undo_partition(record)
    if engine is None:
        with DockerEngine() as own:
            return undo(own, record)
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


def cleanup_all(
    engine: DockerEngine | None = None, state_root: Path | None = None, run_id: str | None = None
) -> list[str]:
    """Undo every change a docker fault left (after a SIGKILL); lines saying what was done.

    First every undo record, newest first, then every ``chaosgate:`` iptables
    rule still there (:func:`sweep_partition_rules`). `state_root` is the
    runner's ``InjectionContext.state_dir`` (None: the default). Without an
    `engine`, the engine is contacted only for records of container changes.

    A record whose undo fails — the engine is unreachable, the engine refuses —
    is kept for the next cleanup, and the failures are raised together once
    every other record was handled: an engine that is down has not undone
    anything, so it is an error here, never "nothing to clean".
    """
    log = UndoLog(undo_dir(state_root))
    done, failed = [], []
    for path, record in log.records(run_id):
        try:
            done.append(undo(engine, record))
        except ChaosgateError as error:
            failed.append(f"{record.action} of {record.container_name} not undone ({error}); kept {path}")
            continue
        log.remove(path)
    done += sweep_partition_rules(run_id)
    if failed:
        raise InjectorError("; ".join([*failed, *(f"(done: {line})" for line in done)]))
    return done
