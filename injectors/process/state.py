"""Write-ahead records of what the process injector did, so a SIGKILLed run can be undone.

A frozen or killed process carries no mark of who did it, so *before* each
signal the injector writes one JSON file saying how to undo it (continue the
group, or start the process again from its record), and deletes it once the
revert succeeded. ``chaosgate cleanup`` applies every file left behind.

Where the files live, first match wins: ``context.state_dir``,
the ``CHAOSGATE_STATE_DIR`` environment variable, ``$XDG_STATE_HOME/chaosgate``
(default ``~/.local/state/chaosgate``); always in a ``process/`` sub-directory
(the docker injector uses ``docker/`` under the same root).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from chaosgate.state import default_state_dir
from chaosgate.undo import read_records, write_record

SUBDIR = "process"


def undo_dir(state_root: Path | None = None) -> Path:
    """The directory for process undo records (see the module docstring for the order)."""
    return default_state_dir(state_root) / SUBDIR


@dataclass(frozen=True)
class ProcessUndo:
    """One signal to one process group, and what it takes to put it back."""

    run_id: str
    action: str
    name: str
    record_path: str
    """The process record the target publishes; a restart reads and rewrites it."""
    pid: int
    pgid: int
    signal: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProcessUndo:
        return cls(
            run_id=str(data["run_id"]),
            action=str(data["action"]),
            name=str(data["name"]),
            record_path=str(data["record_path"]),
            pid=int(data["pid"]),
            pgid=int(data["pgid"]),
            signal=str(data["signal"]),
        )


class UndoLog:
    """The directory of undo records: one file per signal, written atomically."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def write(self, record: ProcessUndo) -> Path:
        label = f"{record.action}-{record.pid}"
        return write_record(self.directory, "process", record.run_id, label, record.to_json())

    @staticmethod
    def remove(path: Path) -> None:
        path.unlink(missing_ok=True)

    def records(self, run_id: str | None = None) -> list[tuple[Path, ProcessUndo]]:
        """Every record left behind (of one run, if given), newest first."""
        return read_records(
            self.directory,
            "process",
            lambda text: ProcessUndo.from_dict(json.loads(text)),
            lambda r: r.run_id,
            run_id,
        )
