"""Load through locust in its own process(es): its samples feed the same evaluation as probes."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from tests.engine.conftest import Workspace


def load_scenario() -> dict[str, Any]:
    return {
        "id": "demo-load",
        "title": "the demo service under load",
        "category": "load",
        "target": "demo",
        "load": {
            "users": 4,
            "spawn_rate": 4,
            "duration": "4s",
            "think_time": "50ms",
            "mix": [
                {"method": "GET", "path": "/items", "weight": 3},
                {"method": "POST", "path": "/items", "json": {"name": "load-${run.id}"}, "weight": 1},
            ],
        },
        "expect": {
            "before": [
                {"metric": "rps >= 10", "of": "load"},
                {"metric": "error_rate < 1%", "of": "load"},
                {"metric": "p95 < 500ms", "of": "load"},
            ]
        },
    }


def load_rows(workspace: Workspace, scenario_id: str) -> list[dict[str, Any]]:
    """Every sample line the load process(es) wrote for a scenario."""
    rows = []
    for path in sorted((workspace.out / "work" / scenario_id).glob("load-samples*.jsonl")):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows


@pytest.mark.parametrize("workers", [0, 2])
def test_load_samples_are_measured(workspace: Workspace, workers: int) -> None:
    path = workspace.scenario("load", load_scenario())
    result = workspace.run("run", str(path), "--out", "out", "--load-workers", str(workers))
    (scenario,) = workspace.results()["scenarios"]
    assert scenario["sample_counts"]["load"] >= 40, result.stderr
    # 4 users with 50 ms think time make under 80 requests/s: the default profile's throughput
    # gate (> 100/s) is the one thing that fails, so the verdict is No-Go.
    failed = [e["id"] for e in scenario["expectations"] if e.get("applicable", True) and not e["passed"]]
    assert failed == ["sla:throughput"], failed
    assert result.returncode == 1, result.stdout + result.stderr
    by_id = {e["id"]: e for e in scenario["expectations"]}
    assert by_id["before[0]"]["passed"], by_id["before[0]"]
    assert by_id["before[0]"]["measured_value"] >= 10
    assert by_id["before[1]"]["passed"]
    throughput = by_id["sla:throughput"]
    assert throughput["applicable"]
    assert throughput["samples"] == scenario["sample_counts"]["load"]
    rows = load_rows(workspace, "demo-load")
    assert len(rows) == scenario["sample_counts"]["load"]
    by_request = Counter(row["request"] for row in rows)
    assert set(by_request) == {"GET /items", "POST /items"}
    assert 0.6 <= by_request["GET /items"] / len(rows) <= 0.9  # weights 3:1
    assert {(row["request"], row["status"]) for row in rows} == {("GET /items", 200), ("POST /items", 201)}
    assert all(row["error"] is None for row in rows)
    # Stamped on the scenario clock: after sampling began, within the load's 4 s (plus spawn and slack).
    assert all(0.0 <= row["t"] <= 30.0 and row["latency"] > 0 for row in rows)
    assert max(row["t"] for row in rows) - min(row["t"] for row in rows) >= 3.0
    if workers:
        logs = sorted(p.name for p in (workspace.out / "work" / "demo-load").glob("load-worker-*.log"))
        assert logs == ["load-worker-1.log", "load-worker-2.log"]
        outputs = list((workspace.out / "work" / "demo-load").glob("load-samples-*.jsonl"))
        assert len(outputs) == 2
        assert all(p.stat().st_size > 0 for p in outputs)


def test_server_errors_under_load_are_errors_with_their_status(workspace: Workspace) -> None:
    data = load_scenario()
    data["id"] = "demo-load-errors"
    data["load"]["mix"] = [
        {"method": "GET", "path": "/items", "weight": 1},
        {"method": "GET", "path": "/unavailable", "weight": 1},
    ]
    data["expect"] = {"before": [{"metric": "error_rate < 1%", "of": "load"}]}
    path = workspace.scenario("load-errors", data)
    result = workspace.run("run", str(path), "--out", "out")
    (scenario,) = workspace.results()["scenarios"]
    rows = load_rows(workspace, "demo-load-errors")
    assert len(rows) >= 40, result.stderr
    statuses = {(row["request"], row["status"]) for row in rows}
    assert statuses == {("GET /items", 200), ("GET /unavailable", 503)}
    failing = sum(row["status"] == 503 for row in rows)
    assert 0.3 <= failing / len(rows) <= 0.7
    error_rate = next(e for e in scenario["expectations"] if e["id"] == "before[0]")
    assert not error_rate["passed"]
    assert error_rate["measured_value"] == pytest.approx(failing / len(rows), abs=0.1)
    assert result.returncode == 1, result.stderr
