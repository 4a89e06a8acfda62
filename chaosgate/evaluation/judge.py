"""Judge a scenario's expectations and its SLA gates over the windows of its run.

Each expectation becomes an :class:`~chaosgate.results.ExpectationResult`
that says what was measured, against which threshold, and why it failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from chaosgate.evaluation.metrics import detect_time, recover_time, window_metric
from chaosgate.evaluation.sla import Gate, Profile
from chaosgate.evaluation.timeline import Span, Windows, answered_within, within
from chaosgate.results import ExpectationResult
from chaosgate.scenario.model import (
    CheckExpectation,
    Expectation,
    MetricExpectation,
    RequestExpectation,
    Scenario,
)
from chaosgate.scenario.quantities import Threshold

TIME_TO = {"detect", "recover"}
EXPECTATION_PROBE = "expect."
STREAM_METRICS = {"reconnect", "replay_accuracy", "lost", "duplicated", "reordered", "unexpected"}


@dataclass
class Evidence:
    """Everything measured in one scenario run that expectations are judged on."""

    frame: pd.DataFrame
    windows: Windows
    detect: dict[str, float | None]
    recover: dict[str, float | None]
    checks: Mapping[str, tuple[bool, str, str]] = field(default_factory=dict)
    streams: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    @classmethod
    def collect(cls, frame: pd.DataFrame, windows: Windows) -> Evidence:
        before = windows.spans("before")
        detect = {f.name: detect_time(frame, f, before) for f in windows.faults}
        recover = {f.name: recover_time(frame, f, before, windows.end) for f in windows.faults}
        return cls(frame, windows, detect, recover)

    def steady_spans(self) -> list[Span]:
        """Before the first fault, and after the last one once the system has recovered."""
        if not self.windows.faults:
            return self.windows.spans("run")
        recovered = [v for v in self.recover.values() if v is not None]
        settle = max(recovered) if len(recovered) == len(self.recover) else self.windows.end
        return self.windows.spans("before") + self.windows.spans("after", grace=settle)

    def spans(self, window: str, grace: float = 0.0, fault: str | None = None) -> list[Span]:
        if window == "steady":
            return self.steady_spans()
        return self.windows.spans(window, grace=grace, fault=fault)

    def scoped(self, of: str | None) -> pd.DataFrame:
        """The samples a metric is computed on. By default every probe and the load, but not
        the probes made for request expectations: their outcome is judged by those."""
        if of is None:
            return self.frame[~self.frame["source"].str.startswith(EXPECTATION_PROBE)]
        if of == "probes":
            own = ~self.frame["source"].str.startswith(EXPECTATION_PROBE)
            return self.frame[(self.frame["source"] != "load") & own]
        return self.frame[self.frame["source"] == of]


def _result(  # noqa: PLR0917 - a flat record; every call names its fields in order
    ident: str,
    kind: str,
    window: str,
    name: str,
    weight: float,
    critical: bool,
    threshold: Threshold | None,
    value: float | None,
    reason: str,
    samples: int,
    *,
    applicable: bool = True,
) -> ExpectationResult:
    passed = applicable and value is not None and threshold is not None and threshold.passes(value)
    measured = threshold.format_value(value) if threshold is not None and value is not None else None
    if value is not None and threshold is not None and not passed and not reason:
        reason = f"measured {measured}, needed {threshold}"
    return ExpectationResult(
        id=ident,
        kind=kind,
        window=window,
        name=name,
        weight=weight,
        critical=critical,
        passed=passed or not applicable,
        applicable=applicable,
        measured=measured,
        measured_value=value,
        threshold=str(threshold) if threshold else None,
        reason=reason,
        samples=samples,
    )


def _time_to(evidence: Evidence, metric: str, fault: str | None) -> tuple[float | None, str]:
    table = evidence.detect if metric == "detect" else evidence.recover
    chosen = {k: v for k, v in table.items() if fault is None or k == fault}
    if not chosen:
        return None, "no fault in scope"
    missing = [k for k, v in chosen.items() if v is None]
    if missing:
        what = "no deviation seen during" if metric == "detect" else "did not return to steady state after"
        return None, f"{what} {', '.join(missing)}"
    return max(v for v in chosen.values() if v is not None), ""


def judge_metric(
    evidence: Evidence,
    ident: str,
    window: str,
    threshold: Threshold,
    *,
    name: str,
    weight: float,
    critical: bool,
    of: str | None,
    grace: float = 0.0,
    fault: str | None = None,
    kind: str = "metric",
) -> ExpectationResult:
    metric = threshold.metric
    if metric in TIME_TO:
        value, reason = _time_to(evidence, metric, fault)
        return _result(ident, kind, window, name, weight, critical, threshold, value, reason, 0)
    if metric in STREAM_METRICS:
        stream = evidence.streams.get(of or "")
        value = stream.get(metric) if stream is not None else None
        if stream is None:
            reason = f"no WebSocket stream `{of}` was measured"
        else:
            reason = "" if value is not None else f"{metric} not measured on `{of}` (it never reconnected)"
        return _result(ident, kind, window, name, weight, critical, threshold, value, reason, 0)
    spans = evidence.spans(window, grace, fault)
    rows = within(evidence.scoped(of), spans)
    value = window_metric(metric, rows, spans)
    reason = "" if value is not None else f"no samples in the {window} window"
    return _result(ident, kind, window, name, weight, critical, threshold, value, reason, len(rows))


def judge_request(
    evidence: Evidence, ident: str, window: str, exp: RequestExpectation, source: str
) -> ExpectationResult:
    spans = evidence.spans(window, exp.grace, exp.fault)
    # `before` and `during` end where a fault changes state; `after` ends with the run.
    select = answered_within if window in ("before", "during") else within
    rows = select(evidence.scoped(source), spans)
    name = exp.name or f"{exp.request.method} {exp.request.path}"
    if rows.empty:
        return ExpectationResult(
            id=ident,
            kind="request",
            window=window,
            name=name,
            weight=exp.weight,
            critical=exp.critical,
            passed=False,
            reason=f"no samples of the request in the {window} window",
        )
    matched = int(rows["ok"].sum())
    passed = matched == len(rows)
    return ExpectationResult(
        id=ident,
        kind="request",
        window=window,
        name=name,
        weight=exp.weight,
        critical=exp.critical,
        passed=passed,
        measured=f"{matched}/{len(rows)} samples matched",
        measured_value=matched / len(rows),
        threshold="every sample matches",
        samples=len(rows),
        reason="" if passed else f"{len(rows) - matched} of {len(rows)} samples did not match",
    )


def judge_expectation(evidence: Evidence, window: str, index: int, exp: Expectation) -> ExpectationResult:
    ident = f"{window}[{index}]"
    if isinstance(exp, RequestExpectation):
        return judge_request(evidence, ident, window, exp, f"expect.{window}[{index}]")
    if isinstance(exp, MetricExpectation):
        return judge_metric(
            evidence,
            ident,
            window,
            exp.metric,
            name=exp.name or str(exp.metric),
            weight=exp.weight,
            critical=exp.critical,
            of=exp.of,
            grace=exp.grace,
            fault=exp.fault,
        )
    assert isinstance(exp, CheckExpectation)
    passed, measured, reason = evidence.checks.get(ident, (False, "", "the check did not run"))
    return ExpectationResult(
        id=ident,
        kind="check",
        window=window,
        name=exp.name or exp.check,
        weight=exp.weight,
        critical=exp.critical,
        passed=passed,
        measured=measured or None,
        reason=reason,
    )


def judge_gate(evidence: Evidence, gate: Gate, scenario: Scenario) -> ExpectationResult:
    metric = gate.metric.metric
    ident = f"sla:{gate.name}"
    applicable = True
    if gate.window in ("during", "after") and not evidence.windows.faults:
        applicable = False
    if gate.of == "load" and scenario.load is None:
        applicable = False
    if metric in STREAM_METRICS and not scenario.streams:
        applicable = False
    if not applicable:
        return _result(
            ident,
            "sla",
            gate.window,
            gate.name,
            1.0,
            False,
            gate.metric,
            None,
            "not applicable",
            0,
            applicable=False,
        )
    if metric in TIME_TO and all(v is None for v in evidence.detect.values()):
        # A fault that changed nothing visible leaves nothing to detect or recover from.
        return _result(
            ident,
            "sla",
            gate.window,
            gate.name,
            1.0,
            False,
            gate.metric,
            None,
            "no deviation to measure",
            0,
            applicable=False,
        )
    if metric in STREAM_METRICS:
        results = [
            judge_metric(
                evidence,
                ident,
                gate.window,
                gate.metric,
                name=gate.name,
                weight=1.0,
                critical=False,
                of=s.name,
                kind="sla",
            )
            for s in scenario.streams
        ]
        return min(results, key=lambda r: r.passed)
    return judge_metric(
        evidence,
        ident,
        gate.window,
        gate.metric,
        name=gate.name,
        weight=1.0,
        critical=False,
        of=None if gate.of in (None, "all") else gate.of,
        kind="sla",
    )


def judge_all(evidence: Evidence, scenario: Scenario, profile: Profile) -> list[ExpectationResult]:
    results = [
        judge_expectation(evidence, window, index, exp)
        for window in ("before", "during", "after")
        for index, exp in enumerate(getattr(scenario.expect, window))
    ]
    waived = set(scenario.waived_gates)
    results += [
        _waived(gate) if gate.name in waived else judge_gate(evidence, gate, scenario)
        for gate in profile.gates
    ]
    return results


def _waived(gate: Gate) -> ExpectationResult:
    """A gate the scenario waives (`sla.waive`): shown, never judged, never counted."""
    return ExpectationResult(
        id=f"sla:{gate.name}",
        kind="sla",
        window=gate.window,
        name=gate.name,
        weight=1.0,
        critical=False,
        passed=True,
        applicable=False,
        waived=True,
        threshold=str(gate.metric),
        reason="waived by the scenario (sla.waive)",
    )
