"""`chaosgate run` against the bundled reference stack: a latency gate that must fail, the same
scenario without the fault that must pass, and a paused PostgreSQL container whose detection
and recovery times match the probe samples (issue acceptance, R2, R9 row 2)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.engine.conftest import RELAXED_SLA
from tests.targets.conftest import CHAOSGATE, PROJECT_ROOT

AUTH = {"Authorization": "Bearer ${setup.token.access_token}"}
TOKEN_STEP = {
    "name": "token",
    "request": {
        "method": "POST",
        "path": "/api/v1/auth/token",
        "json": {"client_id": "viewer", "client_secret": "viewer-dev-secret"},
    },
    "expect": {"status": 200},
}


def latency_scenario(with_fault: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "reference-api-latency",
        "title": "2.5 s on the API proxy against p95 < 2s",
        "target": "reference",
        "setup": [TOKEN_STEP],
        "steady_state": [
            {
                "name": "agents",
                "request": {"path": "/api/v1/agents", "headers": AUTH},
                "expect": {"status": 200},
            }
        ],
        "observe": "3s",
        "expect": {"before": [{"metric": "p95 < 2s", "of": "agents"}]},
        "sla": RELAXED_SLA,
    }
    if with_fault:
        data["faults"] = [
            {
                "name": "lag",
                "injector": "toxiproxy",
                "proxy": "api",
                "toxic": {"type": "latency", "attributes": {"latency": 2500}},
                "at": "3s",
                "for": "5s",  # longer than the latency: a revert releases what is held back
            }
        ]
        data["expect"]["during"] = [{"metric": "p95 < 2s", "of": "agents", "critical": True}]
    return data


def run(tmp_path: Path, scenario: dict[str, Any], *extra: str) -> tuple[int, dict[str, Any], str]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    out = tmp_path / "out"
    result = subprocess.run(
        [*CHAOSGATE, "run", str(path), "--out", str(out), "--state-dir", str(tmp_path / "state"), *extra],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    results = json.loads((out / "results.json").read_text()) if (out / "results.json").exists() else {}
    return result.returncode, results, result.stderr


def expectation(results: dict[str, Any], ident: str) -> dict[str, Any]:
    (scenario,) = results["scenarios"]
    return next(e for e in scenario["expectations"] if e["id"] == ident)


def test_latency_on_the_api_fails_the_gate_and_passes_without_it(tmp_path: Path) -> None:
    code, results, stderr = run(tmp_path / "faulty", latency_scenario(True))
    assert code == 1, stderr
    during = expectation(results, "during[0]")
    assert not during["passed"]
    assert during["measured_value"] >= 2.5
    before = expectation(results, "before[0]")
    assert before["passed"], before
    code, results, stderr = run(tmp_path / "calm", latency_scenario(False))
    assert code == 0, (stderr, results.get("verdict"))


@pytest.mark.docker
def test_paused_postgres_container_detect_recover_and_degraded_answers(tmp_path: Path) -> None:
    scenario = {
        "id": "reference-postgres-paused",
        "title": "PostgreSQL container paused",
        "category": "container",
        "target": "reference-docker",
        "setup": [TOKEN_STEP],
        "probes": [
            {
                "name": "agents",
                "request": {"path": "/api/v1/agents", "headers": AUTH, "timeout": "3s"},
                "expect": {"status": 200, "headers": {"X-Data-Freshness": {"equals": "fresh"}}},
            }
        ],
        "faults": [
            {
                "name": "db-paused",
                "injector": "docker",
                "container": "postgres",
                "action": "pause",
                "at": "3s",
                "for": "5s",
            }
        ],
        "observe": "5s",
        "expect": {
            "during": [{"metric": "detect < 2s", "of": "agents"}],
            "after": [{"metric": "recover < 5s", "of": "agents"}],
        },
        "sla": RELAXED_SLA,
    }
    code, results, stderr = run(tmp_path, scenario)
    # served stale within 2 s, fresh again within 5 s: every gate holds
    assert code == 0, (stderr, results.get("verdict"))
    (fault,) = results["scenarios"][0]["faults"]
    journal = [json.loads(line) for line in (tmp_path / "out" / "journal.jsonl").read_text().splitlines()]
    agents = sorted(
        (e["sample"] for e in journal if e["event"] == "SampleTaken" and e["sample"]["source"] == "agents"),
        key=lambda s: s["t"],
    )
    first_degraded = next(s for s in agents if s["t"] >= fault["inject_started"] and not s["ok"])
    first_fresh = next(s for s in agents if s["t"] >= fault["reverted_at"] and s["ok"])
    assert fault["detect"] == pytest.approx(first_degraded["t"] - fault["inject_started"], abs=0.1)
    assert fault["recover"] == pytest.approx(first_fresh["t"] - fault["reverted_at"], abs=0.1)
    # R9 row 2 on the timeline: during the pause the list is served from the cache, marked stale.
    stale = [
        s
        for s in agents
        if fault["inject_started"] <= s["t"] < fault["reverted_at"]
        and s["status"] == 200
        and (s.get("observed") or {}).get("X-Data-Freshness") == "stale"
    ]
    assert stale, "no stale answer recorded while PostgreSQL was paused"
