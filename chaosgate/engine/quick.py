"""How short `--quick` may make each window of a scenario and still judge it (R2.6).

Scaling every duration by one factor breaks scenarios in a way that has
nothing to do with the system under test: a `recover < 5s` cannot pass in an
after-window of 1.6 s, and a `detect < 2s` needs a fault that lasts longer
than 2 s to be told from a fault that was never seen. So each window is
scaled, then raised to what the expectations and SLA gates judged over it
need: the largest time threshold they name, the grace they skip, plus a
margin for the target to settle. A healthy system then gets the same verdict
with and without `--quick`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from chaosgate.engine.streams import MAX_BACKOFF
from chaosgate.evaluation.sla import Profile
from chaosgate.scenario.model import Expectation, MetricExpectation, Scenario
from chaosgate.scenario.quantities import Threshold

QUICK_FACTOR = 0.2
MARGIN = 1.0
"""Seconds on top of a threshold: samples are taken every 100 ms and a verdict needs a few."""
MIN_BEFORE = 2.0
"""Steady-state gates (p95, error rate) need some samples before the first fault."""
MIN_WINDOW = 1.0

WINDOW_METRICS = {"during": ("detect",), "after": ("recover",)}
"""Time metrics measured from a window's start, so the window must be at least that long."""


@dataclass(frozen=True)
class WindowNeeds:
    """The shortest before, during (each fault) and after windows that still judge the scenario."""

    before: float
    during: float
    after: float


def _threshold_need(thresholds: Iterable[Threshold], window: str) -> float:
    names = WINDOW_METRICS.get(window, ())
    return max((t.value for t in thresholds if t.metric in names), default=0.0)


def _need(window: str, expectations: list[Expectation], gates: list[Threshold]) -> float:
    metrics = [e.metric for e in expectations if isinstance(e, MetricExpectation)]
    grace = max((e.grace for e in expectations), default=0.0)
    longest = max(_threshold_need([*metrics, *gates], window), grace)
    return longest + MARGIN if longest else MIN_WINDOW


def window_needs(scenario: Scenario, profile: Profile) -> WindowNeeds:
    """What `scenario`'s own expectations and the profile gates it does not waive need of each window."""
    waived = set(scenario.waived_gates)

    def gates(window: str) -> list[Threshold]:
        return [g.metric for g in profile.gates if g.window == window and g.name not in waived]

    after = _need("after", scenario.expect.after, gates("after"))
    if scenario.streams:  # a subscriber cut by the fault retries with backoff up to MAX_BACKOFF
        after = max(after, MAX_BACKOFF + MARGIN)
    before = max(_need("before", scenario.expect.before, gates("before")), MIN_BEFORE)
    return WindowNeeds(
        before=before,
        during=_need("during", scenario.expect.during, gates("during")),
        after=after,
    )


def shorten(value: float, need: float, scale: float = QUICK_FACTOR) -> float:
    """`value` scaled down, never below `need` and never above what it was."""
    return min(value, max(value * scale, need))
