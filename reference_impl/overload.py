"""The overload signal (R5.2): real CPU and memory readings, or the chaos hooks' pressure faults.

The background loop samples every ``metrics_interval`` with psutil: the CPU
used by this process over the interval (100 % = its event loop never idle)
and the machine's memory in use; the service counts as overloaded while the
last two samples are both above ``overload_cpu_percent`` (90) or
``overload_memory_percent`` (85). The chaos faults
``cpu_pressure`` / ``memory_pressure`` force the signal, since a test cannot
safely push a shared machine past 90 % CPU.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from reference_impl.chaos import ChaosControl, Fault

try:
    psutil: ModuleType | None = importlib.import_module("psutil")
except ImportError:  # pragma: no cover - psutil is a dependency; degrade to the chaos signal only
    psutil = None


@dataclass
class ResourceReading:
    """The last two samples: CPU of this process (100 = one core busy, i.e. a saturated event loop,
    not the machine, which other tenants may load) and memory in use on the machine."""

    cpu_percent: float | None = None
    memory_percent: float | None = None
    previous_cpu: float | None = None
    previous_memory: float | None = None
    _process: Any = None

    def sample(self) -> None:
        if psutil is None:
            return
        if self._process is None:
            self._process = psutil.Process()
            self._process.cpu_percent(interval=None)  # the first reading is meaningless
            return
        self.previous_cpu, self.previous_memory = self.cpu_percent, self.memory_percent
        self.cpu_percent = float(self._process.cpu_percent(interval=None))
        self.memory_percent = float(psutil.virtual_memory().percent)

    def sustained(self, current: float | None, previous: float | None, limit: float) -> float | None:
        """The lower of the last two samples if both exceed ``limit`` (one spike is not overload)."""
        if current is None or previous is None or min(current, previous) <= limit:
            return None
        return min(current, previous)


def overload_reason(
    reading: ResourceReading, chaos: ChaosControl, cpu_limit: float, memory_limit: float
) -> str | None:
    """Why the service is overloaded right now, or None."""
    if chaos.active(Fault.CPU_PRESSURE):
        return f"cpu above {cpu_limit:g}% (injected pressure)"
    if chaos.active(Fault.MEMORY_PRESSURE):
        return f"memory above {memory_limit:g}% (injected pressure)"
    cpu = reading.sustained(reading.cpu_percent, reading.previous_cpu, cpu_limit)
    if cpu is not None:
        return f"cpu {cpu:.0f}% > {cpu_limit:g}%"
    memory = reading.sustained(reading.memory_percent, reading.previous_memory, memory_limit)
    if memory is not None:
        return f"memory {memory:.0f}% > {memory_limit:g}%"
    return None
