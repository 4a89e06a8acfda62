"""The docker injector against the real engine, with containers from the locally built image.

Every container is labelled chaosgate.test=1, published on 127.0.0.1 only,
and removed by the fixture even when the test fails.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from chaosgate.exceptions import ComponentMissing, InjectorError
from chaosgate.injector import InjectionContext
from injectors.docker import DockerEngine, DockerInjector, DockerParams, UndoLog, cleanup_all, undo_dir
from injectors.docker.injector import restore_body

pytestmark = pytest.mark.docker


def _injector(state_root: Path, run_id: str = "dockertest", **params: Any) -> DockerInjector:
    context = InjectionContext(run_id, state_dir=state_root)
    return DockerInjector(DockerParams.model_validate(params), context)


def _records(state_root: Path) -> list[Path]:
    return sorted(undo_dir(state_root).glob("*.json"))


# -- parameters (no engine needed) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"action": "pause"}, "exactly one of `container`"),
        ({"container": "a", "label": "k=v", "action": "pause"}, "exactly one of `container`"),
        ({"container": "a", "action": "pause", "network": "n"}, "`network` does not apply to `pause`"),
        ({"container": "a", "action": "kill", "cpus": 1}, "`cpus` does not apply to `kill`"),
        ({"container": "a", "action": "stop", "signal": "SIGTERM"}, "`signal` does not apply"),
        ({"container": "a", "action": "limit"}, "needs `cpus`, `memory` or both"),
        ({"container": "a", "action": "limit", "memory": "1k"}, "below 6m"),
        ({"container": "a", "action": "limit", "memory": "lots"}, "expected a size"),
        ({"container": "a", "action": "limit", "cpus": 0}, "greater than 0"),
        ({"container": "a", "action": "kill", "signal": "SIGNOPE"}, "expected a signal"),
        ({"container": "a", "action": "explode"}, "action"),
        ({"container": "a", "action": "pause", "colour": "red"}, "colour"),
    ],
)
def test_invalid_parameters_are_validation_errors(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        DockerParams.model_validate(params)


def test_parameters_are_normalised() -> None:
    kill = DockerParams.model_validate({"label": "app=api", "action": "kill", "signal": "term"})
    assert kill.kill_signal == "SIGTERM"
    assert DockerParams.model_validate({"container": "a", "action": "kill"}).kill_signal == "SIGKILL"
    limit = DockerParams.model_validate({"container": "a", "action": "limit", "memory": "256m", "cpus": 0.5})
    assert limit.memory == 256 * 1024 * 1024
    injector = DockerInjector(limit, InjectionContext("r", resources={"container:a": "prism-api-1"}))
    assert injector.describe() == "docker: limit container a (prism-api-1) to 0.5 CPUs, 256m memory"


def test_restore_body_puts_back_what_the_engine_allows() -> None:
    unlimited = {"Memory": 0, "MemorySwap": 0, "CpuPeriod": 0, "CpuQuota": 0}
    assert restore_body(unlimited, host_memory=8 << 30) == {
        "Memory": 8 << 30,
        "MemorySwap": 16 << 30,
        "CpuQuota": -1,
        "CpuPeriod": 100_000,
    }
    assert restore_body({"Memory": 1 << 30, "MemorySwap": 3 << 30}, host_memory=8 << 30) == {
        "Memory": 1 << 30,
        "MemorySwap": 3 << 30,
    }
    assert restore_body({"NanoCpus": 1_500_000_000}, host_memory=1) == {"NanoCpus": 1_500_000_000}


def test_undo_records_live_under_the_shared_state_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHAOSGATE_STATE_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert undo_dir() == tmp_path / "xdg" / "chaosgate" / "docker"
    monkeypatch.setenv("CHAOSGATE_STATE_DIR", str(tmp_path / "env"))
    assert undo_dir() == undo_dir(InjectionContext("r").state_dir) == tmp_path / "env" / "docker"
    assert undo_dir(tmp_path / "run") == tmp_path / "run" / "docker"


# -- the real engine ------------------------------------------------------------------------------


def test_pause_makes_requests_time_out_and_revert_answers_again(
    web_container: Any, http: Any, state_root: Path
) -> None:
    web = web_container()
    assert http.status(web.port) == 200
    injector = _injector(state_root, container=web.name, action="pause")
    injector.inject()
    try:
        assert web.reload()["State"]["Status"] == "paused"
        assert len(_records(state_root)) == 1  # written before the pause, for `chaosgate cleanup`
        with pytest.raises(httpx.TimeoutException):
            http.status(web.port, timeout=1.0)
    finally:
        injector.revert()
    assert web.reload()["State"]["Status"] == "running"
    assert http.status(web.port, timeout=5.0) == 200
    assert _records(state_root) == []
    injector.revert()  # idempotent


def test_stop_then_start(web_container: Any, http: Any, state_root: Path) -> None:
    web = web_container()
    with _injector(state_root, container=web.name, action="stop", timeout=2) as injector:
        assert web.reload()["State"]["Running"] is False
        with pytest.raises(httpx.HTTPError):
            http.status(web.port, timeout=1.0)
        assert "stop container" in injector.describe()
    assert web.reload()["State"]["Running"] is True
    assert http.wait(web.port, 10)


def _wait_exited(web: Any, seconds: float = 20.0) -> dict[str, Any]:
    """The container's State once it is no longer running (fails after `seconds`)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state: dict[str, Any] = web.reload()["State"]
        if not state["Running"]:
            return state
        time.sleep(0.1)
    pytest.fail(f"{web.name} still running {seconds}s after the kill")


@pytest.mark.parametrize(
    ("signal", "exit_code"),
    [(None, 137), ("SIGTERM", 143)],  # 128 + signal number, as the init process reports it
    ids=["default-SIGKILL", "SIGTERM"],
)
def test_kill_with_a_signal_then_start(
    web_container: Any, http: Any, state_root: Path, signal: str | None, exit_code: int
) -> None:
    web = web_container()
    started_at = web.reload()["State"]["StartedAt"]
    params: dict[str, Any] = {"container": web.name, "action": "kill"}
    if signal is not None:
        params["signal"] = signal
    with _injector(state_root, **params) as injector:
        state = _wait_exited(web)
        assert state["Status"] == "exited"
        assert state["ExitCode"] == exit_code
        assert state["OOMKilled"] is False
        with pytest.raises(httpx.HTTPError):
            http.status(web.port, timeout=2.0)
        assert len(_records(state_root)) == 1
        assert f"with {signal or 'SIGKILL'}" in injector.describe()
    state = web.reload()["State"]
    assert state["Running"] is True
    assert state["StartedAt"] != started_at  # started again by the revert, not left alone
    assert http.wait(web.port, 20)
    assert _records(state_root) == []


def test_a_revert_right_after_the_kill_waits_for_the_death_then_starts(
    web_container: Any, http: Any, state_root: Path
) -> None:
    web = web_container()
    started_at = web.reload()["State"]["StartedAt"]
    injector = _injector(state_root, container=web.name, action="kill")
    injector.inject()
    injector.revert()  # at once: the container may not have died yet
    state = web.reload()["State"]
    assert state["Running"] is True
    assert state["StartedAt"] != started_at
    assert state["FinishedAt"] > started_at  # it did die in between: SIGKILL was delivered
    assert http.wait(web.port, 20)


def test_limit_and_restore(web_container: Any, docker_engine: DockerEngine, state_root: Path) -> None:
    web = web_container(mem_limit="512m")
    before = web.reload()["HostConfig"]
    with _injector(state_root, container=web.name, action="limit", cpus=0.5, memory="64m"):
        during = web.reload()["HostConfig"]
        assert during["Memory"] == 64 * 1024 * 1024
        assert during["CpuQuota"] == 50_000
        assert during["CpuPeriod"] == 100_000
    after = web.reload()["HostConfig"]
    assert after["Memory"] == before["Memory"] == 512 * 1024 * 1024
    assert after["MemorySwap"] == before["MemorySwap"]
    assert after["CpuQuota"] == -1  # unlimited again (0 cannot be sent back, see the module docstring)


def test_limit_on_an_unlimited_container_restores_the_host_memory(
    web_container: Any, docker_engine: DockerEngine, state_root: Path
) -> None:
    web = web_container()
    with _injector(state_root, container=web.name, action="limit", memory="128m"):
        assert web.reload()["HostConfig"]["Memory"] == 128 * 1024 * 1024
    assert web.reload()["HostConfig"]["Memory"] == docker_engine.host_memory()
    assert web.reload()["HostConfig"]["MemorySwap"] == 2 * docker_engine.host_memory()


@pytest.fixture
def network(docker_engine: DockerEngine) -> Iterator[Any]:
    name = f"chaosgate-test-{uuid.uuid4().hex[:8]}"
    net = docker_engine.sdk.networks.create(name, labels={"chaosgate.test": "1"})
    yield net
    with contextlib.suppress(Exception):  # teardown must get to remove() whatever the test left
        net.reload()
        for container in net.containers:
            net.disconnect(container, force=True)
    net.remove()


def test_disconnect_and_reconnect_with_the_same_aliases(
    web_container: Any, network: Any, state_root: Path
) -> None:
    web = web_container()
    network.connect(web.container, aliases=["web", "api"])
    with _injector(state_root, container=web.name, action="disconnect", network=network.name):
        assert network.name not in web.reload()["NetworkSettings"]["Networks"]
        assert "bridge" in web.reload()["NetworkSettings"]["Networks"]
    attached = web.reload()["NetworkSettings"]["Networks"][network.name]
    assert {"web", "api"} <= set(attached["Aliases"])


def test_disconnect_from_every_network_partitions_it(web_container: Any, http: Any, state_root: Path) -> None:
    web = web_container()
    with _injector(state_root, container=web.name, action="disconnect"):
        assert web.reload()["NetworkSettings"]["Networks"] == {}
        with pytest.raises(httpx.HTTPError):
            http.status(web.port, timeout=1.0)
    assert list(web.reload()["NetworkSettings"]["Networks"]) == ["bridge"]
    assert http.wait(web.port, 10)  # the published port comes back with the bridge endpoint


def test_a_label_selects_a_group(web_container: Any, http: Any, state_root: Path) -> None:
    group = f"g{uuid.uuid4().hex[:8]}"
    first, second = (
        web_container(labels={"chaosgate.test.group": group}),
        web_container(labels={"chaosgate.test.group": group}),
    )
    with _injector(state_root, label=f"chaosgate.test.group={group}", action="pause"):
        assert {first.reload()["State"]["Status"], second.reload()["State"]["Status"]} == {"paused"}
    assert http.status(first.port, timeout=5.0) == http.status(second.port, timeout=5.0) == 200


def test_cleanup_all_undoes_a_killed_run(
    web_container: Any, docker_engine: DockerEngine, state_root: Path
) -> None:
    web = web_container()
    _injector(state_root, "killed-run", container=web.name, action="pause").inject()  # never reverted
    assert len(_records(state_root)) == 1
    done = cleanup_all(docker_engine, state_root)
    assert done == [f"docker: unpaused {web.name}"]
    assert web.reload()["State"]["Status"] == "running"
    assert _records(state_root) == []
    assert UndoLog(undo_dir(state_root)).records() == []


def test_errors_name_what_failed(state_root: Path) -> None:
    with pytest.raises(InjectorError, match="no container named chaosgate-test-missing"):
        _injector(state_root, container="chaosgate-test-missing", action="pause").inject()
    with pytest.raises(InjectorError, match="no container carries the label"):
        _injector(state_root, label=f"chaosgate.test.none={uuid.uuid4().hex}", action="pause").inject()
    with pytest.raises(ComponentMissing, match="engine not reachable"):
        DockerEngine(base_url="unix:///nonexistent/docker.sock", timeout=2)


def test_only_running_containers_are_faulted(web_container: Any, state_root: Path) -> None:
    web = web_container()
    web.container.stop(timeout=2)
    with pytest.raises(InjectorError, match="not running"):
        _injector(state_root, container=web.name, action="stop").inject()
    assert _records(state_root) == []
