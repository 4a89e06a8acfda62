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
(``context.state_dir``; without a context :func:`chaosgate.state.default_state_dir`:
``$CHAOSGATE_STATE_DIR``, then ``$XDG_STATE_HOME/chaosgate``), in a
``docker/`` sub-directory. A run directory that is not found by ``cleanup``
would defeat the point, so runners that set ``state_dir`` should pass the same
directory to :func:`~injectors.docker.injector.cleanup_all`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chaosgate.state import default_state_dir
from chaosgate.undo import read_records, write_record

SUBDIR = "docker"


def undo_dir(state_root: Path | None = None) -> Path:
    """The directory for docker undo records (see the module docstring for the order)."""
    return default_state_dir(state_root) / SUBDIR


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
        subject = record.container_id[:12] or "iptables"
        return write_record(
            self.directory, "docker", record.run_id, f"{record.action}-{subject}", record.to_json()
        )

    @staticmethod
    def remove(path: Path) -> None:
        path.unlink(missing_ok=True)

    def records(self, run_id: str | None = None) -> list[tuple[Path, UndoRecord]]:
        """Every record left behind (of one run, if given), newest first: undo in reverse order."""
        return read_records(self.directory, "docker", UndoRecord.from_json, lambda r: r.run_id, run_id)
