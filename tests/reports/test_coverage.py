"""The endpoint × fault-class model and `chaosgate coverage`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from chaosgate.coverage import build_matrix, fault_class, footprint
from chaosgate.results import ExpectationResult
from chaosgate.scenario.model import Scenario
from tests.reports.builders import run, scenario

OPENAPI = {
    "openapi": "3.1.0",
    "paths": {
        "/items": {"get": {}, "post": {}},
        "/items/{item_id}": {"get": {}, "delete": {}},
        "/health": {"get": {}},
    },
}


def demo(ident: str, fault: dict, **extra: object) -> Scenario:  # type: ignore[type-arg]
    return Scenario.model_validate(
        {
            "id": ident,
            "title": ident,
            "probes": [{"name": "one", "request": {"path": "/items/${setup.item.id}"}}],
            "faults": [{"name": "f", "at": "1s", "for": "2s", **fault}],
            "expect": {"during": [{"metric": "p95 < 150ms", "of": "one"}]},
            **extra,
        }
    )


def test_fault_classes() -> None:
    assert fault_class("toxiproxy", {"proxy": "api", "toxic": {"type": "latency"}}) == "network: latency"
    assert fault_class("toxiproxy", {"proxy": "postgres", "down": True}) == "postgres: down"
    assert fault_class("toxiproxy", {"proxy": "api", "toxic": {"type": "reset_peer"}}) == "network: reset"
    assert fault_class("docker", {"container": "api", "action": "pause"}) == "container: pause"
    assert fault_class("websocket", {"proxy": "events", "fault": {"kind": "cut"}}) == "websocket: cut"


def test_paths_match_templates_and_cells_carry_results() -> None:
    lag = demo("lag", {"injector": "toxiproxy", "proxy": "api", "toxic": {"type": "latency"}})
    down = demo(
        "down",
        {"injector": "toxiproxy", "proxy": "redis", "down": True},
        load={"users": 1, "spawn_rate": 1, "duration": "2s", "mix": [{"path": "/items?limit=3"}]},
    )
    failed = scenario("lag", passed=False).model_copy(
        update={
            "expectations": [
                ExpectationResult(
                    id="during[0]",
                    kind="metric",
                    window="during",
                    name="p95",
                    weight=1,
                    critical=False,
                    passed=False,
                )
            ]
        }
    )
    matrix = build_matrix([footprint(lag), footprint(down)], OPENAPI, run(0, failed, scenario("down")))
    ops = {op.label: op for op in matrix.operations}
    assert matrix.fault_classes == ["network: latency", "redis: down"]
    assert matrix.result(ops["GET /items/{item_id}"], "network: latency") == "failed"
    assert matrix.result(ops["GET /items/{item_id}"], "redis: down") == "passed"
    assert matrix.result(ops["GET /items"], "redis: down") == "passed"
    assert matrix.result(ops["GET /items"], "network: latency") is None
    assert {op.label for op in matrix.uncovered()} == {
        "POST /items",
        "DELETE /items/{item_id}",
        "GET /health",
    }
    covers = matrix.cell(ops["GET /items/{item_id}"], "network: latency")
    assert {(c.scenario, c.expectation) for c in covers} == {("lag", None), ("lag", "during[0]")}


def test_coverage_cli_prints_empty_cells_and_exits_on_uncovered(tmp_path: Path) -> None:
    scenario_file = tmp_path / "lag.yaml"
    scenario_file.write_text(
        yaml.safe_dump(
            {
                "id": "lag",
                "title": "lag",
                "probes": [{"name": "one", "request": {"path": "/health"}}],
                "faults": [
                    {
                        "injector": "toxiproxy",
                        "proxy": "api",
                        "toxic": {"type": "latency", "attributes": {"latency": 100}},
                        "for": "2s",
                    }
                ],
            }
        )
    )
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(OPENAPI))

    def coverage(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "chaosgate", "coverage", str(scenario_file), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )

    partial = coverage("--openapi", str(spec))
    assert partial.returncode == 1, partial.stderr
    assert "GET /items × network: latency" in partial.stdout
    assert "4 operation(s) under no fault" in partial.stdout
    data = json.loads(coverage("--openapi", str(spec), "--json").stdout)
    assert data["fault_classes"] == ["network: latency"]
    assert "GET /health" not in data["uncovered"]
    only_health = tmp_path / "health.json"
    only_health.write_text(json.dumps({"paths": {"/health": {"get": {}}}}))
    assert coverage("--openapi", str(only_health)).returncode == 0
    missing = coverage("--openapi", str(tmp_path / "nope.json"))
    assert missing.returncode == 2
    assert "cannot read the OpenAPI document" in missing.stderr
