"""`sla.waive`: a gate the scenario waives is shown as waived, never judged, never counted."""

from __future__ import annotations

from typing import Any

from chaosgate.engine.quick import window_needs
from chaosgate.engine.samples import Sample
from chaosgate.evaluation.judge import Evidence, judge_all
from chaosgate.evaluation.scoring import scenario_score, verdict
from chaosgate.evaluation.sla import profile_for
from chaosgate.evaluation.timeline import Windows, sample_frame
from chaosgate.results import ExpectationResult, RunResult, ScenarioResult, Verdict
from chaosgate.scenario.model import Scenario
from reports.junit import _scenario_suite
from reports.markdown import render


def scenario(sla: Any) -> Scenario:
    """A scenario with a light load: 5 requests a second, far below the throughput gate."""
    return Scenario.model_validate(
        {
            "id": "light-load",
            "title": "a load that is not a load test",
            "sla": sla,
            "load": {"users": 1, "spawn_rate": 1, "duration": "4s", "mix": [{"path": "/"}]},
        }
    )


def evidence() -> Evidence:
    samples = [
        Sample(source="load", request="GET /", t=i / 5, latency=0.01, status=200, ok=True) for i in range(20)
    ]
    return Evidence.collect(sample_frame(samples), Windows(end=4.0, faults=()))


def gate(results: list[ExpectationResult], name: str) -> ExpectationResult:
    return next(r for r in results if r.id == f"sla:{name}")


def passed(results: list[ExpectationResult]) -> ScenarioResult:
    return ScenarioResult(
        id="light-load",
        title="t",
        category="network",
        weight=1.0,
        file="s.yaml",
        status="passed",
        score=scenario_score(results),
        grade="A",
        duration=4.0,
        expectations=results,
    )


def test_without_waive_the_throughput_gate_fails_the_light_load() -> None:
    judged = scenario("default")
    results = judge_all(evidence(), judged, profile_for(judged))
    throughput = gate(results, "throughput")
    assert throughput.applicable
    assert not throughput.passed
    assert not throughput.waived
    assert scenario_score(results) < 100.0


def test_a_waived_gate_is_reported_as_waived_and_not_counted() -> None:
    judged = scenario({"profile": "default", "waive": ["throughput"]})
    results = judge_all(evidence(), judged, profile_for(judged))
    throughput = gate(results, "throughput")
    assert throughput.waived
    assert not throughput.applicable
    assert throughput.measured is None
    assert "waived" in throughput.reason
    assert gate(results, "latency p95").applicable  # the other gates are still judged
    assert scenario_score(results) == 100.0
    result = passed(results)
    assert verdict([result], 100.0, 90.0).decision == "go"
    assert result.model_dump()["expectations"][results.index(throughput)]["waived"] is True
    skipped = _scenario_suite(result).find(".//testcase[@name='sla:throughput throughput']/skipped")
    assert skipped is not None
    assert "waived" in skipped.get("message", "")


def test_the_summary_lists_waived_gates() -> None:
    judged = scenario({"waive": ["throughput"]})
    results = judge_all(evidence(), judged, profile_for(judged))
    result = passed(results)
    run = RunResult(
        run_id="r",
        started_at="",
        finished_at="",
        duration=4.0,
        sla_profile="default",
        min_score=90.0,
        score=100.0,
        grade="A",
        categories={},
        verdict=Verdict(decision="go", exit_code=0, reasons=[]),
        scenarios=[result],
    )
    assert "- `light-load`: throughput" in render(run)


def test_quick_does_not_keep_a_window_long_for_a_waived_gate() -> None:
    fault = {"name": "f", "injector": "toxiproxy", "proxy": "api", "down": True, "at": "1s", "for": "2s"}

    def after_need(sla: Any) -> float:
        judged = Scenario.model_validate({"id": "x", "title": "t", "faults": [fault], "sla": sla})
        return window_needs(judged, profile_for(judged)).after

    assert after_need("default") >= 5.0  # `dependency failover: recover < 5s` is judged after the fault
    assert after_need({"waive": ["dependency failover"]}) < 5.0
