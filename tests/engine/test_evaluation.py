"""Metrics, scoring and the verdict on hand-made samples: the rules of R6 in isolation."""

from __future__ import annotations

import pytest

from chaosgate.engine.samples import Exchange, Sample, redact_text
from chaosgate.evaluation.metrics import detect_time, recover_time, window_metric
from chaosgate.evaluation.scoring import grade, scenario_score, suite_scores, verdict
from chaosgate.evaluation.timeline import FaultSpan, Windows, answered_within, sample_frame, within
from chaosgate.results import ExpectationResult, ScenarioResult


def probe(t: float, latency: float = 0.01, status: int = 200, ok: bool = True, source: str = "p") -> Sample:
    return Sample(source=source, request="GET /", t=t, latency=latency, status=status, ok=ok)


def timeline() -> list[Sample]:
    """Steady for 2 s, a fault from 2 s to 4 s (slow, then failing), steady again after 4.3 s."""
    samples = [probe(i / 10) for i in range(20)]
    samples += [probe(2.0 + i / 10, latency=0.4) for i in range(3)]
    samples += [probe(2.3 + i / 10, status=503, ok=False) for i in range(17)]
    samples += [probe(4.0 + i / 10, status=503, ok=False) for i in range(3)]
    samples += [probe(4.3 + i / 10) for i in range(17)]
    return samples


def test_window_metrics() -> None:
    frame = sample_frame(timeline())
    windows = Windows(end=6.0, faults=(FaultSpan("f", 2.0, 4.0),))
    before = within(frame, windows.spans("before"))
    during = within(frame, windows.spans("during"))
    assert len(before) == 20
    assert window_metric("p95", before, windows.spans("before")) == pytest.approx(0.01)
    assert window_metric("error_rate", during, windows.spans("during")) == pytest.approx(17 / 20)
    assert window_metric("availability", during, windows.spans("during")) == pytest.approx(3 / 20)
    assert window_metric("rps", before, windows.spans("before")) == pytest.approx(10.0)
    assert window_metric("max", during, windows.spans("during")) == pytest.approx(0.4)
    assert window_metric("p95", frame.iloc[0:0], []) is None


def test_detect_and_recover_follow_the_samples() -> None:
    frame = sample_frame(timeline())
    fault = FaultSpan("f", 1.95, 4.0)
    before = [(0.0, 1.95)]
    assert detect_time(frame, fault, before) == pytest.approx(0.05)  # the first slow sample at 2.0
    assert recover_time(frame, fault, before, 6.0) == pytest.approx(0.3)  # steady from 4.3
    stuck = sample_frame(
        [probe(i / 10) for i in range(20)] + [probe(2 + i / 10, ok=False, status=500) for i in range(40)]
    )
    assert recover_time(stuck, FaultSpan("f", 2.0, 4.0), [(0.0, 2.0)], 6.0) is None
    calm = sample_frame([probe(i / 10) for i in range(60)])
    assert detect_time(calm, FaultSpan("f", 2.0, 4.0), [(0.0, 2.0)]) is None


def test_a_grace_period_skips_the_start_of_a_window() -> None:
    windows = Windows(end=6.0, faults=(FaultSpan("f", 2.0, 4.0),))
    assert windows.spans("during", grace=0.5) == [(2.5, 4.0)]
    assert windows.spans("after", grace=3.0) == []


def test_requests_started_while_a_revert_runs_are_judged_in_no_window() -> None:
    """Between the start and the return of a revert a request may or may not see the fault: the
    `during` window ends when the revert began and `after` starts when it returned."""
    windows = Windows(end=6.0, faults=(FaultSpan("f", 2.0, 4.0, cleared=4.05),))
    assert windows.spans("during") == [(2.0, 4.0)]
    assert windows.spans("after") == [(4.05, 6.0)]
    frame = sample_frame([probe(3.99), probe(4.02, ok=False, status=503), probe(4.06)])
    assert len(within(frame, windows.spans("during"))) == 1
    assert len(within(frame, windows.spans("after"))) == 1
    slow = sample_frame([probe(3.9, latency=0.05), probe(3.95, latency=0.08, ok=False)])
    assert len(answered_within(slow, windows.spans("during"))) == 1  # answered after the revert began


def result(
    ident: str,
    passed: bool,
    weight: float = 1.0,
    critical: bool = False,
    kind: str = "metric",
    applicable: bool = True,
) -> ExpectationResult:
    return ExpectationResult(
        id=ident,
        kind=kind,
        window="during",
        name=ident,
        weight=weight,  # type: ignore[arg-type]
        critical=critical,
        passed=passed,
        applicable=applicable,
    )


def scenario(
    ident: str,
    score: float,
    *,
    category: str = "network",
    weight: float = 1.0,
    status: str = "passed",
    expectations: list[ExpectationResult] | None = None,
) -> ScenarioResult:
    return ScenarioResult(
        id=ident,
        title=ident,
        category=category,
        weight=weight,
        file="x.yaml",
        status=status,
        score=score,
        grade=grade(score),
        duration=1.0,  # type: ignore[arg-type]
        expectations=expectations or [],
    )


def test_scenario_score_is_the_weighted_share_passed() -> None:
    results = [result("a", True, 3), result("b", False, 1), result("c", False, 5, applicable=False)]
    assert scenario_score(results) == 75.0
    assert scenario_score([]) == 100.0


def test_suite_and_category_scores_are_weighted_by_scenario() -> None:
    score, categories = suite_scores([scenario("a", 100, weight=3), scenario("b", 60, category="container")])
    assert score == 90.0
    assert categories == {"container": 60.0, "network": 100.0}


@pytest.mark.parametrize(
    ("score", "letter"), [(95, "A"), (90, "A"), (85, "B"), (70, "C"), (61, "D"), (59.9, "F")]
)
def test_grades(score: float, letter: str) -> None:
    assert grade(score) == letter


def test_verdict_reasons_and_exit_codes() -> None:
    ok = scenario("ok", 100, expectations=[result("x", True, critical=True)])
    assert verdict([ok], 100, 90).exit_code == 0
    critical = scenario("crit", 95, expectations=[result("x", False, critical=True)])
    decision = verdict([ok, critical], 97.5, 90)
    assert (decision.decision, decision.exit_code) == ("no-go", 1)
    assert decision.reasons == ["crit: critical expectation failed: x (failed)"]
    gate = scenario("gate", 95, expectations=[result("sla:p95", False, kind="sla")])
    assert "SLA gate failed" in verdict([gate], 95, 90).reasons[0]
    assert verdict([ok], 85, 90).reasons == ["suite score 85 is below the minimum 90"]
    aborted = scenario("ab", 0, status="aborted")
    assert verdict([ok, aborted], 50, 0).exit_code == 4
    errored = scenario("err", 0, status="error")
    assert verdict([aborted, errored], 0, 0).exit_code == 3


def test_tokens_are_redacted_from_excerpts_and_curl() -> None:
    exchange = Exchange.capture(
        method="POST",
        url="http://127.0.0.1:1/api",
        request_headers={"Authorization": "Bearer abc.def"},
        request_body='{"password": "hunter2", "client_secret": "s3cr3t", "name": "x"}',
        status=500,
        response_headers={"Set-Cookie": "s=1"},
        response_body=b'{"access_token": "eyJ.secret", "ok": false}',
    )
    assert "hunter2" not in exchange.curl()
    assert "s3cr3t" not in exchange.curl()
    assert "abc.def" not in exchange.curl()
    assert "eyJ.secret" not in exchange.response_body
    assert exchange.response_headers["Set-Cookie"] == "[REDACTED]"
    assert redact_text("Authorization: Bearer tok_123") == "Authorization: Bearer [REDACTED]"


def test_samples_started_while_a_revert_is_in_flight_belong_to_no_window() -> None:
    """A request started after the revert call began may already see the service healed, and one
    started before it returned may still see the fault: neither `during` nor `after` judges it."""
    windows = Windows(end=6.0, faults=(FaultSpan("f", 2.0, 4.0, cleared=4.2),))
    assert windows.spans("during") == [(2.0, 4.0)]
    assert windows.spans("after") == [(4.2, 6.0)]
    frame = sample_frame(timeline())
    fault = FaultSpan("f", 1.95, 4.0, cleared=4.2)
    assert recover_time(frame, fault, [(0.0, 1.95)], 6.0) == pytest.approx(0.1)


def test_a_fault_window_judges_only_exchanges_answered_before_the_revert_began() -> None:
    frame = sample_frame([probe(3.9, latency=0.05), probe(3.96, latency=0.08), probe(3.0, latency=0.5)])
    answered = answered_within(frame, [(2.0, 4.0)])
    assert sorted(answered["t"].tolist()) == [3.0, 3.9]
