"""A generated subset runs against the reference stack (process runtime) and is Go.

Each outcome is what the reference documents: 300 ms of latency leaves an agent's answer
intact; with PostgreSQL down the agents list is served from the cache (200, declared);
with PostgreSQL not answering a new agent is accepted into the offline queue (202,
declared); with Redis down health answers 503 `degraded` (declared). The credentials are
the reference's admin client, passed as the environment variables the files name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.generate.conftest import chaosgate

IDS = [
    "get-api-v1-agents-agent-id-network-latency",
    "get-api-v1-agents-postgres-down",
    "post-api-v1-agents-postgres-timeout",
    "get-api-v1-system-health-redis-down",
]


def test_a_generated_subset_runs_go_against_the_reference(reference_openapi: Path, tmp_path: Path) -> None:
    generated = chaosgate(tmp_path, "generate", "--openapi", str(reference_openapi), "--out", "generated")
    assert generated.returncode == 0, generated.stderr
    result = chaosgate(
        tmp_path,
        "run",
        "generated",
        "--target",
        "reference",
        "--quick",
        "--out",
        "out",
        *[arg for scenario in IDS for arg in ("--id", scenario)],
        env={"CHAOSGATE_CLIENT_ID": "admin", "CHAOSGATE_CLIENT_SECRET": "admin-dev-secret"},
        timeout=480,
    )
    assert "Traceback" not in result.stderr
    results: dict[str, Any] = json.loads((tmp_path / "out" / "results.json").read_text())
    assert sorted(s["id"] for s in results["scenarios"]) == sorted(IDS)
    failing = {
        s["id"]: s["reason"] or [e["name"] for e in s["expectations"] if e["applicable"] and not e["passed"]]
        for s in results["scenarios"]
        if s["status"] != "passed"
    }
    assert failing == {}, result.stderr[-3000:]
    for scenario in results["scenarios"]:
        own = [e for e in scenario["expectations"] if e["kind"] != "sla"]
        assert len(own) == 3, scenario["id"]
        assert all(e["applicable"] and e["measured"] is not None for e in own), scenario["id"]
    assert results["verdict"] == {"decision": "go", "exit_code": 0, "reasons": []}
    assert result.returncode == 0
