"""Write-ahead records of the faults the websocket injector added, so a SIGKILLed run can be undone.

The fault's name (``chaosgate_<run>_<n>``) already marks it on the proxy, but
a cleanup must also know *which* proxies to look at: the context of
``chaosgate cleanup`` may not name them. So before each fault is added, one
small JSON file records the proxy's control URL and the fault's name; the
revert deletes it. The files live under the state root shared with the other
injectors (:func:`chaosgate.state.default_state_dir`), in ``websocket/``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from chaosgate.state import default_state_dir
from chaosgate.undo import read_records, write_record

SUBDIR = "websocket"


def undo_dir(state_root: Path | None = None) -> Path:
    """The directory for websocket fault records, under `state_root` or the default state root."""
    return default_state_dir(state_root) / SUBDIR


@dataclass(frozen=True)
class FaultRecord:
    """A fault added (or about to be added) to one proxy."""

    run_id: str
    control_url: str
    fault: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FaultRecord:
        data = json.loads(text)
        return cls(str(data["run_id"]), str(data["control_url"]), str(data["fault"]))


class FaultLog:
    """The directory of fault records: one file per fault (:mod:`chaosgate.undo`)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def write(self, record: FaultRecord) -> Path:
        return write_record(self.directory, "websocket", record.run_id, record.fault, record.to_json())

    @staticmethod
    def remove(path: Path) -> None:
        path.unlink(missing_ok=True)

    def records(self, run_id: str | None = None) -> list[tuple[Path, FaultRecord]]:
        """Every record left behind (of one run, if given), newest first."""
        return read_records(self.directory, "websocket", FaultRecord.from_json, lambda r: r.run_id, run_id)
