"""Write-ahead records of what the process injector did, so a SIGKILLed run can be undone.

A frozen or killed process carries no mark of who did it, so *before* each
signal the injector writes one JSON file saying how to undo it (continue the
group, or start the process again from its record), and deletes it once the
revert succeeded. ``chaosgate cleanup`` applies every file left behind.

Where the files live, first match wins: ``context.resources["state_dir"]``,
the ``CHAOSGATE_STATE_DIR`` environment variable, ``$XDG_STATE_HOME/chaosgate``
(default ``~/.local/state/chaosgate``); always in a ``process/`` sub-directory
(the docker injector uses ``docker/`` under the same root).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from chaosgate.exceptions import InjectorError
from chaosgate.state import default_state_dir

STATE_DIR_KEY = "state_dir"
SUBDIR = "process"


def state_dir(resources: Mapping[str, str] | None = None) -> Path:
    """The directory for process undo records (see the module docstring for the order)."""
    return default_state_dir((resources or {}).get(STATE_DIR_KEY)) / SUBDIR


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
            run_id=str(data["run_id"]), action=str(data["action"]), name=str(data["name"]),
            record_path=str(data["record_path"]), pid=int(data["pid"]), pgid=int(data["pgid"]),
            signal=str(data["signal"]),
        )


class UndoLog:
    """The directory of undo records: one file per signal, written atomically."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def write(self, record: ProcessUndo) -> Path:
        safe_run = re.sub(r"[^A-Za-z0-9.-]+", "-", record.run_id) or "run"
        path = self.directory / f"{time.time_ns()}-{safe_run}-{record.action}-{record.pid}.json"
        tmp = path.with_suffix(".tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp.write_text(record.to_json())
            os.replace(tmp, path)
        except OSError as error:
            raise InjectorError(f"process: cannot write the undo record {path}: {error}") from error
        return path

    @staticmethod
    def remove(path: Path) -> None:
        path.unlink(missing_ok=True)

    def records(self, run_id: str | None = None) -> list[tuple[Path, ProcessUndo]]:
        """Every record left behind (of one run, if given), newest first."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in sorted(self.directory.glob("*.json"), reverse=True):
            try:
                record = ProcessUndo.from_dict(json.loads(path.read_text()))
            except (OSError, ValueError, KeyError, TypeError) as error:
                raise InjectorError(f"process: unreadable undo record {path}: {error}") from error
            if run_id is None or record.run_id == run_id:
                found.append((path, record))
        return found
