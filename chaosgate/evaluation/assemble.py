"""Turn what a scenario run observed into its :class:`~chaosgate.results.ScenarioResult`."""

from __future__ import annotations

from chaosgate.engine.faults import FaultRecord
from chaosgate.engine.plan import Plan
from chaosgate.engine.runner import Observation
from chaosgate.evaluation.judge import Evidence, judge_all
from chaosgate.evaluation.metrics import series
from chaosgate.evaluation.scoring import grade, scenario_score
from chaosgate.evaluation.sla import Profile
from chaosgate.evaluation.timeline import FaultSpan, Windows, sample_frame
from chaosgate.results import ExpectationResult, FailingSample, FaultTimeline, ScenarioResult, SeriesPoint
from chaosgate.scenario.model import RequestExpectation, Scenario

MAX_FAILING_SAMPLES = 20


def _spans(records: list[FaultRecord], end: float) -> tuple[FaultSpan, ...]:
    """Each injected fault from the moment its inject call began (requests from then on may
    already see it) to the moment its revert returned (until then they may still see it); the
    `during` window ends when the revert began (requests from then on may see it gone)."""
    spans = []
    for r in records:
        if r.injected_at is None:
            continue
        start = r.inject_started if r.inject_started is not None else r.injected_at
        spans.append(
            FaultSpan(
                r.planned.name,
                start,
                r.reverted_at if r.reverted_at is not None else end,
                revert_started=r.revert_started,
            )
        )
    return tuple(spans)


def _timeline(records: list[FaultRecord], evidence: Evidence | None) -> list[FaultTimeline]:
    return [
        FaultTimeline(
            name=r.planned.name,
            injector=r.planned.injector,
            description=r.planned.description,
            planned_at=r.planned.at,
            inject_started=r.inject_started,
            planned_for=r.planned.duration,
            injected_at=r.injected_at,
            reverted_at=r.reverted_at,
            error=r.error,
            revert_error=r.revert_error,
            detect=evidence.detect.get(r.planned.name) if evidence else None,
            recover=evidence.recover.get(r.planned.name) if evidence else None,
        )
        for r in records
    ]


def _failing(observation: Observation, windows: Windows, scenario: Scenario) -> list[FailingSample]:
    """Samples that show why something failed: a probe missing its own check, or a request
    expectation's sample that did not match inside the window it is judged in. (Outside its
    window, an expectation's probe is expected not to match: a degraded answer before the fault.)"""
    judged: dict[str, list[tuple[float, float]]] = {}
    for window in ("before", "during", "after"):
        for index, exp in enumerate(getattr(scenario.expect, window)):
            if isinstance(exp, RequestExpectation):
                judged[f"expect.{window}[{index}]"] = windows.spans(window, grace=exp.grace, fault=exp.fault)
    out = []
    for sample in observation.samples:
        if sample.ok or sample.source == "load":
            continue
        spans = judged.get(sample.source)
        if spans is not None and not any(start <= sample.t < end for start, end in spans):
            continue
        exchange = sample.exchange
        out.append(
            FailingSample(
                source=sample.source,
                request=sample.request,
                t=round(sample.t, 3),
                status=sample.status,
                latency=round(sample.latency, 4),
                reason=sample.detail or sample.error or "failed",
                curl=exchange.curl() if exchange else None,
                response_headers=exchange.response_headers if exchange else {},
                response_body=exchange.response_body if exchange else None,
            )
        )
        if len(out) >= MAX_FAILING_SAMPLES:
            break
    return out


def _steady_after(plan: Plan, observation: Observation) -> list[ExpectationResult]:
    if not plan.scenario.steady_state:
        return []
    failures = observation.steady_after
    return [
        ExpectationResult(
            id="steady_state.after",
            kind="steady_state",
            window="after",
            name="steady state holds after recovery",
            weight=1.0,
            critical=True,
            passed=not failures,
            reason="; ".join(failures),
        )
    ]


def assemble(plan: Plan, observation: Observation, profile: Profile) -> ScenarioResult:
    scenario = plan.scenario
    base = {
        "id": scenario.id,
        "title": scenario.title,
        "category": str(scenario.category),
        "weight": scenario.weight,
        "file": str(plan.source),
        "duration": round(observation.duration, 3),
    }
    if observation.skipped:
        return ScenarioResult(**base, status="skipped", score=0.0, grade="-", reason=observation.skipped)
    if observation.aborted or (observation.error and not observation.samples):
        status = "aborted" if observation.aborted else "error"
        reason = observation.aborted or (observation.error.render() if observation.error else "")
        return ScenarioResult(
            **base,
            status=status,
            score=0.0,
            grade="F",
            reason=reason,
            faults=_timeline(observation.faults, None),
        )
    frame = sample_frame(observation.samples)
    windows = Windows(end=observation.end, faults=_spans(observation.faults, observation.end))
    evidence = Evidence.collect(frame, windows)
    evidence.checks = observation.checks
    stream_specs = {spec.name: spec for spec in scenario.streams}
    streams = {name: log.metrics(stream_specs[name].events) for name, log in observation.streams.items()}
    evidence.streams = {name: {k: v for k, v in m.items() if v is not None} for name, m in streams.items()}
    expectations = judge_all(evidence, scenario, profile) + _steady_after(plan, observation)
    score = scenario_score(expectations)
    if observation.error:
        status, reason, score = "error", observation.error.render(), 0.0
    else:
        failed = [r for r in expectations if r.applicable and not r.passed]
        status, reason = ("failed", f"{len(failed)} expectation(s) failed") if failed else ("passed", "")
    return ScenarioResult(
        **base,
        status=status,
        score=score,
        grade=grade(score),
        reason=reason,
        expectations=expectations,
        faults=_timeline(observation.faults, evidence),
        windows=windows.as_dict(),
        series=[SeriesPoint(**point) for point in series(frame)],
        failing_samples=_failing(observation, windows, scenario),
        streams=streams,
        sample_counts={str(k): int(v) for k, v in frame.groupby("source").size().items()}
        if not frame.empty
        else {},
    )
