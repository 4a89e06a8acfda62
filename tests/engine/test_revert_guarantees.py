"""R2.2: every successful inject is reverted on SIGINT and SIGTERM (SIGKILL and `chaosgate
cleanup`: test_cleanup_after_sigkill.py)."""

from __future__ import annotations

import signal
import subprocess

import pytest

from tests.engine.conftest import Workspace, latency_scenario


def long_fault(workspace: Workspace) -> str:
    data = latency_scenario(latency=200, at="500ms", duration="60s")
    return str(workspace.scenario("long", data))


def wait_exit(proc: subprocess.Popen[str], timeout: float = 30) -> int:
    try:
        return proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_mid_fault_reverts_and_reports(
    workspace: Workspace, signum: signal.Signals, code: int
) -> None:
    proc = workspace.start("run", long_fault(workspace), "--out", "out")
    workspace.wait_for_event("FaultInjected")
    assert any(line.startswith("toxic chaosgate_") for line in workspace.chaosgate_leftovers())
    proc.send_signal(signum)
    assert wait_exit(proc) == code
    assert workspace.chaosgate_leftovers() == []
    kinds = [event["event"] for event in workspace.journal()]
    assert "FaultReverted" in kinds
    assert kinds[-1] == "RunFinished"
    results = workspace.results()
    assert results["verdict"]["exit_code"] == code
    assert f"run interrupted by {signum.name}" in results["verdict"]["reasons"]
