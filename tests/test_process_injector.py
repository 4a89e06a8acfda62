"""The process injector against real local servers (`python -m http.server` on a free loopback port).

Each server is a ManagedProcess that publishes its record, exactly as a target
run as local processes does; the injector finds it through the context's
``process:<name>`` resource and writes its undo records into a private state
directory.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from chaosgate.exceptions import InjectorError
from chaosgate.injector import InjectionContext
from chaosgate.ports import LOOPBACK, free_port
from chaosgate.process_records import ProcessRecord, process_alive, wait_gone
from chaosgate.processes import ManagedProcess
from injectors.process import ProcessInjector, ProcessParams, undo_dir
from tests.conftest import HttpProbe

IGNORES_SIGUSR1 = (
    "import runpy, signal, sys; signal.signal(signal.SIGUSR1, signal.SIG_IGN); "
    "sys.argv = ['http.server', sys.argv[1], '--bind', '127.0.0.1']; "
    "runpy.run_module('http.server', run_name='__main__')"
)


class Web:
    """A local HTTP server with its published record."""

    def __init__(self, tmp_path: Path, argv_tail: list[str] | None = None) -> None:
        self.port = free_port()
        argv = [sys.executable, *(argv_tail or ["-m", "http.server"]), str(self.port)]
        if argv_tail is None:
            argv += ["--bind", LOOPBACK]
        self.process = ManagedProcess("web", argv, port=self.port, log_dir=tmp_path / "logs", cwd=tmp_path)
        self.record_path = tmp_path / "records" / "web.json"
        self.state_root = tmp_path / "state"

    def start(self) -> Web:
        self.process.start()
        self.process.write_record(self.record_path)
        return self

    @property
    def record(self) -> ProcessRecord:
        return ProcessRecord.read(self.record_path)

    def context(self, run_id: str = "proctest") -> InjectionContext:
        return InjectionContext(
            run_id, state_dir=self.state_root, resources={"process:web": str(self.record_path)}
        )

    def injector(self, **params: Any) -> ProcessInjector:
        return ProcessInjector(ProcessParams.model_validate({"process": "web", **params}), self.context())

    def undo_records(self) -> list[Path]:
        return sorted(undo_dir(self.state_root).glob("*.json"))


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Callable[..., Web]]:
    started: list[Web] = []

    def start(argv_tail: list[str] | None = None) -> Web:
        server = Web(tmp_path / f"web{len(started)}", argv_tail).start()
        started.append(server)
        return server

    yield start
    for server in started:
        pid = server.process.pid
        server.process.stop()
        assert pid is None or wait_gone(pid, 5), "the serving process (restarted or not) outlived teardown"


def _refused(port: int) -> bool:
    try:
        HttpProbe.status(port, 0.5)
    except httpx.ConnectError:
        return True
    return False


# -- parameters ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"action": "stop", "signal": "SIGKILL"}, "`signal` does not apply to `stop`"),
        ({"action": "stop", "timeout": 3}, "`timeout` does not apply to `stop`"),
        ({"action": "kill", "timeout": 3}, "`timeout` does not apply to `kill`"),
        ({"action": "terminate", "signal": "SIGINT"}, "`signal` does not apply to `terminate`"),
        ({"action": "kill", "signal": "SIGSTOP"}, "use `action: stop`"),
        ({"action": "kill", "signal": "SIGNOPE"}, "expected a signal"),
        ({"action": "pause"}, "action"),
        ({"action": "stop", "pid": 1}, "pid"),
        ({"action": "stop", "process": ""}, "at least 1 character"),
    ],
)
def test_invalid_parameters_are_validation_errors(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ProcessParams.model_validate({"process": "web", **params})


def test_parameters_are_normalised_and_described() -> None:
    kill = ProcessParams.model_validate({"process": "api", "action": "kill", "signal": 15})
    assert kill.kill_signal == "SIGTERM"
    context = InjectionContext("r")
    described = ProcessInjector(kill, context).describe()
    assert described == "process: kill api with SIGTERM, started again on revert"
    stop = ProcessParams.model_validate({"process": "api", "action": "stop"})
    assert "SIGSTOP" in ProcessInjector(stop, context).describe()


# -- against a real server -------------------------------------------------------------------------


def test_stop_freezes_the_server_and_revert_continues_it(web: Callable[..., Web], http: HttpProbe) -> None:
    server = web()
    injector = server.injector(action="stop")
    injector.inject()
    try:
        assert len(server.undo_records()) == 1  # written before SIGSTOP, for `chaosgate cleanup`
        with pytest.raises(httpx.TimeoutException):
            http.status(server.port, 0.5)
    finally:
        injector.revert()
    assert http.status(server.port, 2) == 200
    assert server.undo_records() == []
    assert "continued web" in injector.last_undo


def test_kill_refuses_connections_and_revert_restarts_on_the_same_port(
    web: Callable[..., Web], http: HttpProbe
) -> None:
    server = web()
    before = server.record
    injector = server.injector(action="kill")
    injector.inject()
    try:
        assert not process_alive(before.pid)
        assert _refused(server.port)
    finally:
        injector.revert()
    after = server.record
    assert http.status(server.port, 2) == 200
    assert after.pid != before.pid
    assert (after.argv, after.cwd, after.port) == (before.argv, before.cwd, before.port)
    assert server.process.pid == after.pid  # the ManagedProcess follows its record
    assert server.process.running()
    assert server.undo_records() == []
    assert injector.last_undo == f"process: started web again (pid {after.pid}) on {LOOPBACK}:{server.port}"


def test_terminate_sends_sigterm_and_revert_restarts(web: Callable[..., Web], http: HttpProbe) -> None:
    server = web()
    injector = server.injector(action="terminate", timeout=5, restart_timeout=10)
    with injector:
        assert _refused(server.port)
    assert http.status(server.port, 2) == 200


def test_a_signal_that_does_not_end_the_process_leaves_nothing_to_restart(
    web: Callable[..., Web], http: HttpProbe
) -> None:
    server = web(["-c", IGNORES_SIGUSR1])
    pid = server.record.pid
    with server.injector(action="kill", signal="usr1") as injector:
        assert http.status(server.port, 2) == 200
    assert "survived SIGUSR1" in injector.last_undo
    assert server.record.pid == pid


def test_a_process_torn_down_before_the_revert_is_not_started_again(web: Callable[..., Web]) -> None:
    server = web()
    injector = server.injector(action="kill")
    injector.inject()
    server.process.stop()  # the target's teardown removes the record
    injector.revert()
    assert "torn down" in injector.last_undo
    assert _refused(server.port)


def test_unknown_or_dead_processes_are_errors(web: Callable[..., Web]) -> None:
    server = web()
    unknown = ProcessParams.model_validate({"process": "nope", "action": "stop"})
    with pytest.raises(InjectorError, match="no process named 'nope'"):
        ProcessInjector(unknown, server.context()).inject()
    server.injector(action="kill").inject()
    with pytest.raises(InjectorError, match="is not running"):
        server.injector(action="stop").inject()  # the record still names the killed pid
