"""The JSON-lines journal: every event written and flushed as it happens (R2.4).

A run killed with SIGKILL still leaves on disk everything it saw up to that
moment, including which faults were injected and not yet reverted. The
finished records carry the whole scenario and run results, so every report
can be rendered again from the journal alone (`chaosgate report RUN_DIR`).

Fault worker threads and the event loop both emit; the bus already serialises
its handlers, and the journal holds its own lock as well so that each line is
written and flushed whole even when it is fed directly from several threads.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from chaosgate.coverage import Footprint
from chaosgate.engine.events import Event, RunFinished, ScenarioFinished
from chaosgate.results import RunResult, ScenarioResult


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
        self._lock = threading.Lock()

    def handle(self, event: Event) -> None:
        if isinstance(event, ScenarioFinished | RunFinished):
            record: dict[str, Any] = {"event": event.kind}
            if isinstance(event, ScenarioFinished):
                record.update(scenario_id=event.scenario_id, status=event.status, score=event.score)
            record["result"] = _plain(event.result)
        else:
            record = {"event": event.kind, **_plain(event)}
        line = json.dumps(record, default=str) + "\n"
        with self._lock:
            if self._file.closed:
                return  # a thread still reporting after the end: the journal is final
            self._file.write(line)
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


@dataclass
class JournalContents:
    """What a stored journal says about its run, samples aside (they are read by whoever aggregates)."""

    run_started: dict[str, Any] = dataclasses.field(default_factory=dict)
    footprints: list[Footprint] = dataclasses.field(default_factory=list)
    scenarios: list[ScenarioResult] = dataclasses.field(default_factory=list)
    run: RunResult | None = None


_SAMPLE_PREFIX = '{"event": "SampleTaken"'


def read_journal(path: Path) -> JournalContents:
    """Parse every line but the samples; a truncated last line (a killed run) is skipped."""
    contents = JournalContents()
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.startswith(_SAMPLE_PREFIX) or not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            kind = record.get("event")
            if kind == "RunStarted":
                contents.run_started = record
            elif kind == "ScenarioStarted" and record.get("footprint"):
                contents.footprints.append(Footprint.from_json(record["footprint"]))
            elif kind == "ScenarioFinished" and record.get("result"):
                contents.scenarios.append(ScenarioResult.model_validate(record["result"]))
            elif kind == "RunFinished" and record.get("result"):
                contents.run = RunResult.model_validate(record["result"])
    return contents
