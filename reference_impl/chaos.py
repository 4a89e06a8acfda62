"""Application-level fault hooks (R3.5) for conditions that cannot be made from outside.

A network proxy can delay or cut PostgreSQL, but it cannot make the storage
return corrupt data, make one agent busy, or make a progress calculation
fail. These faults are switched on through ``/api/v1/chaos/faults``, which
exists only when the service starts with ``PRISM_CHAOS_ENABLED=true`` and
answers only to ``X-Chaos-Token: $PRISM_CHAOS_TOKEN``. Each fault has a
duration and expires by itself, so a crashed test run cannot leave the
service broken. State is per process (run one worker when injecting).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum


class Fault(StrEnum):
    """The injectable internal faults and what each one does."""

    STORAGE_CORRUPTION = "storage_corruption"
    """Writes fail with 500 `data_integrity`; writes stay blocked until a recovery check passes."""
    AGENT_BUSY = "agent_busy"
    """`PUT /agents/{id}/config` answers 202: the change waits until the agent is idle."""
    RESOURCE_EXHAUSTION = "resource_exhaustion"
    """`POST /agents` answers 503 + `Retry-After`; the agent is queued and created after the fault."""
    METRICS_CALCULATION_FAILURE = "metrics_calculation_failure"
    """Progress falls back to step-based; `GET /agents` and `GET /system/metrics` answer 206."""
    CPU_PRESSURE = "cpu_pressure"
    """The overload signal reads CPU above the threshold: the event stream throttles (R5.2)."""
    MEMORY_PRESSURE = "memory_pressure"
    """The overload signal reads memory above the threshold: the event stream throttles (R5.2)."""


@dataclass(frozen=True)
class ActiveFault:
    """A fault that is on, until ``expires_at`` (monotonic)."""

    fault: Fault
    injected_at: datetime
    expires_at: float
    agent_id: str | None

    def remaining(self) -> float:
        return max(0.0, self.expires_at - time.monotonic())


class ChaosControl:
    """The registry of active internal faults; inert when chaos is disabled."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._active: dict[Fault, ActiveFault] = {}

    def inject(self, fault: Fault, duration: float, agent_id: str | None = None) -> ActiveFault:
        """Turn ``fault`` on for ``duration`` seconds (replacing an earlier injection of it)."""
        if not self.enabled:
            raise RuntimeError("chaos hooks are disabled (PRISM_CHAOS_ENABLED)")
        active = ActiveFault(fault, datetime.now(UTC), time.monotonic() + duration, agent_id)
        self._active[fault] = active
        return active

    def revert(self, fault: Fault) -> bool:
        """Turn ``fault`` off; False when it was not on."""
        return self._active.pop(fault, None) is not None

    def revert_all(self) -> int:
        count = len(self.list())
        self._active.clear()
        return count

    def active(self, fault: Fault, agent_id: str | None = None) -> ActiveFault | None:
        """The injection of ``fault`` if on (and, for agent faults, aimed at ``agent_id`` or at all)."""
        current = self._active.get(fault)
        if current is None:
            return None
        if current.remaining() <= 0:
            del self._active[fault]
            return None
        if current.agent_id is not None and agent_id is not None and current.agent_id != agent_id:
            return None
        return current

    def list(self) -> list[ActiveFault]:
        """Every fault still on."""
        return [fault for name in list(self._active) if (fault := self.active(name)) is not None]
