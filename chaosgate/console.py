"""Progress on the terminal while a run goes: phases, faults, verdicts (an event handler)."""

from __future__ import annotations

import sys
from typing import TextIO

from chaosgate.engine.events import (
    Event,
    FaultInjected,
    FaultReverted,
    Message,
    PhaseChanged,
    RunFinished,
    ScenarioFinished,
    ScenarioStarted,
)


class Console:
    """Writes one line per notable event; samples are too many to print."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr

    def _say(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def handle(self, event: Event) -> None:
        if isinstance(event, ScenarioStarted):
            self._say(f"▶ {event.scenario_id}: {event.title}")
        elif isinstance(event, PhaseChanged):
            self._say(f"  · {event.phase}")
        elif isinstance(event, FaultInjected):
            self._say(f"  ⚡ t={event.t:.2f}s injected {event.fault}: {event.description}")
        elif isinstance(event, FaultReverted):
            problem = f" (revert failed: {event.error})" if event.error else ""
            self._say(f"  ↺ t={event.t:.2f}s reverted {event.fault}{problem}")
        elif isinstance(event, Message):
            self._say(f"  {event.level}: {event.text}")
        elif isinstance(event, ScenarioFinished):
            self._say(f"  = {event.status}, score {event.score:g}")
        elif isinstance(event, RunFinished):
            run = event.result
            decision = "GO" if run.verdict.decision == "go" else "NO-GO"
            self._say(f"{decision}: score {run.score:g} (grade {run.grade})")
            for reason in run.verdict.reasons:
                self._say(f"  - {reason}")

    def close(self) -> None:
        self.stream.flush()
