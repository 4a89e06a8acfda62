"""Metrics over a set of samples: latency percentiles, errors, availability, throughput,
and the time to detect and to recover from each fault.

Definitions (also in docs/scenario-format.md):

* an **error** is a transport failure or a 5xx that no expectation asked for;
* **availability** is the share of samples that met their own check;
* a sample **deviates** from steady state when its status was never seen in
  the `before` window of its source, when it is slower than max(2 ×
  before-p99, before-p99 + 50 ms), or when its check outcome differs from the
  usual one of its source — a probe that usually passes fails, or the probe
  of a `during` expectation (which usually fails outside faults) starts
  matching: the system visibly switched to its degraded behaviour;
* **detect** is from a fault's injection to the first deviating sample;
* **recover** is from a fault's revert to the first steady sample that is
  followed by two more steady samples of the same source (or ends the run).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from chaosgate.evaluation.timeline import FaultSpan, Span, total_length, within

PERCENTILES = {"p50": 0.50, "p75": 0.75, "p90": 0.90, "p95": 0.95, "p99": 0.99}
STEADY_RUN = 3


def window_metric(metric: str, rows: pd.DataFrame, spans: list[Span]) -> float | None:
    """A plain metric over `rows` (already restricted to `spans`); None when nothing to measure."""
    if rows.empty:
        return None
    if metric in PERCENTILES:
        return float(rows["latency"].quantile(PERCENTILES[metric], interpolation="higher"))
    if metric == "max":
        return float(rows["latency"].max())
    if metric == "mean":
        return float(rows["latency"].mean())
    if metric == "error_rate":
        return float(rows["is_error"].mean())
    if metric == "availability":
        return float(rows["ok"].mean())
    if metric == "samples":
        return float(len(rows))
    if metric == "rps":
        length = total_length(spans)
        return float(len(rows) / length) if length > 0 else None
    raise ValueError(f"{metric} is not a window metric")


@dataclass(frozen=True)
class Baseline:
    """What steady state looked like in the `before` window, per source."""

    statuses: frozenset[int]
    slow_above: float | None
    usually_ok: bool

    @classmethod
    def of(cls, rows: pd.DataFrame) -> Baseline:
        answered = rows[rows["status"] > 0]
        if answered.empty:
            return cls(frozenset(range(200, 400)), None, True)
        p99 = float(answered["latency"].quantile(0.99, interpolation="higher"))
        statuses = frozenset(int(s) for s in answered["status"].unique())
        return cls(statuses, max(2 * p99, p99 + 0.05), bool(rows["ok"].mean() >= 0.5))

    def deviates(self, row: pd.Series) -> bool:
        if bool(row["ok"]) != self.usually_ok or int(row["status"]) not in self.statuses:
            return True
        return self.slow_above is not None and float(row["latency"]) > self.slow_above


def _per_source(frame: pd.DataFrame, before: list[Span]) -> dict[str, Baseline]:
    return {str(source): Baseline.of(within(rows, before)) for source, rows in frame.groupby("source")}


def detect_time(frame: pd.DataFrame, fault: FaultSpan, before: list[Span]) -> float | None:
    """Seconds from injection to the first deviating sample in the fault window."""
    baselines = _per_source(frame, before)
    rows = within(frame, [(fault.start, fault.end)])
    for _, row in rows.iterrows():
        if baselines[str(row["source"])].deviates(row):
            return max(float(row["t"]) - fault.start, 0.0)
    return None


def recover_time(frame: pd.DataFrame, fault: FaultSpan, before: list[Span], end: float) -> float | None:
    """Seconds from the revert to the first steady sample that stays steady."""
    baselines = _per_source(frame, before)
    best: float | None = None
    for source, rows in within(frame, [(fault.gone, end)]).groupby("source"):
        flags = [not baselines[str(source)].deviates(row) for _, row in rows.iterrows()]
        times = rows["t"].tolist()
        for index, steady in enumerate(flags):
            if steady and all(flags[index : index + STEADY_RUN]):
                found = max(float(times[index]) - fault.gone, 0.0)
                break
        else:
            return None  # this source never settled: the system did not recover
        best = found if best is None else max(best, found)
    return best


def series(frame: pd.DataFrame, bucket: float = 1.0) -> list[dict[str, float | int | None]]:
    """Per-bucket request count, errors and latency percentiles for the charts."""
    if frame.empty:
        return []
    keyed = frame.assign(bucket=(frame["t"] // bucket) * bucket)
    out: list[dict[str, float | int | None]] = []
    for start, rows in keyed.groupby("bucket"):
        latency = rows["latency"]
        out.append(
            {
                "t": float(start),
                "requests": len(rows),
                "errors": int(rows["is_error"].sum()),
                "p50": _finite(latency.quantile(0.50)),
                "p95": _finite(latency.quantile(0.95)),
                "p99": _finite(latency.quantile(0.99)),
            }
        )
    return out


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else float(value)
