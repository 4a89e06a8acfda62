"""The `reference` target, Docker runtime: locally built images, one network, Toxiproxy as a container.

The images are built on first use (about 3 minutes from nothing, mostly
debootstrap; ``ci/install.sh`` builds them ahead) and found by content hash
afterwards, so a second build is a lookup.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from injectors.toxiproxy.client import ToxiproxyClient
from targets.reference.images import ImageSet, ensure_images
from tests.targets.conftest import (
    assert_nothing_left,
    chaosgate,
    docker,
    records,
    reference,
    timed_get,
    token,
)

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def images() -> ImageSet:
    return ensure_images()


def test_a_second_image_build_is_a_lookup(images: ImageSet) -> None:
    started = time.monotonic()
    assert ensure_images() == images
    assert time.monotonic() - started < 10
    labels = json.loads(docker("image", "inspect", images.api, "--format", "{{json .Config.Labels}}"))
    assert labels["chaosgate.image"] == "api"


def test_docker_stack_serves_fails_over_on_a_paused_database_and_leaves_nothing(
    images: ImageSet, state_dir: Path
) -> None:
    target = reference(state_dir, "reference-docker")
    try:
        deployment = target.up()
        resources = deployment.resources
        record = records(state_dir)[0]
        assert resources["runtime"] == "docker"
        names = {role: resources[f"container:{role}"] for role in ("postgres", "redis", "api", "toxiproxy")}
        inspected = json.loads(docker("inspect", *names.values()))
        assert {c["Config"]["Image"] for c in inspected} == {
            images.postgres,
            images.redis,
            images.api,
            images.toxiproxy,
        }
        for container in inspected:
            assert container["Config"]["Labels"]["chaosgate.stack"] == record["stack"]
            assert list(container["NetworkSettings"]["Networks"]) == [resources["network"]]
            for bindings in container["NetworkSettings"]["Ports"].values():
                assert all(b["HostIp"] == "127.0.0.1" for b in bindings or [])

        viewer = {"Authorization": f"Bearer {token(deployment.base_url)}"}
        operator = {"Authorization": f"Bearer {token(deployment.base_url, 'operator')}"}
        with httpx.Client(base_url=deployment.base_url, timeout=10, trust_env=False) as client:
            assert client.get("/api/v1/system/health").json()["status"] == "healthy"
            with ToxiproxyClient(deployment.resources["toxiproxy"]) as toxiproxy:
                toxiproxy.add_toxic("api", name="test_latency", type="latency", attributes={"latency": 300})
                slowed = min(timed_get(client, "/api/v1/system/health") for _ in range(3))
                toxiproxy.remove_toxic("api", "test_latency")
            assert slowed >= 0.3

            assert client.post("/api/v1/agents", json={"name": "cached"}, headers=operator).status_code == 201
            time.sleep(1.1)  # the list cache refreshes at most once a second
            fresh = client.get("/api/v1/agents", headers=viewer)
            assert fresh.headers["x-data-freshness"] == "fresh"
            docker("pause", names["postgres"])
            try:
                # A page confirmed by the database within the last 0.5 s may still be served
                # as fresh (reference_impl/README.md); within 2 s it must be the cached, stale one.
                started = time.monotonic()
                stale = client.get("/api/v1/agents", headers=viewer)
                while stale.headers.get("x-data-freshness") == "fresh" and time.monotonic() - started < 2.0:
                    time.sleep(0.05)
                    stale = client.get("/api/v1/agents", headers=viewer)
                assert time.monotonic() - started < 2.0
                assert stale.status_code == 200, stale.text
                assert stale.headers["x-data-freshness"] == "stale"
                assert "age" in stale.headers
                assert [a["id"] for a in stale.json()["items"]] == [a["id"] for a in fresh.json()["items"]]
                assert client.get("/api/v1/system/health").status_code == 503
            finally:
                docker("unpause", names["postgres"])
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if client.get("/api/v1/agents", headers=viewer).headers.get("x-data-freshness") == "fresh":
                    break
                time.sleep(0.2)
            else:
                pytest.fail("the list did not become fresh within 10 s of the unpause")
        docker("pause", names["redis"])  # down() must remove a paused container too
    finally:
        target.down()
    assert_nothing_left(record, {record["components"]["wsproxy"]["pid"]})


def test_target_up_docker_then_runs_attach_and_cleanup_removes_it(images: ImageSet, state_dir: Path) -> None:
    up = chaosgate(
        "target", "up", "reference", "--runtime", "docker", "--state-dir", str(state_dir), "--json"
    )
    assert up.returncode == 0, up.stderr
    printed = json.loads(up.stdout)
    record = records(state_dir)[0]
    assert printed["resources"]["container:postgres"] == f"chaosgate-{record['stack']}-postgres"
    run = reference(state_dir)  # the process-runtime file: attaches to the detached docker stack by name
    assert run.up().resources["runtime"] == "docker"
    run.down()
    assert docker("ps", "-q", "--filter", f"label=chaosgate.stack={record['stack']}") != ""
    cleaned = chaosgate("cleanup", "--state-dir", str(state_dir))
    assert cleaned.returncode == 0, cleaned.stderr
    assert f"removed network chaosgate-{record['stack']}" in cleaned.stdout
    assert_nothing_left(record, {record["components"]["wsproxy"]["pid"]})
