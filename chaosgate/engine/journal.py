"""The JSON-lines journal: every event written and flushed as it happens (R2.4).

A run killed with SIGKILL still leaves on disk everything it saw up to that
moment, including which faults were injected and not yet reverted.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import IO, Any

from chaosgate.engine.events import Event, RunFinished, ScenarioFinished


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", by_alias=True)
    return value


class Journal:
    """Appends one JSON object per event to `path`, flushing each line."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # One journal per run: an earlier run's lines in the same folder would mix two timelines.
        self._file: IO[str] = path.open("w", encoding="utf-8")

    def handle(self, event: Event) -> None:
        if isinstance(event, ScenarioFinished | RunFinished):
            record: dict[str, Any] = {"event": event.kind}
            if isinstance(event, ScenarioFinished):
                record.update(scenario_id=event.scenario_id, status=event.status, score=event.score)
        else:
            record = {"event": event.kind, **_plain(event)}
        self._file.write(json.dumps(record, default=str) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()
