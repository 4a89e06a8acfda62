"""Write-ahead records of what the docker injector changed, so a SIGKILLed run can be undone.

The engine cannot add a label to an existing container (labels are fixed at
creation), and a paused or disconnected container looks like any other, so
the change cannot be marked on the container itself. Instead, *before* each
change the injector writes one small JSON file describing how to undo it, and
deletes the file once the revert succeeded. ``chaosgate cleanup`` reads every
file left behind and applies the same undo.

The same applies to a partition, whose change is a set of iptables rules on
the host: the record names the chain and the tag of its rules.

The files live under the state root every injector shares
(:func:`chaosgate.state.default_state_dir`: ``context.resources["state_dir"]``,
then ``$CHAOSGATE_STATE_DIR``, then ``$XDG_STATE_HOME/chaosgate``), in a
``docker/`` sub-directory. A run directory that is not found by ``cleanup``
would defeat the point, so runners that set ``state_dir`` should pass the same
directory to :func:`~injectors.docker.injector.cleanup_all`.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chaosgate.exceptions import InjectorError
from chaosgate.state import default_state_dir

STATE_DIR_KEY = "state_dir"
SUBDIR = "docker"


def state_dir(resources: Mapping[str, str] | None = None) -> Path:
    """The directory for docker undo records (see the module docstring for the order)."""
    return default_state_dir((resources or {}).get(STATE_DIR_KEY)) / SUBDIR


@dataclass(frozen=True)
class UndoRecord:
    """One change to one container (or, for a partition, to the host's iptables) and its undo.

    A partition has no single container: its `container_id` is empty and its
    `container_name` says which groups were cut apart.
    """

    run_id: str
    action: str
    container_id: str
    container_name: str
    signal: str | None = None
    """kill: the signal sent (SIGKILL is known to stop the container; others may not)."""
    network: dict[str, Any] | None = None
    """disconnect: the attachment to restore (id, name, aliases, ipv4_address)."""
    previous_limits: dict[str, int] = field(default_factory=dict)
    """limit: the HostConfig resource fields before the change."""
    firewall: dict[str, Any] | None = None
    """partition: ``chain``, ``tag`` (the iptables comment on every rule) and ``rules`` (their arguments)."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> UndoRecord:
        data = json.loads(text)
        return cls(
            run_id=str(data["run_id"]),
            action=str(data["action"]),
            container_id=str(data["container_id"]),
            container_name=str(data["container_name"]),
            signal=data.get("signal"),
            network=data.get("network"),
            previous_limits={str(k): int(v) for k, v in (data.get("previous_limits") or {}).items()},
            firewall=data.get("firewall"),
        )


class UndoLog:
    """The directory of undo records: one file per change, written atomically."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def write(self, record: UndoRecord) -> Path:
        """Record before changing; the name starts with the time so names sort oldest first."""
        safe_run = re.sub(r"[^A-Za-z0-9.-]+", "-", record.run_id) or "run"
        subject = record.container_id[:12] or "iptables"
        path = self.directory / f"{time.time_ns()}-{safe_run}-{record.action}-{subject}.json"
        tmp = path.with_suffix(".tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp.write_text(record.to_json())
            os.replace(tmp, path)
        except OSError as error:
            raise InjectorError(f"docker: cannot write the undo record {path}: {error}") from error
        return path

    @staticmethod
    def remove(path: Path) -> None:
        path.unlink(missing_ok=True)

    def records(self, run_id: str | None = None) -> list[tuple[Path, UndoRecord]]:
        """Every record left behind (of one run, if given), newest first: undo in reverse order."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in sorted(self.directory.glob("*.json"), reverse=True):
            try:
                record = UndoRecord.from_json(path.read_text())
            except (OSError, ValueError, KeyError, TypeError) as error:
                raise InjectorError(f"docker: unreadable undo record {path}: {error}") from error
            if run_id is None or record.run_id == run_id:
                found.append((path, record))
        return found
