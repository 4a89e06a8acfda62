"""The `reference` target, process runtime: real PostgreSQL, Redis, toxiproxy-server, API and frame proxy."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from chaosgate.exceptions import ScenarioErrors
from chaosgate.injector import InjectionContext
from chaosgate.target import load_target
from injectors.process import ProcessInjector, ProcessParams
from injectors.toxiproxy.client import ToxiproxyClient
from tests.targets.conftest import (
    PROJECT_ROOT,
    assert_nothing_left,
    chaosgate,
    records,
    reference,
    stack_pids,
    timed_get,
    token,
)

EXPECTED_RESOURCES = {
    "proxy:postgres",
    "proxy:redis",
    "proxy:api",
    "process:api",
    "process:postgres",
    "process:redis",
    "wsproxy:events",
    "ws_url:events",
    "chaos_url",
    "chaos_token",
    "api_direct_url",
    "postgres_dsn",
    "redis_url",
}


def test_up_serves_through_the_proxies_and_down_leaves_nothing(state_dir: Path) -> None:
    target = reference(state_dir)
    try:
        deployment = target.up()
        assert set(deployment.resources) >= EXPECTED_RESOURCES
        assert deployment.resources["runtime"] == "process"
        with ToxiproxyClient(deployment.resources["toxiproxy"]) as toxiproxy:
            proxies = toxiproxy.list_proxies()
            assert {deployment.resources[f"proxy:{n}"] for n in ("postgres", "redis", "api")} <= set(proxies)
            assert deployment.base_url.endswith(f":{proxies['api'].listen_port}")
            with httpx.Client(base_url=deployment.base_url, timeout=10, trust_env=False) as client:
                health = client.get("/api/v1/system/health")
                assert health.status_code == 200, health.text
                assert health.json()["status"] == "healthy"
                baseline = min(timed_get(client, "/api/v1/system/health") for _ in range(3))
                toxiproxy.add_toxic("api", name="test_latency", type="latency", attributes={"latency": 300})
                slowed = min(timed_get(client, "/api/v1/system/health") for _ in range(3))
                toxiproxy.remove_toxic("api", "test_latency")
            assert slowed - baseline >= 0.3 * 0.9, (baseline, slowed)

        chaos = httpx.get(
            deployment.resources["chaos_url"] + "/faults",
            timeout=10,
            trust_env=False,
            headers={"X-Chaos-Token": deployment.resources["chaos_token"]},
        )
        assert chaos.status_code == 200, chaos.text
        refused = httpx.get(deployment.resources["chaos_url"] + "/faults", timeout=10, trust_env=False)
        assert refused.status_code == 401

        viewer = token(deployment.base_url)
        with connect(
            deployment.resources["ws_url:events"],
            open_timeout=10,
            additional_headers={"Authorization": f"Bearer {viewer}"},
        ) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "welcome"
    finally:
        record = records(state_dir)[0] if records(state_dir) else None
        pids = stack_pids(record) if record else set()
        target.down()
    assert record is not None
    assert len(pids) == 5
    assert_nothing_left(record, pids)
    assert records(state_dir) == []


def test_the_process_injector_kills_and_restarts_the_api_from_its_record(state_dir: Path) -> None:
    with reference(state_dir) as deployment:
        context = InjectionContext("proc", state_dir=state_dir, resources=deployment.resources)
        injector = ProcessInjector(
            ProcessParams.model_validate({"process": "api", "action": "kill"}), context
        )
        before = json.loads(Path(deployment.resources["process:api"]).read_text())["pid"]
        injector.inject()
        with pytest.raises(httpx.HTTPError):
            httpx.get(
                deployment.resources["api_direct_url"] + "/api/v1/system/health", timeout=2, trust_env=False
            )
        injector.revert()
        after = json.loads(Path(deployment.resources["process:api"]).read_text())["pid"]
        assert after != before
        health = httpx.get(deployment.base_url + "/api/v1/system/health", timeout=10, trust_env=False)
        assert health.status_code in (200, 503)  # up again; dependencies may still be reconnecting
        record = records(state_dir)[0]
    pids = stack_pids(record) | {after}
    assert_nothing_left(record, pids)


def test_target_up_leaves_it_running_runs_attach_and_target_down_removes_it(state_dir: Path) -> None:
    up = chaosgate("target", "up", "reference", "--state-dir", str(state_dir), "--json")
    assert up.returncode == 0, up.stderr
    printed = json.loads(up.stdout)
    record = records(state_dir)[0]
    try:
        assert record["owner"] is None
        assert printed["resources"]["proxy:api"] == "api"
        again = chaosgate("target", "up", "reference", "--state-dir", str(state_dir))
        assert again.returncode == 0, again.stderr
        assert printed["base_url"] in again.stdout
        assert "chaos_token: ******" in again.stdout

        run = reference(state_dir)
        deployment = run.up()
        assert deployment.base_url == printed["base_url"]
        run.down()  # attached: leaves it running
        assert (
            httpx.get(printed["base_url"] + "/api/v1/system/health", timeout=10, trust_env=False).status_code
            == 200
        )
        assert len(records(state_dir)) == 1
    finally:
        down = chaosgate("target", "down", "reference", "--state-dir", str(state_dir))
    assert down.returncode == 0, down.stderr
    assert "stopped api" in down.stdout
    assert_nothing_left(record, stack_pids(record))
    assert chaosgate("target", "down", "reference", "--state-dir", str(state_dir)).stdout.strip() == (
        "reference: nothing running"
    )


def test_cleanup_after_sigkill_of_the_owner_removes_everything(state_dir: Path) -> None:
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from chaosgate.target import load_target
        target = load_target("reference", run_id="killed", state_dir=Path({str(state_dir)!r}))
        print(target.up().base_url, flush=True)
        time.sleep(300)
    """)
    owner = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    try:
        assert owner.stdout is not None
        base_url = owner.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        record = records(state_dir)[0]
        assert record["owner"]["pid"] == owner.pid
        run = reference(state_dir)
        assert run.up().base_url != base_url  # owned by a live run, not detached: not shared
        run.down()
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=10)
    pids = stack_pids(record)
    assert len(pids) == 5
    cleaned = chaosgate("cleanup", "--state-dir", str(state_dir))
    assert cleaned.returncode == 0, cleaned.stderr
    assert f"reference {record['stack']}: stopped postgres" in cleaned.stdout
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and records(state_dir):
        time.sleep(0.1)
    assert_nothing_left(record, pids)


def test_target_files_are_validated(tmp_path: Path, state_dir: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: reference\nruntime: podman\napi_env: {HOME: /tmp}\n")
    with pytest.raises(ScenarioErrors) as caught:
        load_target(str(bad), run_id="x", state_dir=state_dir)
    text = caught.value.render()
    assert "runtime" in text
    assert "only PRISM_* settings" in text
    wrong = chaosgate("target", "up", "reference", "--runtime", "podman", "--state-dir", str(state_dir))
    assert wrong.returncode == 2
    url_target = tmp_path / "elsewhere.yaml"
    url_target.write_text("kind: url\nbase_url: http://127.0.0.1:9\n")
    url = chaosgate("target", "up", str(url_target), "--state-dir", str(state_dir))
    assert url.returncode == 2
    assert "cannot be left running" in url.stderr
