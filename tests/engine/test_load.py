"""Load through locust in its own process(es): its samples feed the same evaluation as probes."""

from __future__ import annotations

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


@pytest.mark.parametrize("workers", [0, 2])
def test_load_samples_are_measured(workspace: Workspace, workers: int) -> None:
    path = workspace.scenario("load", load_scenario())
    result = workspace.run("run", str(path), "--out", "out", "--load-workers", str(workers))
    (scenario,) = workspace.results()["scenarios"]
    assert scenario["sample_counts"]["load"] >= 40, result.stderr
    by_id = {e["id"]: e for e in scenario["expectations"]}
    assert by_id["before[0]"]["passed"], by_id["before[0]"]
    assert by_id["before[0]"]["measured_value"] >= 10
    assert by_id["before[1]"]["passed"]
    throughput = by_id["sla:throughput"]
    assert throughput["applicable"]
    assert throughput["samples"] == scenario["sample_counts"]["load"]
    if workers:
        logs = sorted(p.name for p in (workspace.out / "work" / "demo-load").glob("load-worker-*.log"))
        assert logs == ["load-worker-1.log", "load-worker-2.log"]
        outputs = list((workspace.out / "work" / "demo-load").glob("load-samples-*.jsonl"))
        assert len(outputs) == 2
        assert all(p.stat().st_size > 0 for p in outputs)
