"""Early warning: a gate still passing whose measured value moves run over run toward its threshold.

For each scenario's applicable gate with a measured value in at least
`MIN_POINTS` of the last runs, a least-squares line is fitted to the values
against the run number. When the line heads toward the threshold, the number
of further runs until the line crosses it is ``(threshold − fitted value at
the latest run) / slope``, rounded up; a warning is raised when that is at
most `HORIZON` runs. Noise that makes the slope tiny projects a crossing far
away and raises nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from chaosgate.results import RunResult
from chaosgate.scenario.quantities import QuantityError, Threshold, parse_threshold

MIN_POINTS = 3
HORIZON = 10


@dataclass(frozen=True)
class EarlyWarning:
    scenario: str
    gate: str
    threshold: str
    values: tuple[float, ...]
    projected: float
    """Value the line reaches at the latest run."""
    runs_left: int
    """Further runs until the line crosses the threshold."""

    def text(self) -> str:
        spoken = _spoken(self.threshold, self.values[-1])
        return (
            f"{self.scenario}: `{self.gate}` measured {spoken} and trending toward {self.threshold} "
            f"over the last {len(self.values)} runs; projected to fail in {self.runs_left} run(s)"
        )


def _spoken(threshold: str, value: float) -> str:
    """A value in its threshold's unit (`212ms`), as the results show it."""
    try:
        return parse_threshold(threshold).format_value(value)
    except QuantityError:
        return f"{value:g}"


def _fit(values: Sequence[float]) -> tuple[float, float]:
    """Slope and intercept of the least-squares line through (i, values[i])."""
    n = len(values)
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    sxx = sum((i - mean_x) ** 2 for i in range(n))
    slope = sum((i - mean_x) * (v - mean_y) for i, v in enumerate(values)) / sxx
    return slope, mean_y - slope * mean_x


def _runs_left(threshold: Threshold, values: Sequence[float]) -> tuple[float, int] | None:
    slope, intercept = _fit(values)
    latest = intercept + slope * (len(values) - 1)
    if threshold.op in ("<", "<="):
        heading = slope > 0
    elif threshold.op in (">", ">="):
        heading = slope < 0
    else:
        return None
    if not heading or not threshold.passes(latest):
        return None
    return latest, max(1, math.ceil((threshold.value - latest) / slope))


def early_warnings(runs: Sequence[RunResult], horizon: int = HORIZON) -> list[EarlyWarning]:
    """Warnings for the latest run (the last of `runs`) from the trend of its gates."""
    if len(runs) < MIN_POINTS:
        return []
    latest = runs[-1]
    warnings = []
    for scenario in latest.scenarios:
        for gate in scenario.expectations:
            if gate.kind != "sla" or not gate.applicable or not gate.passed or not gate.threshold:
                continue
            values = []
            for run in runs:
                match = next((s for s in run.scenarios if s.id == scenario.id), None)
                found = next((e for e in match.expectations if e.id == gate.id), None) if match else None
                if found is not None and found.applicable and found.measured_value is not None:
                    values.append(found.measured_value)
            if len(values) < MIN_POINTS:
                continue
            try:
                threshold = parse_threshold(gate.threshold)
            except QuantityError:
                continue
            projection = _runs_left(threshold, values)
            if projection is not None and projection[1] <= horizon:
                warnings.append(
                    EarlyWarning(
                        scenario.id, gate.name, gate.threshold, tuple(values), projection[0], projection[1]
                    )
                )
    return sorted(warnings, key=lambda w: w.runs_left)
