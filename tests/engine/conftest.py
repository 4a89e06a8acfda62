"""A workspace for engine runs: a demo service behind the session's Toxiproxy, and the CLI."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaosgate.ports import free_port
from chaosgate.processes import ManagedProcess
from injectors.toxiproxy.client import ToxiproxyClient

DEMO = Path(__file__).resolve().parents[1] / "support" / "demo_service.py"


@pytest.fixture(scope="session")
def demo_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    with ManagedProcess(
        "demo-service",
        [sys.executable, str(DEMO), str(port)],
        port=port,
        log_dir=tmp_path_factory.mktemp("demo"),
    ):
        yield f"http://127.0.0.1:{port}"


@dataclass
class Workspace:
    """A folder with targets/, scenarios, an out/ folder and a private state dir."""

    root: Path
    toxiproxy_url: str

    @property
    def out(self) -> Path:
        return self.root / "out"

    @property
    def state(self) -> Path:
        return self.root / "state"

    def target(self, name: str, **spec: Any) -> None:
        (self.root / "targets").mkdir(exist_ok=True)
        (self.root / "targets" / f"{name}.yaml").write_text(yaml.safe_dump(spec))

    def scenario(self, name: str, data: dict[str, Any]) -> Path:
        path = self.root / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    def env(self) -> dict[str, str]:
        return {**os.environ, "CHAOSGATE_STATE_DIR": str(self.state)}

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "chaosgate", *args],
            cwd=self.root,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        """The CLI in its own session, so that `sigkill` can end it with all of its children."""
        return subprocess.Popen(
            [sys.executable, "-m", "chaosgate", *args],
            cwd=self.root,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def run_until_injected(self, scenario: Path, timeout: float = 120.0) -> subprocess.Popen[str]:
        """`chaosgate run scenario` until the journal shows its first FaultInjected event.

        The output goes to `run.log` (a pipe nobody reads could fill and stall
        the run); a run that ends first fails the test with that log.
        """
        log = (self.root / "run.log").open("w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "chaosgate", "run", str(scenario), "--out", "out"],
            cwd=self.root,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(event["event"] == "FaultInjected" for event in self.journal()):
                return proc
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        self.sigkill(proc)
        output = (self.root / "run.log").read_text()
        raise AssertionError(f"no FaultInjected within {timeout}s (exit {proc.returncode}):\n{output}")

    @staticmethod
    def sigkill(proc: subprocess.Popen[str]) -> None:
        """SIGKILL the run's whole process group: nothing of it gets to revert anything."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def cleanup(self, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """`chaosgate cleanup` on this workspace's state dir (and its Toxiproxy server)."""
        command = ["cleanup", "--state-dir", str(self.state), "--toxiproxy", self.toxiproxy_url, *extra]
        return subprocess.run(
            [sys.executable, "-m", "chaosgate", *command],
            cwd=self.root,
            env=env or self.env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def results(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.out / "results.json").read_text())
        return data

    def journal(self) -> list[dict[str, Any]]:
        path = self.out / "journal.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def wait_for_event(self, kind: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.journal():
                if event["event"] == kind:
                    return event
            time.sleep(0.1)
        raise AssertionError(f"no {kind} event in the journal within {timeout}s")

    def chaosgate_leftovers(self) -> list[str]:
        """Every proxy or toxic chaosgate created that is still on the Toxiproxy server."""
        left = []
        with ToxiproxyClient(self.toxiproxy_url) as client:
            for name, proxy in client.list_proxies().items():
                if name.startswith("chaosgate"):
                    left.append(f"proxy {name}")
                left += [
                    f"toxic {t.name} on {name}"
                    for t in client.list_toxics(name)
                    if t.name.startswith("chaosgate")
                ]
                if not proxy.enabled:
                    left.append(f"disabled proxy {name}")
        return left


@pytest.fixture
def workspace(tmp_path: Path, demo_service: str, toxiproxy_url: str) -> Workspace:
    space = Workspace(tmp_path, toxiproxy_url)
    space.target("demo", kind="url", base_url=demo_service, toxiproxy_url=toxiproxy_url)
    return space


# The steady-state latency gates of the default profile, loosened to what a busy 2-core CI machine
# keeps: a test's verdict must come from the injected effect, never from how fast the machine is.
RELAXED_SLA = {"profile": "default", "targets": ["p95 < 2s", "p99 < 3s"]}


def latency_scenario(
    *, latency: int | None = 2500, at: str = "1500ms", duration: str = "4s", threshold: str = "2s"
) -> dict[str, Any]:
    """A scenario on the demo service: optional latency on its proxy, p95 < `threshold` in each window.

    The fault lasts longer than the latency: its revert releases whatever the proxy holds back,
    so only requests sent early enough in the window see the whole of it.
    """
    data: dict[str, Any] = {
        "id": "demo-latency",
        "title": "latency on the demo service",
        "target": "demo",
        "steady_state": [{"name": "health", "request": {"path": "/health"}, "expect": {"status": 200}}],
        "observe": "2s",
        "expect": {"before": [{"metric": f"p95 < {threshold}", "of": "health"}]},
        "sla": RELAXED_SLA,
    }
    if latency is not None:
        data["faults"] = [
            {
                "name": "lag",
                "injector": "toxiproxy",
                "proxy": "api",
                "toxic": {"type": "latency", "attributes": {"latency": latency}},
                "at": at,
                "for": duration,
            }
        ]
        data["expect"]["during"] = [{"metric": f"p95 < {threshold}", "of": "health", "critical": True}]
        data["expect"]["after"] = [{"metric": f"p95 < {threshold}", "of": "health", "grace": "500ms"}]
    return data
