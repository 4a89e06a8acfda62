"""What `compare` and `--baseline` call a regression."""

from __future__ import annotations

import pytest

from chaosgate.baseline import Tolerance, compare, regressions
from chaosgate.exceptions import UsageError
from tests.reports.builders import run, scenario


def test_identical_runs_have_no_regression() -> None:
    assert regressions(compare(run(0), run(1))) == []


def test_p95_growth_score_drop_and_a_newly_failing_gate_are_regressions() -> None:
    base = run(0, scenario(p95=0.020))
    slow = run(1, scenario(p95=0.320, score=50, passed=False))
    lines = [d.line() for d in regressions(compare(base, slow))]
    assert any("suite score dropped from 100 to 50" in line for line in lines)
    assert any("gate sla:latency p95 `latency p95` newly fails" in line for line in lines)
    assert any("p95 over the run window grew from 20ms to 320ms" in line for line in lines)
    # the other way round it is an improvement, not a regression
    back = compare(slow, base)
    assert regressions(back) == []
    assert any(d.change == "improvement" and "now passes" in d.text for d in back)


def test_small_absolute_growth_is_noise() -> None:
    # 2 ms → 6 ms triples the p95 but stays under the 50 ms absolute tolerance.
    assert regressions(compare(run(0, scenario(p95=0.002)), run(1, scenario(p95=0.006)))) == []


def test_tolerance_parses_and_rejects() -> None:
    assert Tolerance.parse("score=5,p95=10%,p95_abs=20ms") == Tolerance(5.0, 0.10, 0.020)
    assert Tolerance.parse("") == Tolerance()
    with pytest.raises(UsageError, match="unknown key `p99`"):
        Tolerance.parse("p99=3")
    with pytest.raises(UsageError, match="not a number"):
        Tolerance.parse("score=lots")
