"""The readable quantity syntax of scenarios: durations and thresholds (R1.4).

A threshold reads as a sentence, ``p95 < 150ms`` or ``error_rate < 0.1%``,
so that a manager can read the scenario and the report in the same words.
Values are kept in canonical units (seconds, fractions, counts) and printed
back in the unit the author chose.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

DURATION_PATTERN = r"^\s*\d+(\.\d+)?\s*(ms|s|m|h)\s*$"
_DURATION_RE = re.compile(DURATION_PATTERN)
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


class QuantityError(ValueError):
    """A duration or threshold that does not parse; the message says what would."""


def parse_duration(value: object) -> float:
    """Seconds from ``"150ms"``, ``"5s"``, ``"2m"`` or a plain number of seconds."""
    if isinstance(value, bool):
        raise QuantityError("expected a duration such as `5s` or `150ms`, not a boolean")
    if isinstance(value, int | float):
        if value < 0:
            raise QuantityError("a duration cannot be negative")
        return float(value)
    if isinstance(value, str):
        match = _DURATION_RE.match(value)
        if match:
            number = float(value.strip().rstrip("mshMSH").strip())
            return number * _UNIT_SECONDS[match.group(2)]
    raise QuantityError(f"expected a duration such as `5s`, `150ms` or `2m`, got {value!r}")


def format_duration(seconds: float) -> str:
    """The shortest readable form: ``150ms``, ``5s``, ``2.5s``."""
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    return f"{seconds:g}s"


class MetricKind(Enum):
    """What a metric measures decides which units its threshold may carry."""

    TIME = "time"
    RATIO = "ratio"
    RATE = "rate"
    COUNT = "count"


METRICS: dict[str, MetricKind] = {
    "p50": MetricKind.TIME,
    "p75": MetricKind.TIME,
    "p90": MetricKind.TIME,
    "p95": MetricKind.TIME,
    "p99": MetricKind.TIME,
    "max": MetricKind.TIME,
    "mean": MetricKind.TIME,
    "detect": MetricKind.TIME,
    "recover": MetricKind.TIME,
    "reconnect": MetricKind.TIME,
    "error_rate": MetricKind.RATIO,
    "availability": MetricKind.RATIO,
    "replay_accuracy": MetricKind.RATIO,
    "rps": MetricKind.RATE,
    "lost": MetricKind.COUNT,
    "duplicated": MetricKind.COUNT,
    "reordered": MetricKind.COUNT,
    "unexpected": MetricKind.COUNT,
    "missing_types": MetricKind.COUNT,
    "samples": MetricKind.COUNT,
}
"""Every metric a threshold can name, and what it measures."""

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
}

THRESHOLD_PATTERN = (
    r"^\s*(?P<metric>[a-z][a-z0-9_]*)\s*(?P<op><=|>=|==|<|>)\s*"
    r"(?P<number>\d+(\.\d+)?)\s*(?P<unit>ms|s|m|%|/s)?\s*$"
)
_THRESHOLD_RE = re.compile(THRESHOLD_PATTERN)


@dataclass(frozen=True)
class Threshold:
    """``metric op value``; `value` is canonical (seconds, fraction, per second, count)."""

    metric: str
    op: str
    value: float
    unit: str
    text: str

    @property
    def kind(self) -> MetricKind:
        return METRICS[self.metric]

    def passes(self, measured: float) -> bool:
        if self.op == "==" and self.kind in (MetricKind.RATIO, MetricKind.TIME):
            return abs(measured - self.value) < 1e-9
        return _OPERATORS[self.op](measured, self.value)

    def format_value(self, value: float) -> str:
        """A measured value in the unit of this threshold, for reports."""
        if self.unit in _UNIT_SECONDS:
            return f"{value / _UNIT_SECONDS[self.unit]:.4g}{self.unit}"
        if self.unit == "%":
            return f"{value * 100:.4g}%"
        if self.unit == "/s":
            return f"{value:.4g}/s"
        return f"{value:.4g}"

    def __str__(self) -> str:
        return self.text


def parse_threshold(value: object) -> Threshold:
    """A :class:`Threshold` from ``"p95 < 150ms"``; errors say what would parse."""
    if isinstance(value, Threshold):
        return value
    if not isinstance(value, str):
        raise QuantityError(f"expected a threshold such as `p95 < 150ms`, got {value!r}")
    match = _THRESHOLD_RE.match(value)
    if not match:
        raise QuantityError(
            f"expected a threshold such as `p95 < 150ms` or `error_rate < 0.1%`, got {value!r}"
        )
    metric, op, unit = match["metric"], match["op"], match["unit"] or ""
    number = float(match["number"])
    kind = METRICS.get(metric)
    if kind is None:
        from chaosgate.suggest import closest  # noqa: PLC0415 - only on the error path

        hint = closest(metric, METRICS)
        extra = f"; did you mean `{hint}`?" if hint else ""
        raise QuantityError(f"unknown metric `{metric}` (known: {', '.join(METRICS)}){extra}")
    canonical = _canonical(metric, kind, number, unit)
    return Threshold(metric=metric, op=op, value=canonical, unit=unit, text=" ".join(value.split()))


def _canonical(metric: str, kind: MetricKind, number: float, unit: str) -> float:
    if kind is MetricKind.TIME:
        if unit not in _UNIT_SECONDS:
            raise QuantityError(f"`{metric}` is a time: give a unit, e.g. `{metric} < {number:g}ms`")
        return number * _UNIT_SECONDS[unit]
    if kind is MetricKind.RATIO:
        if unit == "%":
            if number > 100:
                raise QuantityError(f"`{metric}` is a percentage and cannot exceed 100%")
            return number / 100
        if unit:
            raise QuantityError(f"`{metric}` is a ratio: write it as a percentage, e.g. `{metric} < 0.1%`")
        if number > 1:
            raise QuantityError(f"`{metric}` without `%` is a fraction between 0 and 1")
        return number
    if kind is MetricKind.RATE:
        if unit not in ("", "/s"):
            raise QuantityError(f"`{metric}` is requests per second: write e.g. `{metric} >= 100`")
        return number
    if unit:
        raise QuantityError(f"`{metric}` is a count and takes no unit, e.g. `{metric} == 0`")
    return number
