"""`Injector.cleanup(context)` undoes what a SIGKILLed run left behind, for every built-in injector.

Each test starts a separate Python process that injects one fault through the
installed entry point and is then killed with SIGKILL before it can revert,
exactly what `chaosgate cleanup` exists for. The cleanup is then called the
way the CLI calls it: the class found through the entry-point group, a
context that carries only the Toxiproxy URL and the state directory.
"""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chaosgate.exceptions import ComponentMissing
from chaosgate.injector import InjectionContext
from chaosgate.plugins import injector_types
from chaosgate.ports import LOOPBACK, free_port
from chaosgate.process_records import ProcessRecord, process_alive
from chaosgate.processes import ManagedProcess
from injectors.toxiproxy import ToxiproxyClient
from injectors.websocket import WsProxyClient
from injectors.websocket.process import WebSocketProxyProcess
from tests.conftest import ContainerFactory, HttpProbe, ProxyFactory, round_trip

ROOT = Path(__file__).resolve().parent.parent

ABANDON = """
import json, sys, time
from pathlib import Path
from chaosgate.injector import InjectionContext
from chaosgate.plugins import injector_types
name, params, context = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
cls = injector_types()[name]
context["state_dir"] = Path(context["state_dir"])
injector = cls(cls.Params.model_validate(params), InjectionContext(**context))
injector.inject()
print("injected", flush=True)
time.sleep(120)
injector.revert()  # never reached: the test kills this process first
"""


def abandon(injector: str, params: dict[str, Any], context: InjectionContext) -> None:
    """Inject in another process, then SIGKILL it: the fault stays, nothing reverts it."""
    ctx = {
        "run_id": context.run_id,
        "state_dir": str(context.state_dir),
        "resources": dict(context.resources),
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", ABANDON, injector, json.dumps(params), json.dumps(ctx)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert proc.stdout is not None
        line = proc.stdout.readline() if ready else ""
        if line.strip() != "injected":
            pytest.fail(f"the injecting process failed: {proc.stderr.read() if proc.stderr else ''}")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert proc.returncode == -signal.SIGKILL


def cleanup(name: str, context: InjectionContext) -> list[str]:
    return injector_types()[name].cleanup(context)


def test_every_injector_has_a_cleanup_hook() -> None:
    names = set(injector_types())
    assert {"toxiproxy", "docker", "websocket", "process"} <= names
    for name in ("toxiproxy", "docker", "websocket", "process"):
        assert "cleanup" in vars(injector_types()[name]), f"{name} inherits the do-nothing cleanup"


# -- toxiproxy ---------------------------------------------------------------------------------------


def test_toxiproxy_cleanup_removes_abandoned_toxics_and_reenables_proxies(
    toxiproxy: ToxiproxyClient, toxiproxy_url: str, make_proxy: ProxyFactory
) -> None:
    slow, slow_port = make_proxy("slow")
    down, down_port = make_proxy("down")
    context = InjectionContext("killed-run", resources={"toxiproxy": toxiproxy_url})
    latency = {"type": "latency", "attributes": {"latency": 2500}}  # beyond the 2 s deadline below
    abandon("toxiproxy", {"proxy": slow, "toxic": latency}, context)
    abandon("toxiproxy", {"proxy": down, "down": True}, context)
    assert round_trip(slow_port, timeout=10.0) >= 2.5
    assert not toxiproxy.get_proxy(down).enabled

    lines = cleanup("toxiproxy", InjectionContext("cleanup", resources={"toxiproxy": toxiproxy_url}))

    assert toxiproxy.list_toxics(slow) == []
    assert toxiproxy.list_toxics(down) == []
    assert toxiproxy.get_proxy(down).enabled
    assert round_trip(slow_port, timeout=5.0) < 2.0
    assert round_trip(down_port, timeout=5.0) >= 0  # answers again; a refused connection raises
    assert any(f"re-enabled proxy {down}" in line for line in lines)
    assert cleanup("toxiproxy", InjectionContext("cleanup", resources={"toxiproxy": toxiproxy_url})) == []


def test_toxiproxy_cleanup_without_a_server_says_so() -> None:
    context = InjectionContext("cleanup", resources={"toxiproxy": f"http://{LOOPBACK}:{free_port()}"})
    with pytest.raises(ComponentMissing):
        cleanup("toxiproxy", context)


# -- docker ------------------------------------------------------------------------------------------


@pytest.mark.docker
def test_docker_cleanup_unpauses_an_abandoned_container(
    web_container: ContainerFactory, http: HttpProbe, state_root: Path
) -> None:
    web = web_container()
    context = InjectionContext("killed-run", state_dir=state_root)
    abandon("docker", {"container": web.name, "action": "pause"}, context)
    assert web.reload()["State"]["Paused"]

    lines = cleanup("docker", InjectionContext("cleanup", state_dir=state_root))

    assert lines == [f"docker: unpaused {web.name}"]
    assert not web.reload()["State"]["Paused"]
    assert http.status(web.port, 2) == 200
    assert cleanup("docker", InjectionContext("cleanup", state_dir=state_root)) == []


def test_docker_cleanup_with_nothing_recorded_does_not_need_the_engine(
    state_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{state_root}/no-engine.sock")
    assert cleanup("docker", InjectionContext("cleanup", state_dir=state_root)) == []


# -- websocket ---------------------------------------------------------------------------------------


@pytest.fixture
def ws_proxy(tmp_path: Path) -> Iterator[WebSocketProxyProcess]:
    with WebSocketProxyProcess("events", f"ws://{LOOPBACK}:{free_port()}", log_dir=tmp_path) as proxy:
        yield proxy


def test_websocket_cleanup_removes_an_abandoned_fault(
    ws_proxy: WebSocketProxyProcess, state_root: Path
) -> None:
    context = InjectionContext("killed-run", state_dir=state_root, resources=ws_proxy.resources)
    abandon("websocket", {"proxy": "events", "fault": {"kind": "silence"}}, context)
    with WsProxyClient(ws_proxy.control_url) as control:
        (left,) = control.list_faults()
        assert left["name"].startswith("chaosgate_killed-run_")
        # The CLI's context names no proxy: the record written before the fault says where it is.
        lines = cleanup("websocket", InjectionContext("cleanup", state_dir=state_root))
        assert lines == [f"websocket: removed fault {left['name']} from {ws_proxy.control_url}"]
        assert control.list_faults() == []
    assert cleanup("websocket", InjectionContext("cleanup", state_dir=state_root)) == []


# -- process -----------------------------------------------------------------------------------------


@pytest.fixture
def local_server(tmp_path: Path) -> Iterator[tuple[ManagedProcess, Path]]:
    port = free_port()
    server = ManagedProcess(
        "web",
        [sys.executable, "-m", "http.server", str(port), "--bind", LOOPBACK],
        port=port,
        log_dir=tmp_path / "logs",
        cwd=tmp_path,
    )
    server.start()
    record = tmp_path / "web.record.json"
    server.write_record(record)
    yield server, record
    server.stop()


def _process_context(record: Path, state_root: Path, run_id: str) -> InjectionContext:
    return InjectionContext(run_id, state_dir=state_root, resources={"process:web": str(record)})


def test_process_cleanup_continues_an_abandoned_stopped_process(
    local_server: tuple[ManagedProcess, Path], state_root: Path, http: HttpProbe
) -> None:
    server, record = local_server
    context = _process_context(record, state_root, "killed-run")
    abandon("process", {"process": "web", "action": "stop"}, context)
    with pytest.raises(httpx.TimeoutException):
        http.status(server.port, 0.5)

    lines = cleanup("process", InjectionContext("cleanup", state_dir=state_root))

    assert lines == [f"process: continued web (process group {ProcessRecord.read(record).pgid})"]
    assert http.status(server.port, 2) == 200


def test_process_cleanup_restarts_an_abandoned_killed_process(
    local_server: tuple[ManagedProcess, Path], state_root: Path, http: HttpProbe
) -> None:
    server, record = local_server
    killed = ProcessRecord.read(record).pid
    context = _process_context(record, state_root, "killed-run")
    abandon("process", {"process": "web", "action": "kill"}, context)
    assert not process_alive(killed)
    with pytest.raises(httpx.ConnectError):
        http.status(server.port, 0.5)

    lines = cleanup("process", InjectionContext("cleanup", state_dir=state_root))

    restarted = ProcessRecord.read(record)
    assert lines == [f"process: started web again (pid {restarted.pid}) on {LOOPBACK}:{server.port}"]
    assert http.status(server.port, 2) == 200
    assert server.pid == restarted.pid != killed
    assert cleanup("process", InjectionContext("cleanup", state_dir=state_root)) == []
    server.stop()
    assert not process_alive(restarted.pid)
    assert not record.exists()


def test_state_directory_defaults_to_the_environment(
    local_server: tuple[ManagedProcess, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    http: HttpProbe,
) -> None:
    server, record = local_server
    monkeypatch.setenv("CHAOSGATE_STATE_DIR", str(tmp_path / "env-state"))
    abandon(
        "process",
        {"process": "web", "action": "stop"},
        InjectionContext("killed-run", resources={"process:web": str(record)}),
    )
    assert list((tmp_path / "env-state" / "process").glob("*.json"))
    assert len(cleanup("process", InjectionContext("cleanup"))) == 1
    assert http.status(server.port, 2) == 200
