"""`chaosgate run` end to end against a service that is not the reference implementation."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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


def test_a_template_that_fails_at_run_time_ends_the_scenario_as_error(workspace: Workspace) -> None:
    data = latency_scenario(latency=None)
    data["setup"] = [{"name": "status", "request": {"path": "/health"}}]
    data["probes"] = [
        {"name": "ghost", "request": {"path": "/health?x=${setup.status.missing}"}, "every": "100ms"}
    ]
    path = workspace.scenario("ghost", data)
    result = workspace.run("run", str(path), "--out", "out")
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    assert "never retrieved" not in result.stderr
    (scenario,) = workspace.results()["scenarios"]
    assert scenario["status"] == "error"
    assert "ghost (GET /health?x=${setup.status.missing})" in scenario["reason"]
    assert "has no value at `missing`" in scenario["reason"]
    assert "\n" not in scenario["reason"]
    assert workspace.chaosgate_leftovers() == []


# Inputs that name nothing are rejected before any target comes up. The target of these
# runs is a `url` target whose Toxiproxy is a listening socket: bringing it up would
# connect there, so a connection on the trap proves the target was started.


@pytest.fixture
def trap() -> Iterator[socket.socket]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0)
    yield server
    server.close()


def sprung(trap: socket.socket, wait: float = 0.0) -> bool:
    trap.settimeout(wait)
    try:
        connection, _ = trap.accept()
    except (BlockingIOError, TimeoutError):
        return False
    connection.close()
    return True


@pytest.fixture
def offline(tmp_path: Path, trap: socket.socket, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    url = f"http://127.0.0.1:{trap.getsockname()[1]}"
    space = Workspace(tmp_path, url)
    space.target("demo", kind="url", base_url="http://127.0.0.1:9", toxiproxy_url=url)
    monkeypatch.setenv("CHAOSGATE_TEST_TOKEN", "secret")
    return space


def named(**changes: Any) -> dict[str, Any]:
    """A valid scenario on the `demo` target whose probe uses `${env.CHAOSGATE_TEST_TOKEN}`."""
    data = latency_scenario()
    data["steady_state"][0]["request"]["path"] = "/health?t=${env.CHAOSGATE_TEST_TOKEN}"
    data.update(changes)
    return data


def position(path: Path, value: str) -> str:
    """`file:line:col` of the first occurrence of `value` in the file."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if value in line:
            return f"{path}:{number}:{line.index(value) + 1}"
    raise AssertionError(f"{value} not in {path}")


def assert_rejected_before_anything_ran(
    space: Workspace, trap: socket.socket, path: Path, *, value: str, message: str, hint: str | None
) -> None:
    """Exit 2 with the error at `value` in `path`, for `run` and `run --dry-run`, and nothing started."""
    for extra in ((), ("--dry-run",)):
        result = space.run("run", str(path), "--out", "out", *extra, timeout=60)
        assert result.returncode == 2, result.stdout + result.stderr
        assert f"{position(path, value)}: error: {message}" in result.stderr, result.stderr
        if hint is not None:
            assert f"did you mean `{hint}`?" in result.stderr
        assert "Traceback" not in result.stderr
        assert result.stdout == ""  # not even a plan was printed
    assert not space.out.exists()
    assert not sprung(trap)


def test_the_trap_is_sprung_when_the_target_comes_up(offline: Workspace, trap: socket.socket) -> None:
    path = offline.scenario("valid", named())
    run = offline.start("run", str(path), "--out", "out")
    try:
        assert sprung(trap, wait=60.0)  # the url target calls its Toxiproxy from `up`
    finally:
        run.kill()
        run.communicate(timeout=60)


def test_run_rejects_an_unset_env_reference(
    offline: Workspace, trap: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHAOSGATE_TEST_TOKEN")
    path = offline.scenario("env", named())
    message = "environment variable `CHAOSGATE_TEST_TOKEN` is not set"
    assert_rejected_before_anything_ran(offline, trap, path, value="/health?t=", message=message, hint=None)


@pytest.mark.parametrize("sla", ["defualt", {"profile": "defualt"}])
def test_run_rejects_a_misspelt_sla_profile(offline: Workspace, trap: socket.socket, sla: Any) -> None:
    path = offline.scenario("sla", named(sla=sla))
    message = "no SLA profile `defualt`"
    assert_rejected_before_anything_ran(offline, trap, path, value="defualt", message=message, hint="default")


def test_run_rejects_a_misspelt_target(offline: Workspace, trap: socket.socket) -> None:
    path = offline.scenario("target", named(target="dmeo"))
    message = "no target `dmeo`"
    assert_rejected_before_anything_ran(offline, trap, path, value="dmeo", message=message, hint="demo")


def test_run_rejects_a_misspelt_waived_gate(offline: Workspace, trap: socket.socket) -> None:
    path = offline.scenario("waive", named(sla={"waive": ["thruput"]}))
    message = "SLA profile `default` has no gate `thruput` to waive"
    assert_rejected_before_anything_ran(
        offline, trap, path, value="thruput", message=message, hint="throughput"
    )


@pytest.mark.parametrize(
    ("option", "message", "hint"),
    [("--target=dmeo", "no target `dmeo`", "demo"), ("--sla=defualt", "no SLA profile `defualt`", "default")],
)
def test_run_rejects_misspelt_overrides(
    offline: Workspace, trap: socket.socket, option: str, message: str, hint: str
) -> None:
    path = offline.scenario("valid", named())
    for extra in ((), ("--dry-run",)):
        result = offline.run("run", str(path), option, "--out", "out", *extra, timeout=60)
        assert result.returncode == 2, result.stderr
        assert message in result.stderr
        assert f"did you mean `{hint}`?" in result.stderr
        assert "Traceback" not in result.stderr
    assert not offline.out.exists()
    assert not sprung(trap)
