"""Typed events of a run, and the bus that hands them to handlers.

The runner only emits events; the journal, the console and the report
writers are handlers. A handler that raises is reported once and switched
off — it never aborts the run, because a broken report writer must not leave
a fault injected or lose the other outputs.

Faults are injected and reverted in worker threads while probes run on the
event loop, so events arrive from several threads at once. The bus hands
them to its handlers one at a time (a lock around each fan-out): a handler
is written as if single-threaded and never sees two events interleaved.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from chaosgate.engine.samples import Sample
from chaosgate.results import RunResult, ScenarioResult

if TYPE_CHECKING:  # coverage reads the installed injectors through plugins, which import this module
    from chaosgate.coverage import Footprint


@dataclass(frozen=True)
class Event:
    """Base of every event; `t` is seconds on the scenario clock where one applies."""

    @property
    def kind(self) -> str:
        return type(self).__name__


@dataclass(frozen=True)
class RunStarted(Event):
    run_id: str
    scenarios: tuple[str, ...]
    out_dir: str
    history_dir: str | None = None
    """Where earlier runs are kept, for the trends in the reports."""


@dataclass(frozen=True)
class ScenarioStarted(Event):
    scenario_id: str
    title: str
    plan: tuple[str, ...]
    footprint: Footprint | None = None
    """What the scenario touches under which faults, for the endpoint × fault-class matrix."""


@dataclass(frozen=True)
class TargetSettled(Event):
    """The wait before a scenario for the target's readiness checks: how long, and whether it ended ready."""

    scenario_id: str
    target: str
    ready: bool
    seconds: float
    reason: str = ""


@dataclass(frozen=True)
class PhaseChanged(Event):
    scenario_id: str
    phase: str
    t: float


@dataclass(frozen=True)
class FaultInjected(Event):
    scenario_id: str
    fault: str
    description: str
    t: float


@dataclass(frozen=True)
class FaultReverted(Event):
    scenario_id: str
    fault: str
    t: float
    error: str | None = None


@dataclass(frozen=True)
class SampleTaken(Event):
    scenario_id: str
    sample: Sample


@dataclass(frozen=True)
class Message(Event):
    """Something a person running chaosgate should read (progress, warnings)."""

    text: str
    level: str = "info"
    scenario_id: str | None = None


@dataclass(frozen=True)
class ScenarioFinished(Event):
    scenario_id: str
    status: str
    score: float
    result: ScenarioResult = field(compare=False, repr=False)


@dataclass(frozen=True)
class RunFinished(Event):
    """The end: `result` is what every report renders."""

    result: RunResult = field(compare=False, repr=False)


class EventHandler(Protocol):
    """What the bus calls; `close` runs once at the end of the run."""

    def handle(self, event: Event) -> None: ...

    def close(self) -> None: ...


@dataclass
class HandlerFailure:
    handler: str
    event: str
    error: str


class EventBus:
    """Fans events out to handlers, one event at a time from any thread; isolates their failures."""

    def __init__(self, handlers: Iterable[EventHandler] = ()) -> None:
        self.handlers: list[EventHandler] = list(handlers)
        self.failures: list[HandlerFailure] = []
        self._disabled: set[int] = set()
        # Re-entrant: a handler that emits an event of its own must not deadlock its thread.
        self._lock = threading.RLock()
        self._closed = False

    def add(self, handler: EventHandler) -> None:
        with self._lock:
            self.handlers.append(handler)

    def emit(self, event: Event) -> None:
        """Hand `event` to every live handler; dropped once the bus is closed (outputs are final)."""
        with self._lock:
            if self._closed:
                return
            for handler in self.handlers:
                if id(handler) in self._disabled:
                    continue
                try:
                    handler.handle(event)
                except Exception as error:  # noqa: BLE001 - a handler must never abort the run
                    self._fail(handler, event.kind, error)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for handler in self.handlers:
                if id(handler) in self._disabled:
                    continue
                try:
                    handler.close()
                except Exception as error:  # noqa: BLE001
                    self._fail(handler, "close", error)

    def _fail(self, handler: EventHandler, event: str, error: Exception) -> None:
        name = type(handler).__name__
        self._disabled.add(id(handler))
        self.failures.append(HandlerFailure(name, event, f"{type(error).__name__}: {error}"))
        sys.stderr.write(
            f"chaosgate: output handler {name} failed on {event} and was switched off: {error}\n"
        )
