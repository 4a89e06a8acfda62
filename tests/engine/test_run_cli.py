"""`chaosgate run` end to end against a service that is not the reference implementation."""

from __future__ import annotations

from pathlib import Path

from tests.engine.conftest import Workspace, latency_scenario


def expectation(results: dict, ident: str) -> dict:  # type: ignore[type-arg]
    (scenario,) = results["scenarios"]
    return next(e for e in scenario["expectations"] if e["id"] == ident)


def test_latency_fault_fails_the_p95_gate_and_is_measured(workspace: Workspace) -> None:
    path = workspace.scenario("latency", latency_scenario(latency=300))
    result = workspace.run("run", str(path), "--out", "out")
    assert result.returncode == 1, result.stderr
    results = workspace.results()
    during = expectation(results, "during[0]")
    assert not during["passed"]
    assert during["measured_value"] >= 0.300
    before = expectation(results, "before[0]")
    assert before["passed"]
    assert before["measured_value"] < 0.150
    assert results["verdict"]["decision"] == "no-go"
    assert any("critical expectation failed" in r for r in results["verdict"]["reasons"])
    (fault,) = results["scenarios"][0]["faults"]
    assert fault["injected_at"] >= 1.5
    assert fault["reverted_at"] >= fault["injected_at"] + 2.0
    for name in ("results.json", "junit.xml", "summary.md", "journal.jsonl"):
        assert (workspace.out / name).stat().st_size > 0
    assert workspace.chaosgate_leftovers() == []


def test_the_same_scenario_without_the_fault_is_go(workspace: Workspace) -> None:
    path = workspace.scenario("calm", latency_scenario(latency=None))
    result = workspace.run("run", str(path), "--out", "out")
    assert result.returncode == 0, result.stderr + result.stdout
    results = workspace.results()
    assert results["verdict"] == {"decision": "go", "exit_code": 0, "reasons": []}
    assert results["scenarios"][0]["score"] == 100.0


def test_dry_run_prints_the_plan_and_touches_nothing(workspace: Workspace) -> None:
    path = workspace.scenario("latency", latency_scenario())
    result = workspace.run("run", str(path), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "t=1.5s..3.5s inject lag: toxiproxy: latency 300ms on api" in result.stdout
    assert "probe health: GET /health every 100ms" in result.stdout
    assert not workspace.out.exists()
    assert workspace.chaosgate_leftovers() == []


def test_quick_scales_durations(workspace: Workspace) -> None:
    path = workspace.scenario("latency", latency_scenario(at="10s", duration="20s"))
    result = workspace.run("run", str(path), "--dry-run", "--quick")
    assert "t=2s..6s inject lag" in result.stdout


def test_a_typo_in_an_injector_parameter_is_rejected_before_anything_runs(workspace: Workspace) -> None:
    data = latency_scenario()
    data["faults"][0]["toxic"]["attributes"] = {"latncy": 300}
    path = workspace.scenario("typo", data)
    result = workspace.run("run", str(path), "--out", "out")
    assert result.returncode == 2
    assert "did you mean `latency`?" in result.stderr
    assert f"{path}:" in result.stderr
    assert not workspace.out.exists()


def test_filters_select_by_tag_and_id(workspace: Workspace) -> None:
    data = latency_scenario()
    data["tags"] = ["network"]
    workspace.scenario("tagged", data)
    assert workspace.run("run", ".", "--tags", "network", "--dry-run").returncode == 0
    missing = workspace.run("run", ".", "--tags", "nope", "--dry-run")
    assert missing.returncode == 2
    assert "no scenario matches tag nope" in missing.stderr
    assert workspace.run("run", ".", "--id", "demo-latency", "--dry-run").returncode == 0


def test_unknown_target_is_invalid_input(workspace: Workspace, tmp_path: Path) -> None:
    data = latency_scenario()
    data["target"] = "dmeo"
    path = workspace.scenario("bad-target", data)
    result = workspace.run("run", str(path), "--out", "out")
    assert result.returncode == 3 or result.returncode == 2
    assert "did you mean `demo`?" in (workspace.out / "results.json").read_text() + result.stderr
