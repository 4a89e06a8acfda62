"""`compare` and `run --baseline` on real runs: a planted 300 ms latency fault is a regression,
two runs of the same healthy scenario are not; every run lands in the history folder."""

from __future__ import annotations

from tests.engine.conftest import Workspace, latency_scenario


def test_a_latency_fault_regresses_against_a_healthy_baseline(workspace: Workspace) -> None:
    calm = workspace.scenario("calm", latency_scenario(latency=None))
    first = workspace.run("run", str(calm), "--out", "healthy-1")
    assert first.returncode == 0, first.stderr
    second = workspace.run("run", str(calm), "--out", "healthy-2", "--baseline", "healthy-1/results.json")
    assert second.returncode == 0, second.stderr + second.stdout
    same = workspace.run("compare", "healthy-1", "healthy-2")
    assert same.returncode == 0, same.stdout
    assert "no regression" in same.stdout

    lag = workspace.scenario("lag", latency_scenario(latency=300, threshold="150ms"))
    slow = workspace.run("run", str(lag), "--out", "slow", "--baseline", "healthy-1")
    assert slow.returncode == 1, slow.stderr
    reasons = workspace.root.joinpath("slow", "results.json").read_text()
    assert "regression against baseline" in reasons
    assert "p95 over the run window grew from" in reasons

    diff = workspace.run("compare", "healthy-1/results.json", "slow/results.json")
    assert diff.returncode == 1
    assert "regression: demo-latency: p95 over the run window grew from" in diff.stdout
    assert "regression: demo-latency: score dropped from 100" in diff.stdout
    # A tolerance wide enough forgives the score and the p95, not a scenario that now fails.
    loose = workspace.run(
        "compare", "healthy-1", "slow", "--max-regression", "score=100,p95=100000%,p95_abs=10s"
    )
    assert loose.returncode == 1
    assert "p95 over" not in loose.stdout
    assert "score dropped" not in loose.stdout
    assert "regression: demo-latency: was passed, now failed" in loose.stdout

    history = sorted((workspace.root / ".chaosgate-history").glob("*.json"))
    assert len(history) == 3
    bad = workspace.run("run", str(calm), "--baseline", "missing.json")
    assert bad.returncode == 2
    assert "cannot read a run's results" in bad.stderr
