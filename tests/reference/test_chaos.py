"""Internal faults through the chaos control endpoint (R3.5) and the degraded responses they cause:
resource exhaustion (503 + queued), storage corruption (500, writes blocked, recovery), agent busy
(202, applied later), progress calculation failure (step-based)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
from prism_stack import CHAOS_HEADERS, PrismStack, assert_envelope, wait_until

from reference_impl.app import create_app
from reference_impl.settings import Settings


def _agent(prism: PrismStack, api: httpx.Client, **body: Any) -> dict[str, Any]:
    response = api.post(
        "/api/v1/agents", json={"name": "chaos-target", **body}, headers=prism.headers("operator")
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_chaos_endpoint_needs_its_own_token(prism: PrismStack, api: httpx.Client) -> None:
    body = {"fault": "resource_exhaustion", "duration_seconds": 5}
    missing = api.post("/api/v1/chaos/faults", json=body)
    assert assert_envelope(missing, 401, "authentication")["code"] == "chaos_token_invalid"
    assert missing.headers["www-authenticate"].startswith("ChaosToken")
    admin_bearer = api.post("/api/v1/chaos/faults", json=body, headers=prism.headers("admin"))
    assert_envelope(admin_bearer, 401)
    wrong = api.post("/api/v1/chaos/faults", json=body, headers={"X-Chaos-Token": "guess"})
    assert_envelope(wrong, 401)
    assert api.get("/api/v1/chaos/faults", headers=CHAOS_HEADERS).json() == {"faults": []}


def test_faults_are_listed_and_reverted(prism: PrismStack, api: httpx.Client) -> None:
    prism.inject("metrics_calculation_failure", seconds=30)
    faults = api.get("/api/v1/chaos/faults", headers=CHAOS_HEADERS).json()["faults"]
    assert [f["fault"] for f in faults] == ["metrics_calculation_failure"]
    assert 0 < faults[0]["remaining_seconds"] <= 30
    path = "/api/v1/chaos/faults/metrics_calculation_failure"
    assert api.delete(path, headers=CHAOS_HEADERS).status_code == 204
    assert assert_envelope(api.delete(path, headers=CHAOS_HEADERS), 404)["code"] == "fault_not_active"


def test_chaos_routes_do_not_exist_unless_enabled(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path))
    assert not [path for path in app.openapi()["paths"] if "chaos" in path]

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://prism") as client:
            return await client.get("/api/v1/chaos/faults", headers=CHAOS_HEADERS)

    assert_envelope(asyncio.run(call()), 404, "not_found")


def test_resource_exhaustion_is_503_with_retry_after_and_the_agent_is_queued(
    prism: PrismStack, api: httpx.Client
) -> None:
    prism.inject("resource_exhaustion", seconds=2)
    response = api.post("/api/v1/agents", json={"name": "squeezed"}, headers=prism.headers("operator"))
    error = assert_envelope(response, 503, "resource_exhaustion")
    assert error["code"] == "capacity_exhausted"
    assert int(response.headers["retry-after"]) >= 1
    assert error["eta_seconds"] > 0
    agent_id = error["reference"]
    assert response.headers["location"] == f"/api/v1/agents/{agent_id}"
    pending = api.get(f"/api/v1/agents/{agent_id}", headers=prism.headers("viewer")).json()
    assert pending["sync_state"] == "pending_sync"
    assert prism.query("SELECT id FROM agents WHERE id = $1", uuid.UUID(agent_id)) == []

    def created() -> bool:
        return bool(prism.query("SELECT id FROM agents WHERE id = $1", uuid.UUID(agent_id)))

    assert wait_until(created, 10.0), "the queued agent was not created after the exhaustion ended"


def test_storage_corruption_blocks_writes_until_recovery(prism: PrismStack, api: httpx.Client) -> None:
    agent = _agent(prism, api)
    prism.inject("storage_corruption", seconds=60)
    operator = prism.headers("operator")
    first = api.post("/api/v1/agents", json={"name": "doomed"}, headers=operator)
    error = assert_envelope(first, 500, "data_integrity")
    assert error["code"] == "storage_corruption_detected"
    incident = error["incident_id"]
    config = api.put(f"/api/v1/agents/{agent['id']}/config", json={}, headers=operator)
    assert assert_envelope(config, 500, "data_integrity")["incident_id"] == incident
    task = api.post("/api/v1/tasks", json={"type": "scan"}, headers=operator)
    assert assert_envelope(task, 500)["incident_id"] == incident
    assert "agents.write" in error["functionality"]["unavailable"]

    # Reads keep working; health shows the blocked storage.
    assert api.get(f"/api/v1/agents/{agent['id']}", headers=prism.headers("viewer")).status_code == 200
    health = api.get("/api/v1/system/health")
    assert health.status_code == 503
    subsystems = {s["name"]: s for s in health.json()["subsystems"]}
    assert subsystems["storage_integrity"]["status"] == "failed"
    assert incident in subsystems["storage_integrity"]["detail"]

    # The corruption ends: the recovery check unblocks writes by itself.
    assert api.delete("/api/v1/chaos/faults/storage_corruption", headers=CHAOS_HEADERS).status_code == 204
    prism.wait_healthy(seconds=5.0)
    assert api.post("/api/v1/agents", json={"name": "after-recovery"}, headers=operator).status_code == 201


def test_busy_agent_gets_its_config_later(prism: PrismStack, api: httpx.Client) -> None:
    busy = _agent(prism, api)
    idle = _agent(prism, api)
    prism.inject("agent_busy", seconds=60, agent_id=busy["id"])
    operator, viewer = prism.headers("operator"), prism.headers("viewer")
    new_config = {"max_concurrent_tasks": 9}

    parked = api.put(f"/api/v1/agents/{busy['id']}/config", json=new_config, headers=operator)
    assert parked.status_code == 202, parked.text
    assert parked.json()["status"] == "pending_application"
    current = api.get(f"/api/v1/agents/{busy['id']}/config", headers=viewer).json()
    assert current["config"]["max_concurrent_tasks"] == 4
    assert current["pending_config"]["max_concurrent_tasks"] == 9
    assert (
        api.put(f"/api/v1/agents/{idle['id']}/config", json=new_config, headers=operator).status_code == 200
    )

    assert api.delete("/api/v1/chaos/faults/agent_busy", headers=CHAOS_HEADERS).status_code == 204

    def applied() -> dict[str, Any] | None:
        document = api.get(f"/api/v1/agents/{busy['id']}/config", headers=viewer).json()
        return document if document["pending_config"] is None else None

    document = wait_until(applied, 5.0)
    assert document is not None, "the parked configuration was never applied"
    assert document["config"]["max_concurrent_tasks"] == 9
    assert document["config_version"] == 2


def test_progress_calculation_failure_falls_back_to_steps(prism: PrismStack, api: httpx.Client) -> None:
    capability = f"cap{uuid.uuid4().hex[:10]}"
    _agent(prism, api, capabilities=[capability])
    operator, viewer = prism.headers("operator"), prism.headers("viewer")
    task = api.post(
        "/api/v1/tasks",
        json={"type": "scan", "required_capabilities": [capability], "steps_total": 8},
        headers=operator,
    ).json()
    path = f"/api/v1/tasks/{task['id']}/progress"
    api.post(path, json={"steps_done": 2, "percent": 31.0}, headers=operator)
    assert api.get(path, headers=viewer).json()["method"] == "reported"

    prism.inject("metrics_calculation_failure", seconds=30)
    degraded = api.get(path, headers=viewer).json()
    assert (degraded["method"], degraded["percent"]) == ("step_based", 25.0)
    assert degraded["warnings"]
