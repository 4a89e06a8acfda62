"""Scores, grades and the Go/No-Go verdict (R6.2, R6.3).

* scenario score = 100 × Σ(weight × passed) / Σ weight over its applicable
  expectations and gates; an aborted or errored scenario scores 0;
* suite score = Σ(scenario weight × score) / Σ scenario weight, and the same
  per category;
* Go only when every critical expectation passed, every applicable SLA gate
  passed, no scenario was aborted or errored, and the suite score reaches
  the profile's minimum. The verdict lists every reason it is not Go.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from chaosgate.exitcodes import ExitCode
from chaosgate.results import ExpectationResult, ScenarioResult, Verdict

GRADES = ((90.0, "A"), (80.0, "B"), (70.0, "C"), (60.0, "D"))


def grade(score: float) -> str:
    return next((letter for floor, letter in GRADES if score >= floor), "F")


def scenario_score(results: Sequence[ExpectationResult]) -> float:
    counted = [r for r in results if r.applicable]
    total = sum(r.weight for r in counted)
    if total == 0:
        return 100.0
    return round(100.0 * sum(r.weight for r in counted if r.passed) / total, 2)


def suite_scores(scenarios: Sequence[ScenarioResult]) -> tuple[float, dict[str, float]]:
    """The suite score and the score of each category present."""

    def weighted(items: Sequence[ScenarioResult]) -> float:
        total = sum(s.weight for s in items)
        return round(sum(s.weight * s.score for s in items) / total, 2) if total else 0.0

    scenarios = [s for s in scenarios if s.status != "skipped"]  # skipped: not run, so not scored
    by_category: dict[str, list[ScenarioResult]] = defaultdict(list)
    for scenario in scenarios:
        by_category[scenario.category].append(scenario)
    return weighted(scenarios), {name: weighted(items) for name, items in sorted(by_category.items())}


def verdict(scenarios: Sequence[ScenarioResult], suite_score: float, min_score: float) -> Verdict:
    """Go or No-Go, the reasons, and the exit code (infrastructure > aborted > No-Go > Go)."""
    reasons: list[str] = []
    errored = [s for s in scenarios if s.status == "error"]
    aborted = [s for s in scenarios if s.status == "aborted"]
    for s in errored:
        reasons.append(f"{s.id}: could not run: {s.reason}")
    for s in aborted:
        reasons.append(f"{s.id}: aborted: {s.reason}")
    for s in scenarios:
        for r in s.expectations:
            if r.critical and not r.passed:
                reasons.append(f"{s.id}: critical expectation failed: {r.name} ({r.reason or 'failed'})")
            elif r.kind == "sla" and r.applicable and not r.passed:
                reasons.append(f"{s.id}: SLA gate failed: {r.name} ({r.reason or 'failed'})")
    if suite_score < min_score:
        reasons.append(f"suite score {suite_score:g} is below the minimum {min_score:g}")
    if not [s for s in scenarios if s.status != "skipped"]:
        reasons.append("no scenario ran")
    if errored:
        code = ExitCode.INFRASTRUCTURE
    elif aborted:
        code = ExitCode.ABORTED
    elif reasons:
        code = ExitCode.NO_GO
    else:
        code = ExitCode.GO
    return Verdict(decision="go" if code == ExitCode.GO else "no-go", exit_code=int(code), reasons=reasons)
