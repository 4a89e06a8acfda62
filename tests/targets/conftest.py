"""Helpers for the target tests: a private state folder, tokens, and what a stack left running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from chaosgate.process_records import process_alive
from chaosgate.target import Target, load_target

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHAOSGATE = [sys.executable, "-m", "chaosgate"]


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


def reference(state_dir: Path, name: str = "reference") -> Target:
    return load_target(name, run_id=f"test-{uuid.uuid4().hex[:6]}", state_dir=state_dir, cwd=PROJECT_ROOT)


def records(state_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((state_dir / "targets").glob("reference-*.json"))]


def stack_pids(record: dict[str, Any]) -> set[int]:
    """Every host pid a stack record names, including those its process records follow."""
    pids = set()
    for info in record["components"].values():
        if info.get("pid"):
            pids.add(int(info["pid"]))
        if info.get("record") and Path(info["record"]).exists():
            pids.add(int(json.loads(Path(info["record"]).read_text())["pid"]))
    return pids


def listening(port: int) -> bool:
    return any(
        c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port
        for c in psutil.net_connections(kind="tcp")
    )


def assert_nothing_left(record: dict[str, Any], pids: set[int]) -> None:
    """No process, listener, folder, container or network of the stack is left."""
    alive = [pid for pid in pids if process_alive(pid)]
    assert not alive, f"still running: {[psutil.Process(p).cmdline() for p in alive]}"
    ports = [info["port"] for info in record["components"].values() if info.get("port")]
    assert not [port for port in ports if listening(int(port))]
    for path in [*record["paths"], record["dir"]]:
        assert not Path(path).exists(), f"{path} is left"
    stack = record["stack"]
    containers = docker("ps", "-a", "-q", "--filter", f"label=chaosgate.stack={stack}")
    assert containers == "", f"containers left: {containers}"
    if record.get("network"):
        assert docker("network", "ls", "-q", "--filter", f"name={record['network']}") == ""


def docker(*args: str) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip()


def chaosgate(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CHAOSGATE, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        check=False,
    )


def token(base_url: str, role: str = "viewer") -> str:
    response = httpx.post(
        f"{base_url}/api/v1/auth/token",
        json={"client_id": role, "client_secret": f"{role}-dev-secret"},
        timeout=10,
        trust_env=False,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def timed_get(client: httpx.Client, path: str) -> float:
    started = time.monotonic()
    response = client.get(path)
    assert response.status_code == 200, response.text
    return time.monotonic() - started
