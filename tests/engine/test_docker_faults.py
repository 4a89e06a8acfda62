"""The docker injector driven by the engine: a paused service is detected and recovered from,
with times that match the probe samples, and nothing stays paused when a signal ends the run
(SIGKILL and `chaosgate cleanup`: test_cleanup_after_sigkill.py)."""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chaosgate.ports import free_port, wait_for_port
from injectors.docker.client import DockerEngine
from tests.engine.conftest import RELAXED_SLA, Workspace

SUPPORT = Path(__file__).resolve().parents[1] / "support"
IMAGE = "chaosgate/debian:bookworm"


@pytest.fixture
def demo_container(docker_engine: DockerEngine) -> Iterator[tuple[str, int]]:
    port = free_port()
    name = f"chaosgate-test-demo-{uuid.uuid4().hex[:8]}"
    container = docker_engine.sdk.containers.run(
        IMAGE,
        ["python3", "/support/demo_service.py", "8000", "0.0.0.0"],
        name=name,
        detach=True,
        init=True,
        ports={"8000/tcp": ("127.0.0.1", port)},
        labels={"chaosgate.test": "1"},
        volumes={str(SUPPORT): {"bind": "/support", "mode": "ro"}},
        environment={"PYTHONDONTWRITEBYTECODE": "1"},
    )
    try:
        assert wait_for_port("127.0.0.1", port, 20), "demo container did not listen"
        # docker-proxy accepts connections before the service inside does: wait for an answer.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail("demo container did not answer /health within 20 s")
        yield name, port
    finally:
        container.remove(force=True)


def pause_scenario(container: str, duration: str = "2s") -> dict[str, Any]:
    return {
        "id": "demo-paused",
        "title": "a paused container is detected and recovered from",
        "category": "container",
        "target": "demo-container",
        "steady_state": [{"request": {"path": "/health"}, "expect": {"status": 200}}],
        "probes": [
            {"name": "health", "request": {"path": "/health", "timeout": "1s"}, "expect": {"status": 200}}
        ],
        "faults": [
            {
                "name": "freeze",
                "injector": "docker",
                "container": container,
                "action": "pause",
                "at": "1500ms",
                "for": duration,
            }
        ],
        "observe": "2s",
        "expect": {
            "during": [{"metric": "detect < 2s", "of": "health"}],
            "after": [{"metric": "recover < 2s", "of": "health"}],
        },
        "sla": RELAXED_SLA,
    }


def samples(workspace: Workspace, source: str) -> list[dict[str, Any]]:
    return [
        e["sample"]
        for e in workspace.journal()
        if e["event"] == "SampleTaken" and e["sample"]["source"] == source
    ]


def test_pause_detect_and_recover_match_the_probe_timestamps(
    workspace: Workspace, demo_container: tuple[str, int]
) -> None:
    name, port = demo_container
    workspace.target(
        "demo-container",
        kind="url",
        base_url=f"http://127.0.0.1:{port}",
        toxiproxy_url=workspace.toxiproxy_url,
    )
    path = workspace.scenario("paused", pause_scenario(name))
    result = workspace.run("run", str(path), "--out", "out")
    # a pause the probes see at once and recover from at once: every gate holds
    assert result.returncode == 0, (result.stderr, workspace.results()["verdict"])
    (scenario,) = workspace.results()["scenarios"]
    (fault,) = scenario["faults"]
    health = sorted(samples(workspace, "health"), key=lambda s: s["t"])
    first_bad = next(s for s in health if s["t"] >= fault["inject_started"] and not s["ok"])
    first_good = next(s for s in health if s["t"] >= fault["reverted_at"] and s["ok"] and s["latency"] < 0.2)
    assert fault["detect"] == pytest.approx(first_bad["t"] - fault["inject_started"], abs=0.1)
    assert fault["recover"] == pytest.approx(first_good["t"] - fault["reverted_at"], abs=0.1)
    assert fault["detect"] >= 0
    assert fault["recover"] >= 0
    passed = {e["id"]: e["passed"] for e in scenario["expectations"]}
    assert passed["during[0]"]
    assert passed["after[0]"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_mid_pause_leaves_the_container_running(
    workspace: Workspace, demo_container: tuple[str, int], docker_engine: DockerEngine, signum: signal.Signals
) -> None:
    name, port = demo_container
    workspace.target(
        "demo-container",
        kind="url",
        base_url=f"http://127.0.0.1:{port}",
        toxiproxy_url=workspace.toxiproxy_url,
    )
    path = workspace.scenario("paused", pause_scenario(name, duration="60s"))
    proc = workspace.start("run", str(path), "--out", "out")
    try:
        workspace.wait_for_event("FaultInjected")
        assert docker_engine.get(name).status == "paused"
        proc.send_signal(signum)
        assert proc.wait(timeout=30) in (130, 143)
    finally:
        if proc.poll() is None:
            proc.kill()
    container = docker_engine.get(name)
    container.reload()
    assert container.status == "running"
