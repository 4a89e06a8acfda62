"""R2.2 after a SIGKILL: for every injector kind and docker action, a real `chaosgate run` is
killed mid-fault, the fault is seen still in place on the real component, and `chaosgate
cleanup` (the CLI, same state dir) removes it; a second cleanup finds nothing left behind.

Everything goes through the CLI and is checked on the component itself (the container's
state, the Toxiproxy server, the API's answers, the frame proxy's control API), not through
chaosgate's records (the one exception: the record a failed cleanup names as kept). The
local-process reference stack is left running by `chaosgate target up` so that runs attach to
it; `cleanup` removes it as well, after the faults.

With a backend down (the Docker engine, a Toxiproxy server the target named, the service's
chaos endpoint) cleanup exits 3, says what it could not undo and keeps it for the next try.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chaosgate.ports import LOOPBACK, free_port, wait_for_port
from injectors.docker.client import DockerEngine
from targets.reference.stack import stacks_lock
from tests.conftest import ContainerFactory, HttpProbe, WebContainer
from tests.engine.conftest import Workspace
from tests.test_docker_partition import reach

MiB = 1024 * 1024
Attrs = dict[str, Any]


def left_behind(target: str, fault: dict[str, Any], health: str = "/") -> dict[str, Any]:
    """A scenario whose only fault starts at once and lasts far longer than any test waits."""
    return {
        "id": "left-behind",
        "title": "a fault that a SIGKILL leaves behind",
        "target": target,
        "steady_state": [{"request": {"path": health}, "expect": {"status": 200}}],
        "faults": [{"name": "left", **fault, "at": "500ms", "for": "300s"}],
        "observe": "1s",
    }


def kill_mid_fault(workspace: Workspace, scenario: dict[str, Any]) -> None:
    path = workspace.scenario("left-behind", scenario)
    workspace.sigkill(workspace.run_until_injected(path))


def assert_cleaned(workspace: Workspace, says: str) -> str:
    """The first cleanup exits 0 and says `says`; a second one finds nothing. Returns the first output."""
    first = workspace.cleanup()
    assert first.returncode == 0, first.stdout + first.stderr
    assert says in first.stdout, first.stdout
    again = workspace.cleanup()
    assert again.returncode == 0, again.stdout + again.stderr
    assert "nothing left behind" in again.stdout, again.stdout
    return first.stdout


# -- toxiproxy -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        pytest.param(
            {"toxic": {"type": "latency", "attributes": {"latency": 300}}}, "removed toxic", id="toxic"
        ),
        pytest.param({"down": True}, "re-enabled proxy", id="down"),
    ],
)
def test_toxiproxy_fault_left_by_sigkill_is_cleaned(
    workspace: Workspace, fault: dict[str, Any], says: str
) -> None:
    kill_mid_fault(
        workspace, left_behind("demo", {"injector": "toxiproxy", "proxy": "api", **fault}, "/health")
    )
    left = workspace.chaosgate_leftovers()
    expected = "toxic chaosgate_" if "toxic" in fault else "disabled proxy chaosgate_target_"
    assert any(line.startswith(expected) for line in left), left
    assert_cleaned(workspace, says)
    assert workspace.chaosgate_leftovers() == []


@pytest.fixture
def own_toxiproxy(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A toxiproxy-server that a test may freeze or kill: (its process, its URL)."""
    port = free_port()
    with (tmp_path / "own-toxiproxy.log").open("wb") as log:
        server = subprocess.Popen(
            ["toxiproxy-server", "-host", LOOPBACK, "-port", str(port)], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        assert wait_for_port(LOOPBACK, port, 15), "toxiproxy-server did not listen"
        yield server, f"http://{LOOPBACK}:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(server.pid, signal.SIGCONT)
        server.kill()
        server.wait(timeout=10)


def test_cleanup_with_the_toxiproxy_server_not_answering_exits_3_and_retries(
    workspace: Workspace, demo_service: str, own_toxiproxy: tuple[subprocess.Popen[bytes], str]
) -> None:
    server, url = own_toxiproxy
    workspace.target("elsewhere", kind="url", base_url=demo_service, toxiproxy_url=url)
    latency = {"type": "latency", "attributes": {"latency": 300}}
    kill_mid_fault(
        workspace,
        left_behind("elsewhere", {"injector": "toxiproxy", "proxy": "api", "toxic": latency}, "/health"),
    )
    on_server = Workspace(workspace.root, url)
    assert any(line.startswith("toxic chaosgate_") for line in on_server.chaosgate_leftovers())

    os.kill(server.pid, signal.SIGSTOP)  # it holds its proxies and toxics, but answers nothing
    try:
        failed = workspace.cleanup()
        assert failed.returncode == 3, failed.stdout + failed.stderr
        assert "could not clean up: target url: proxy chaosgate_target_" in failed.stderr
        assert "nothing left behind" not in failed.stdout
        kept = Path(re.findall(r"kept (\S+\.json)", failed.stderr)[0])
        assert kept.exists()
    finally:
        os.kill(server.pid, signal.SIGCONT)
    # with the server answering again, the next cleanup finishes the job and drops the record
    done = workspace.cleanup()
    assert done.returncode == 0, done.stdout + done.stderr
    assert not kept.exists()
    assert on_server.chaosgate_leftovers() == []


def test_cleanup_with_the_toxiproxy_server_gone_exits_3(
    workspace: Workspace, demo_service: str, own_toxiproxy: tuple[subprocess.Popen[bytes], str]
) -> None:
    server, url = own_toxiproxy
    workspace.target("elsewhere", kind="url", base_url=demo_service, toxiproxy_url=url)
    kill_mid_fault(
        workspace,
        left_behind("elsewhere", {"injector": "toxiproxy", "proxy": "api", "down": True}, "/health"),
    )
    server.kill()
    server.wait(timeout=10)

    failed = workspace.cleanup()

    assert failed.returncode == 3, failed.stdout + failed.stderr
    assert "could not clean up: target url: proxy chaosgate_target_" in failed.stderr
    assert "not reachable" in failed.stderr
    assert "Traceback" not in failed.stderr


# -- docker ----------------------------------------------------------------------------------------


def _running(now: Attrs) -> bool:
    return bool(now["State"]["Running"]) and not now["State"]["Paused"]


DOCKER_ACTIONS: dict[str, tuple[dict[str, Any], Callable[[Attrs, Attrs], bool], str]] = {
    # action: (fault parameters, "in place" given the attributes before and now, what cleanup says)
    "pause": ({"action": "pause"}, lambda _, now: bool(now["State"]["Paused"]), "docker: unpaused {name}"),
    "stop": (
        {"action": "stop", "timeout": 1},
        lambda _, now: now["State"]["Status"] == "exited",
        "docker: started {name} again",
    ),
    "kill": (
        {"action": "kill"},
        lambda _, now: now["State"]["Status"] == "exited",
        "docker: started {name} again",
    ),
    "disconnect": (
        {"action": "disconnect"},
        lambda _, now: not now["NetworkSettings"]["Networks"],
        "docker: reconnected {name} to bridge",
    ),
    "limit": (
        {"action": "limit", "memory": "64m", "cpus": 0.5},
        lambda _, now: now["HostConfig"]["Memory"] == 64 * MiB or now["HostConfig"]["CpuQuota"] == 50_000,
        "docker: restored the limits of {name}",
    ),
    # transient: "in place" means it happened (a new start time); cleanup has only the target to remove
    "restart": (
        {"action": "restart", "timeout": 1},
        lambda before, now: now["State"]["StartedAt"] != before["State"]["StartedAt"] and _running(now),
        "url target: removed proxy",
    ),
}


def _box(workspace: Workspace, web: WebContainer) -> None:
    workspace.target(
        "box", kind="url", base_url=f"http://127.0.0.1:{web.port}", toxiproxy_url=workspace.toxiproxy_url
    )


@pytest.mark.docker
@pytest.mark.parametrize("action", list(DOCKER_ACTIONS))
def test_docker_action_left_by_sigkill_is_cleaned(
    workspace: Workspace, web_container: ContainerFactory, http: HttpProbe, action: str
) -> None:
    params, in_place, says = DOCKER_ACTIONS[action]
    web = web_container()
    before = web.reload()
    _box(workspace, web)
    kill_mid_fault(workspace, left_behind("box", {"injector": "docker", "container": web.name, **params}))
    assert in_place(before, web.reload()), f"{action} is not in place after the SIGKILL"

    assert_cleaned(workspace, says.format(name=web.name))

    now = web.reload()
    assert _running(now)
    if action != "restart":
        assert not in_place(before, now), f"{action} is still in place after cleanup"
    assert http.wait(web.port), "the container does not serve again after cleanup"


@pytest.mark.docker
def test_docker_partition_left_by_sigkill_is_cleaned(
    workspace: Workspace, web_container: ContainerFactory
) -> None:
    one, other = web_container(), web_container()
    other_ip = other.reload()["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
    assert reach(one.container, other_ip) == "200"
    _box(workspace, one)
    groups = [[one.name], [other.name]]
    kill_mid_fault(
        workspace, left_behind("box", {"injector": "docker", "action": "partition", "groups": groups})
    )
    assert reach(one.container, other_ip) == "timeout"

    assert_cleaned(workspace, "removed the partition")

    assert reach(one.container, other_ip) == "200"


@pytest.mark.docker
def test_cleanup_with_the_engine_down_exits_3_and_keeps_the_record(
    workspace: Workspace, web_container: ContainerFactory, docker_engine: DockerEngine, http: HttpProbe
) -> None:
    web = web_container()
    _box(workspace, web)
    kill_mid_fault(
        workspace, left_behind("box", {"injector": "docker", "container": web.name, "action": "pause"})
    )

    no_engine = {**workspace.env(), "DOCKER_HOST": f"unix://{workspace.root}/no-engine.sock"}
    failed = workspace.cleanup(env=no_engine)

    assert failed.returncode == 3, failed.stdout + failed.stderr
    assert "could not clean up: docker" in failed.stderr
    assert f"pause of {web.name} not undone" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert "nothing left behind" not in failed.stdout
    assert web.reload()["State"]["Paused"]
    # the record was kept: with the engine back, the next cleanup undoes the pause
    assert_cleaned(workspace, f"docker: unpaused {web.name}")
    assert _running(web.reload())
    assert http.wait(web.port)


# -- the local-process reference stack: process, app, websocket ----------------------------------


@pytest.fixture
def reference(workspace: Workspace) -> Iterator[dict[str, str]]:
    """The reference stack left running in the workspace's state dir; its resources."""
    up = workspace.run("target", "up", "reference", "--json", timeout=300)
    assert up.returncode == 0, up.stdout + up.stderr
    resources: dict[str, str] = json.loads(up.stdout)["resources"]
    yield resources
    workspace.run("target", "down", "reference", timeout=300)


def answers(url: str, timeout: float = 2.0) -> str:
    """`ok`, `timeout` or `refused`: whether a server answers at `url` at all."""
    try:
        httpx.get(url, timeout=timeout, trust_env=False)
    except httpx.TimeoutException:
        return "timeout"
    except httpx.TransportError:
        return "refused"
    return "ok"


def cleanup_checked_before_teardown(workspace: Workspace, undone: Callable[[], bool]) -> str:
    """`chaosgate cleanup` with the check that the fault is gone made while the stack still runs.

    Cleanup undoes faults first, then removes the stack under the stacks' lock;
    holding that lock keeps the stack up until `undone()` has said yes on it.
    Then the cleanup finishes: it must exit 0, and a second one finds nothing.
    """
    with stacks_lock(workspace.state):
        proc = workspace.start(
            "cleanup", "--state-dir", str(workspace.state), "--toxiproxy", workspace.toxiproxy_url
        )
        try:
            deadline = time.monotonic() + 60
            while not undone() and time.monotonic() < deadline:
                time.sleep(0.2)
            assert undone(), "the fault is still in place on the running stack"
        except BaseException:
            workspace.sigkill(proc)
            raise
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stdout + stderr
    again = workspace.cleanup()
    assert again.returncode == 0, again.stdout + again.stderr
    assert "nothing left behind" in again.stdout, again.stdout
    return stdout


def assert_stack_gone(resources: dict[str, str]) -> None:
    assert answers(resources["api_direct_url"]) == "refused"
    assert answers(resources["wsproxy:events"]) == "refused"


HEALTH = "/api/v1/system/health"


@pytest.mark.parametrize(
    ("action", "in_place", "says"),
    [
        pytest.param("stop", "timeout", "process: continued api", id="stop"),
        pytest.param("kill", "refused", "process: started api again", id="kill"),
    ],
)
def test_process_fault_left_by_sigkill_is_cleaned(
    workspace: Workspace, reference: dict[str, str], action: str, in_place: str, says: str
) -> None:
    health = reference["api_direct_url"] + HEALTH
    fault = {"injector": "process", "process": "api", "action": action}
    kill_mid_fault(workspace, left_behind("reference", fault, HEALTH))
    assert answers(health) == in_place

    said = cleanup_checked_before_teardown(workspace, lambda: answers(health) == "ok")

    assert says in said
    assert_stack_gone(reference)


def test_app_fault_left_by_sigkill_is_cleaned(workspace: Workspace, reference: dict[str, str]) -> None:
    faults_url = reference["chaos_url"].rstrip("/") + "/faults"
    headers = {"X-Chaos-Token": reference["chaos_token"]}

    def active() -> list[str]:
        listed = httpx.get(faults_url, headers=headers, timeout=5, trust_env=False)
        assert listed.status_code == 200, listed.text
        return [f["fault"] for f in listed.json()["faults"]]

    fault = {"injector": "app", "fault": "storage_corruption"}
    kill_mid_fault(workspace, left_behind("reference", fault, HEALTH))
    assert active() == ["storage_corruption"]

    said = cleanup_checked_before_teardown(workspace, lambda: active() == [])

    assert "app: reverted storage_corruption" in said
    assert_stack_gone(reference)


def test_app_cleanup_with_the_service_gone_exits_3_until_the_fault_expired(
    workspace: Workspace, reference: dict[str, str]
) -> None:
    expires = 20.0
    fault = {"injector": "app", "fault": "storage_corruption", "expires_after": f"{expires:g}s"}
    kill_mid_fault(workspace, left_behind("reference", fault, HEALTH))
    injected = time.monotonic()
    down = workspace.run("target", "down", "reference")
    assert down.returncode == 0, down.stdout + down.stderr
    assert answers(reference["chaos_url"]) == "refused"

    failed = workspace.cleanup()

    assert time.monotonic() - injected < expires, "too slow to see the fault before it expired"
    assert failed.returncode == 3, failed.stdout + failed.stderr
    assert "could not clean up: app: storage_corruption at" in failed.stderr
    assert "not reverted" in failed.stderr
    assert "nothing left behind" not in failed.stdout
    # Kept, and reported again, until the service would have reverted it by itself.
    time.sleep(max(0.0, injected + expires + 1 - time.monotonic()))
    assert_cleaned(workspace, "storage_corruption had expired by itself")


def test_websocket_fault_left_by_sigkill_is_cleaned(workspace: Workspace, reference: dict[str, str]) -> None:
    control = reference["wsproxy:events"]

    def faults() -> list[str]:
        listed = httpx.get(f"{control}/faults", timeout=5, trust_env=False)
        assert listed.status_code == 200, listed.text
        return [str(f["name"]) for f in listed.json()["faults"]]

    fault = {"injector": "websocket", "proxy": "events", "fault": {"kind": "silence"}}
    kill_mid_fault(workspace, left_behind("reference", fault, HEALTH))
    (left,) = faults()
    assert left.startswith("chaosgate_")

    said = cleanup_checked_before_teardown(workspace, lambda: faults() == [])

    assert f"websocket: removed fault {left}" in said
    assert_stack_gone(reference)  # the frame proxy's process too
