"""What report.html shows, in the order a manager reads it, rendered with jinja2 (autoescape on).

Every string that came from the target or the scenario reaches the page
through the template's escaping; the only markup marked safe is the page's
own stylesheet and plotly.js. Credentials are removed before anything is
handed to the template, with the same redaction the engine applies when it
captures a sample (:mod:`chaosgate.engine.samples`), bodies included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup

from chaosgate.coverage import Footprint, Matrix, build_matrix
from chaosgate.engine.samples import redact_headers, redact_text
from chaosgate.results import ExpectationResult, FailingSample, RunResult, ScenarioResult
from chaosgate.scenario.quantities import QuantityError, parse_threshold
from chaosgate.trends import EarlyWarning, early_warnings
from reports.html import charts

TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class GateRow:
    """One SLA gate over the whole run: its target, the worst value measured, how many scenarios passed."""

    name: str
    target: str
    measured: str
    worst_in: str
    passed: int
    applicable: int

    @property
    def ok(self) -> bool:
        return self.passed == self.applicable


@dataclass
class Inputs:
    """Everything the page is made from; all of it read from the run folder, none from a system."""

    run: RunResult
    buckets: pd.DataFrame
    footprints: Sequence[Footprint] = ()
    openapi: Mapping[str, Any] | None = None
    history: Sequence[RunResult] = field(default_factory=list)


def _worse(a: ExpectationResult, b: ExpectationResult) -> bool:
    """Whether `a` measured worse than `b` against their shared threshold."""
    if a.measured_value is None or b.measured_value is None:
        return b.measured_value is None
    try:
        op = parse_threshold(a.threshold or "").op
    except QuantityError:
        return False
    return a.measured_value > b.measured_value if op in ("<", "<=") else a.measured_value < b.measured_value


def scorecard(run: RunResult) -> list[GateRow]:
    worst: dict[str, tuple[ExpectationResult, str]] = {}
    counts: dict[str, list[int]] = {}
    for scenario in run.scenarios:
        for e in scenario.expectations:
            if e.kind != "sla" or not e.applicable:
                continue
            tally = counts.setdefault(e.name, [0, 0])
            tally[0] += int(e.passed)
            tally[1] += 1
            current = worst.get(e.name)
            if (
                current is None
                or (not e.passed and current[0].passed)
                or (e.passed == current[0].passed and _worse(e, current[0]))
            ):
                worst[e.name] = (e, scenario.id)
    return [
        GateRow(name, e.threshold or "-", e.measured or "not measured", where, *counts[name])
        for name, (e, where) in worst.items()
    ]


def _failing(sample: FailingSample) -> dict[str, Any]:
    return {
        "source": sample.source,
        "request": redact_text(sample.request),
        "t": sample.t,
        "status": sample.status,
        "latency_ms": sample.latency * 1000,
        "reason": redact_text(sample.reason),
        "curl": redact_text(sample.curl) if sample.curl else None,
        "headers": redact_headers(sample.response_headers),
        "body": redact_text(sample.response_body) if sample.response_body else None,
    }


def _expectation(e: ExpectationResult) -> dict[str, Any]:
    return {
        "id": e.id,
        "name": redact_text(e.name),
        "window": e.window,
        "measured": redact_text(e.measured) if e.measured else None,
        "threshold": e.threshold,
        "passed": e.passed,
        "applicable": e.applicable,
        "critical": e.critical,
        "reason": redact_text(e.reason),
    }


STREAM_UNITS = {"replay_accuracy": ("%", 100.0), "reconnect": (" s", 1.0)}
STREAM_FAULTS = ("lost", "duplicated", "reordered")


def _streams(streams: Mapping[str, Mapping[str, float | None]]) -> list[dict[str, Any]]:
    """Each stream's counts in their units, and whether it came through intact."""
    rows = []
    for name, metrics in streams.items():
        cells = {}
        for key, value in metrics.items():
            unit, scale = STREAM_UNITS.get(key, ("", 1.0))
            cells[key] = "—" if value is None else f"{value * scale:.4g}{unit}"
        intact = all(not metrics.get(key) for key in STREAM_FAULTS)
        rows.append({"name": name, "cells": cells, "intact": intact})
    return rows


def _scenario(index: int, scenario: ScenarioResult, buckets: pd.DataFrame) -> dict[str, Any]:
    mine = buckets[buckets["scenario"] == scenario.id] if not buckets.empty else buckets
    return {
        "anchor": f"scenario-{index}",
        "chart": f"chart-{index}",
        "result": scenario,
        "reason": redact_text(scenario.reason),
        "figure": charts.timeline(scenario, mine),
        "expectations": [_expectation(e) for e in scenario.expectations],
        "failing": [_failing(s) for s in scenario.failing_samples],
        "streams": _streams(scenario.streams),
        "failed": sum(1 for e in scenario.expectations if e.applicable and not e.passed),
    }


def _worst_steady_p95(run: RunResult) -> float | None:
    values = [s.latency.get("steady", {}).get("p95") for s in run.scenarios]
    present = [v for v in values if v is not None]
    return max(present) if present else None


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(inputs: Inputs) -> str:
    run = inputs.run
    history = list(inputs.history) or [run]
    warnings: list[EarlyWarning] = early_warnings(history)
    scenarios = [_scenario(i, s, inputs.buckets) for i, s in enumerate(run.scenarios)]
    figures = {s["chart"]: s["figure"] for s in scenarios if s["figure"] is not None}
    if len(history) > 1:
        figures["chart-trend"] = charts.trend(history, [_worst_steady_p95(r) for r in history])
    matrix: Matrix = build_matrix(inputs.footprints, inputs.openapi, run)
    template = _environment().get_template("report.html.j2")
    return template.render(
        run=run,
        reasons=[redact_text(r) for r in run.verdict.reasons],
        warnings=warnings,
        gates=scorecard(run),
        matrix=matrix,
        scenarios=scenarios,
        history=history,
        figures=figures,
        style=Markup((TEMPLATES / "report.css").read_text(encoding="utf-8")),  # noqa: S704 - our own file
        plotly_js=Markup(charts.plotly_js()) if figures else "",  # noqa: S704 - the plotly wheel's code
    )
