"""Small RunResults for pure tests of trends, baselines and coverage."""

from __future__ import annotations

from chaosgate.results import ExpectationResult, RunResult, ScenarioResult, Verdict


def gate(
    value: float, threshold: str = "p95 < 150ms", *, ident: str = "sla:latency p95"
) -> ExpectationResult:
    limit = float(threshold.split("<")[1].strip().removesuffix("ms")) / 1000
    return ExpectationResult(
        id=ident,
        kind="sla",
        window="steady",
        name=ident.removeprefix("sla:"),
        weight=1,
        critical=False,
        passed=value < limit,
        measured=f"{value * 1000:g}ms",
        measured_value=value,
        threshold=threshold,
    )


def scenario(
    ident: str = "lat", *, p95: float = 0.02, score: float = 100.0, passed: bool = True
) -> ScenarioResult:
    return ScenarioResult(
        id=ident,
        title=ident,
        category="network",
        weight=1,
        file=f"{ident}.yaml:1:1",
        status="passed" if passed else "failed",
        score=score,
        grade="A" if score >= 90 else "F",
        duration=5,
        expectations=[gate(p95)],
        latency={
            "run": {"p50": p95 / 2, "p95": p95, "p99": p95},
            "steady": {"p50": p95 / 2, "p95": p95, "p99": p95},
        },
    )


def run(index: int, *scenarios: ScenarioResult, score: float | None = None) -> RunResult:
    chosen = list(scenarios) or [scenario()]
    total = score if score is not None else sum(s.score for s in chosen) / len(chosen)
    return RunResult(
        run_id=f"run{index:02d}",
        started_at=f"2026-01-{index + 1:02d}T00:00:00+00:00",
        finished_at=f"2026-01-{index + 1:02d}T00:01:00+00:00",
        duration=60,
        sla_profile="default",
        min_score=90,
        score=total,
        grade="A" if total >= 90 else "F",
        categories={"network": total},
        verdict=Verdict(
            decision="go" if total >= 90 else "no-go", exit_code=0 if total >= 90 else 1, reasons=[]
        ),
        scenarios=chosen,
    )
