"""A suite holds together: one scenario's aftermath is waited out, never scored on the next one,
and any exception inside a scenario becomes that scenario's `error` while the run finishes.

Each test gets its own demo service, because these tests make it unhealthy on purpose.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaosgate.ports import free_port
from chaosgate.processes import ManagedProcess
from tests.engine.conftest import DEMO, RELAXED_SLA, Workspace

READY = [{"name": "health", "request": {"path": "/health"}, "expect": {"status": 200}}]


@pytest.fixture
def sick_space(tmp_path: Path, toxiproxy_url: str) -> Iterator[Workspace]:
    port = free_port()
    with ManagedProcess(
        "demo-service", [sys.executable, str(DEMO), str(port)], port=port, log_dir=tmp_path / "logs"
    ):
        space = Workspace(tmp_path, toxiproxy_url)
        space.target(
            "demo",
            kind="url",
            base_url=f"http://127.0.0.1:{port}",
            toxiproxy_url=toxiproxy_url,
            readiness=READY,
            settle_timeout="20s",
        )
        yield space


def _scenario(ident: str, *, sicken: dict[str, float] | None = None) -> dict[str, Any]:
    """A short scenario on the demo service; `sicken` makes /health fail from its setup on."""
    data: dict[str, Any] = {
        "id": ident,
        "title": f"scenario {ident}",
        "target": "demo",
        "sla": RELAXED_SLA,
        "steady_state": [{"name": "health", "request": {"path": "/health"}, "expect": {"status": 200}}],
        "faults": [
            {
                "name": "lag",
                "injector": "toxiproxy",
                "proxy": "api",
                "toxic": {"type": "latency", "attributes": {"latency": 1}},
                "at": "2s",
                "for": "3s",
            }
        ],
        "observe": "6s",
        "expect": {"after": [{"metric": "error_rate < 1%", "of": "health", "critical": True}]},
    }
    if sicken is not None:
        data["setup"] = [{"name": "sicken", "request": {"method": "POST", "path": "/sick", "json": sicken}}]
    return data


def _by_id(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in results["scenarios"]}


def test_a_scenario_that_leaves_the_target_broken_fails_alone(sick_space: Workspace) -> None:
    # /health fails from 3 s after the first scenario's setup for 14 s: through its after-window
    # (which ends about 11 s after setup) and well into the time the second one would start.
    first = sick_space.scenario("a-first", _scenario("a-first", sicken={"after": 3, "seconds": 14}))
    second = sick_space.scenario("b-second", _scenario("b-second"))
    result = sick_space.run("run", str(first), str(second), "--out", "out", timeout=180)
    assert result.returncode == 1, result.stderr
    scenarios = _by_id(sick_space.results())
    assert scenarios["a-first"]["status"] == "failed"
    assert scenarios["b-second"]["status"] == "passed", scenarios["b-second"]["reason"]
    assert scenarios["b-second"]["score"] == 100.0
    # The second scenario waited for the target: at least the rest of the 14 s of sickness.
    assert scenarios["b-second"]["settle_seconds"] >= 2.0
    assert scenarios["a-first"]["settle_seconds"] is not None
    settled = [e for e in sick_space.journal() if e["event"] == "TargetSettled"]
    assert [(e["scenario_id"], e["ready"]) for e in settled] == [("a-first", True), ("b-second", True)]
    assert sick_space.chaosgate_leftovers() == []


def test_a_target_that_never_settles_makes_the_next_scenario_an_error(sick_space: Workspace) -> None:
    first = sick_space.scenario("a-first", _scenario("a-first", sicken={"after": 3, "seconds": 120}))
    second = sick_space.scenario("b-second", _scenario("b-second"))
    result = sick_space.run(
        "run", str(first), str(second), "--out", "out", "--settle-timeout", "3s", timeout=180
    )
    assert result.returncode == 3, result.stderr
    scenarios = _by_id(sick_space.results())
    assert scenarios["a-first"]["status"] == "failed"
    assert scenarios["b-second"]["status"] == "error"
    assert "was not ready within" in scenarios["b-second"]["reason"]
    assert "health (GET /health)" in scenarios["b-second"]["reason"]
    assert scenarios["b-second"]["settle_seconds"] >= 3.0
    assert "Traceback" not in result.stderr


def test_a_check_that_raises_is_the_scenarios_error_and_every_report_is_written(
    sick_space: Workspace,
) -> None:
    (sick_space.root / "exploding_checks.py").write_text(
        "def explode(ctx, **args):\n    raise RuntimeError('the check itself is broken')\n"
    )
    data = _scenario("raises")
    data["expect"]["after"].append({"check": "exploding_checks:explode"})
    path = sick_space.scenario("raises", data)
    result = sick_space.run("run", str(path), "--out", "out", timeout=120)
    assert result.returncode == 3, result.stderr
    (scenario,) = sick_space.results()["scenarios"]
    assert scenario["status"] == "error"
    assert "exploding_checks:explode" in scenario["reason"]
    assert "RuntimeError: the check itself is broken" in scenario["reason"]
    for name in ("results.json", "junit.xml", "summary.md"):
        assert (sick_space.out / name).stat().st_size > 0
    assert "raises" in (sick_space.out / "junit.xml").read_text()
    assert "Traceback" not in result.stderr + result.stdout
    assert sick_space.chaosgate_leftovers() == []


def test_a_failing_report_writer_makes_the_run_exit_3_and_names_the_file(sick_space: Workspace) -> None:
    path = sick_space.scenario("calm", _scenario("calm"))
    (sick_space.out / "junit.xml").mkdir(parents=True)  # the writer cannot replace a folder
    result = sick_space.run("run", str(path), "--out", "out", timeout=120)
    assert result.returncode == 3, result.stderr
    assert "junit.xml is missing or incomplete" in result.stderr
    assert sick_space.results()["verdict"]["decision"] == "go"  # the other writers still wrote
    assert (sick_space.out / "summary.md").stat().st_size > 0
    assert "Traceback" not in result.stderr
