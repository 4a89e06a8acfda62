"""Samples as a table, and the time windows of a run (R7.3: aggregation with pandas).

Windows come from what actually happened — the moments injects and reverts
returned — not from the plan, so a slow `docker stop` shifts its window
instead of blurring it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from chaosgate.engine.samples import Sample

Span = tuple[float, float]
COLUMNS = ["source", "request", "t", "latency", "status", "ok", "expected", "is_error"]


def sample_frame(samples: Sequence[Sample]) -> pd.DataFrame:
    """One row per sample, sorted by time."""
    rows = [(s.source, s.request, s.t, s.latency, s.status, s.ok, s.expected, s.is_error) for s in samples]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.sort_values("t", kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class FaultSpan:
    """Where one fault was in effect on the scenario clock."""

    name: str
    start: float
    end: float
    revert_started: float | None = None
    """When the revert call began. A request started between this and `end` may see the fault or
    not: it belongs to neither the fault's window nor the recovery after it."""

    @property
    def certain_end(self) -> float:
        return self.end if self.revert_started is None else min(self.revert_started, self.end)


@dataclass(frozen=True)
class Windows:
    """The windows expectations are scoped to."""

    end: float
    faults: tuple[FaultSpan, ...]

    @property
    def first_fault(self) -> float:
        return min((f.start for f in self.faults), default=self.end)

    @property
    def last_revert(self) -> float:
        return max((f.end for f in self.faults), default=0.0)

    def spans(self, window: str, *, grace: float = 0.0, fault: str | None = None) -> list[Span]:
        """The spans of a named window, with `grace` cut from the start of each span."""
        if window == "before":
            spans = [(0.0, self.first_fault)]
        elif window == "during":
            spans = [(f.start, f.certain_end) for f in self.faults if fault is None or f.name == fault]
        elif window == "after":
            spans = [(self.last_revert, self.end)] if self.faults else []
        elif window == "run":
            spans = [(0.0, self.end)]
        else:
            raise ValueError(f"unknown window {window!r}")
        return [(start + grace, end) for start, end in spans if end > start + grace]

    def as_dict(self) -> dict[str, list[Span]]:
        return {name: self.spans(name) for name in ("before", "during", "after")}


def within(frame: pd.DataFrame, spans: Sequence[Span]) -> pd.DataFrame:
    """The rows whose start time falls in any of `spans` (half-open: [start, end))."""
    if not spans or frame.empty:
        return frame.iloc[0:0]
    mask = pd.Series(False, index=frame.index)
    for start, end in spans:
        mask |= (frame["t"] >= start) & (frame["t"] < end)
    return frame[mask]


def answered_within(frame: pd.DataFrame, spans: Sequence[Span]) -> pd.DataFrame:
    """The rows that started and were answered inside one of `spans`: a request still in flight when
    a fault began or its revert began may have been served either way, so it proves nothing."""
    if not spans or frame.empty:
        return frame.iloc[0:0]
    mask = pd.Series(False, index=frame.index)
    for start, end in spans:
        mask |= (frame["t"] >= start) & (frame["t"] + frame["latency"] < end)
    return frame[mask]


def total_length(spans: Sequence[Span]) -> float:
    return sum(end - start for start, end in spans)
