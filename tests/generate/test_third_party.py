"""Generating from a document chaosgate did not write, served by the service it describes.

The inventory service (tests/support/inventory_service.py) has another shape than the
reference: an API key, integer camelCase ids, plain-text errors, no 503 and no error envelope.
The generated scenarios must validate, and run against the service through a `url` target.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.generate.conftest import INVENTORY_KEY, chaosgate, scenarios_in, write_target

FAULTS = ["latency", "timeout", "reset-peer", "bandwidth", "slicer", "down"]
OPERATIONS = 7


def _generate(cwd: Path, service: str, toxiproxy_url: str) -> Path:
    write_target(cwd, "inventory", kind="url", base_url=service, toxiproxy_url=toxiproxy_url)
    result = chaosgate(
        cwd, "generate", "--openapi", f"{service}/openapi.json", "--out", "generated", "--target", "inventory"
    )
    assert result.returncode == 0, result.stderr
    assert "no target file" not in result.stderr
    assert "set API_KEY, WAREHOUSE_CODE" in result.stdout
    return cwd / "generated"


def test_the_generated_scenarios_validate_one_per_operation_and_path_fault(
    tmp_path: Path, inventory_url: str, toxiproxy_url: str
) -> None:
    folder = _generate(tmp_path, inventory_url, toxiproxy_url)
    files = scenarios_in(folder)
    assert len(files) == OPERATIONS * len(FAULTS)  # no dependency proxies: network faults only
    assert {name.split("/")[0] for name in files} == {"network"}
    validated = chaosgate(tmp_path, "validate", "generated")
    assert validated.returncode == 0, validated.stderr[-3000:]

    item = files["network/get-v2-items-itemid-network-latency.yaml"]
    setup = item["setup"]
    assert isinstance(setup, list)
    assert [step["name"] for step in setup] == ["item"]
    assert setup[0]["request"]["json"] == {"sku": "ABC-0001", "quantity": 1}  # example, then minimum
    assert setup[0]["request"]["headers"] == {"X-Api-Key": "${env.API_KEY:-change-me}"}
    probes: Any = item["probes"]
    assert probes[0]["request"]["path"] == "/v2/items/${setup.item.itemId}"
    assert probes[0]["expect"] == {
        "status": 200,
        "json": {"$.sku": {"exists": True}, "$.quantity": {"exists": True}, "$.itemId": {"exists": True}},
    }
    listing: Any = files["network/get-v2-items-network-down.yaml"]
    assert listing["probes"][0]["expect"]["headers"] == {"X-Total-Count": "present"}
    stock: Any = files["network/get-v2-warehouses-warehousecode-stock-network-slicer.yaml"]
    assert stock["probes"][0]["request"]["path"] == "/v2/warehouses/${env.WAREHOUSE_CODE:-north}/stock"
    assert "setup" not in stock
    health: Any = files["network/get-health-network-latency.yaml"]
    assert "headers" not in health["probes"][0]["request"]  # `security: []`: public


def _run(cwd: Path, *ids: str) -> tuple[int, dict[str, Any], str]:
    selection = [arg for scenario in ids for arg in ("--id", scenario)]
    result = chaosgate(
        cwd,
        "run",
        "generated",
        "--target",
        "inventory",
        "--quick",
        "--out",
        "out",
        *selection,
        env={"API_KEY": INVENTORY_KEY},
        timeout=400,
    )
    assert "Traceback" not in result.stderr
    results: dict[str, Any] = json.loads((cwd / "out" / "results.json").read_text())
    return result.returncode, results, result.stderr


@pytest.mark.slow
def test_a_generated_subset_is_go_on_the_healthy_service(
    tmp_path: Path, inventory_url: str, toxiproxy_url: str
) -> None:
    """Every path fault class on one resource operation, plus a write: all Go on a healthy service.

    Latency, bandwidth and slicer leave each answer intact, so it stays as documented; timeout,
    reset and down cut the path, which is seen at the first sample and gone at the first after
    the revert. Nothing else shares the service, so each of these outcomes is exact.
    """
    _generate(tmp_path, inventory_url, toxiproxy_url)
    ids = [f"get-v2-items-itemid-network-{fault}" for fault in FAULTS] + ["post-v2-items-network-latency"]
    code, results, stderr = _run(tmp_path, *ids)
    assert sorted(s["id"] for s in results["scenarios"]) == sorted(ids)
    failing = {
        s["id"]: s["reason"] or [e["name"] for e in s["expectations"] if e["applicable"] and not e["passed"]]
        for s in results["scenarios"]
        if s["status"] != "passed"
    }
    assert failing == {}, stderr[-3000:]
    assert results["verdict"] == {"decision": "go", "exit_code": 0, "reasons": []}
    assert code == 0
    for scenario in results["scenarios"]:
        own = [e for e in scenario["expectations"] if e["kind"] != "sla"]
        assert len(own) >= 3
        assert all(e["applicable"] and e["measured"] is not None for e in own), scenario["id"]


def test_a_broken_promise_is_no_go(tmp_path: Path, broken_inventory_url: str, toxiproxy_url: str) -> None:
    """GET /v2/items without its documented X-Total-Count: every window's expectation fails."""
    _generate(tmp_path, broken_inventory_url, toxiproxy_url)
    code, results, _ = _run(tmp_path, "get-v2-items-network-latency")
    (scenario,) = results["scenarios"]
    failed = [e["name"] for e in scenario["expectations"] if e["applicable"] and not e["passed"]]
    assert failed == [
        "GET /v2/items answers 200 with X-Total-Count and items, total",
        "GET /v2/items answers 200 with X-Total-Count and items, total under 300 ms of network latency",
        "GET /v2/items answers 200 with X-Total-Count and items, total again",
        "availability",  # the SLA gate counts the same samples
    ]
    assert results["verdict"]["decision"] == "no-go"
    assert code == 1
