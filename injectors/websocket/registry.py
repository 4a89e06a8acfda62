"""The faults a proxy holds, and the items that travel to a client.

The :class:`FaultRegistry` is what the control API shows and changes; every
connection listens to it and keeps its own :class:`~injectors.websocket.pipeline.Pipeline`
in step. Everything runs on the proxy's event loop thread.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from injectors.websocket.faults import FaultSpec

Data = str | bytes


@dataclass
class Frame:
    """One message on its way to the client, and the loop time before which it must not be sent."""

    data: Data
    due: float


@dataclass(frozen=True)
class Close:
    """Close the client connection once everything before it was sent."""

    code: int
    reason: str = ""


Item = Frame | Close


@dataclass(eq=False)
class ActiveFault:
    """A fault as the proxy holds it: its spec, when it was added, and what it did so far."""

    name: str
    spec: FaultSpec
    created: float = field(default_factory=time.monotonic)
    counters: Counter[str] = field(default_factory=Counter)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.spec.kind,
            **self.spec.model_dump(mode="json"),
            "summary": self.spec.summary(),
            "counters": dict(sorted(self.counters.items())),
        }


class FaultRegistry:
    """The proxy's faults in the order they were added; listeners hear of every change."""

    def __init__(self) -> None:
        self._faults: dict[str, ActiveFault] = {}
        self._listeners: set[Callable[[], None]] = set()

    def faults(self) -> list[ActiveFault]:
        return list(self._faults.values())

    def get(self, name: str) -> ActiveFault | None:
        return self._faults.get(name)

    def add(self, name: str, spec: FaultSpec) -> ActiveFault:
        if name in self._faults:
            raise KeyError(name)
        fault = self._faults[name] = ActiveFault(name, spec)
        self._changed()
        return fault

    def remove(self, name: str) -> ActiveFault | None:
        fault = self._faults.pop(name, None)
        if fault is not None:
            self._changed()
        return fault

    def clear(self) -> list[ActiveFault]:
        removed = list(self._faults.values())
        self._faults.clear()
        if removed:
            self._changed()
        return removed

    def listen(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback` after every change; returns the function that stops it."""
        self._listeners.add(callback)
        return lambda: self._listeners.discard(callback)

    def _changed(self) -> None:
        for callback in list(self._listeners):
            callback()
