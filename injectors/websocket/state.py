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
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from chaosgate.exceptions import InjectorError
from chaosgate.state import default_state_dir

STATE_DIR_KEY = "state_dir"
SUBDIR = "websocket"


def state_dir(resources: Mapping[str, str] | None = None) -> Path:
    return default_state_dir((resources or {}).get(STATE_DIR_KEY)) / SUBDIR


@dataclass(frozen=True)
class FaultRecord:
    """A fault added (or about to be added) to one proxy."""

    run_id: str
    control_url: str
    fault: str


class FaultLog:
    """One file per fault, written atomically, named after the fault."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def write(self, record: FaultRecord) -> Path:
        path = self.directory / f"{time.time_ns()}-{record.fault}.json"
        tmp = path.with_suffix(".tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(asdict(record), sort_keys=True))
            os.replace(tmp, path)
        except OSError as error:
            raise InjectorError(f"websocket: cannot write the fault record {path}: {error}") from error
        return path

    @staticmethod
    def remove(path: Path) -> None:
        path.unlink(missing_ok=True)

    def records(self) -> list[tuple[Path, FaultRecord]]:
        if not self.directory.is_dir():
            return []
        found = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                data = json.loads(path.read_text())
                record = FaultRecord(str(data["run_id"]), str(data["control_url"]), str(data["fault"]))
            except (OSError, ValueError, KeyError, TypeError) as error:
                raise InjectorError(f"websocket: unreadable fault record {path}: {error}") from error
            found.append((path, record))
        return found
