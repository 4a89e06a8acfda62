"""A workspace for engine runs: a demo service behind the session's Toxiproxy, and the CLI."""

from __future__ import annotations

import json
import os
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
        return subprocess.Popen(
            [sys.executable, "-m", "chaosgate", *args],
            cwd=self.root,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
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


def latency_scenario(
    *, latency: int | None = 300, at: str = "1500ms", duration: str = "2s"
) -> dict[str, Any]:
    """A scenario on the demo service: optional latency on its proxy, p95 judged in each window."""
    data: dict[str, Any] = {
        "id": "demo-latency",
        "title": "latency on the demo service",
        "target": "demo",
        "steady_state": [{"name": "health", "request": {"path": "/health"}, "expect": {"status": 200}}],
        "observe": "2s",
        "expect": {"before": [{"metric": "p95 < 150ms", "of": "health"}]},
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
        data["expect"]["during"] = [{"metric": "p95 < 150ms", "of": "health", "critical": True}]
        data["expect"]["after"] = [{"metric": "p95 < 150ms", "of": "health", "grace": "500ms"}]
    return data
