"""Tasks: capability matching (201 / 202 queued then assigned), PII blocking, progress, cancel, 424."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from prism_stack import POSTGRES_PROXY, PrismStack, assert_envelope, proxy_down, wait_until


def _capability() -> str:
    return f"cap{uuid.uuid4().hex[:10]}"


def _agent(prism: PrismStack, api: httpx.Client, capabilities: list[str]) -> str:
    response = api.post(
        "/api/v1/agents",
        json={"name": "worker", "capabilities": capabilities},
        headers=prism.headers("operator"),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _submit(prism: PrismStack, api: httpx.Client, **body: Any) -> httpx.Response:
    return api.post("/api/v1/tasks", json={"type": "scan", **body}, headers=prism.headers("operator"))


def test_task_is_assigned_to_a_capable_agent(prism: PrismStack, api: httpx.Client) -> None:
    capability = _capability()
    agent_id = _agent(prism, api, [capability, "linux"])
    response = _submit(prism, api, required_capabilities=[capability], payload={"target": "build-42"})
    assert response.status_code == 201, response.text
    task = response.json()
    assert task["status"] == "assigned"
    assert task["agent_id"] == agent_id
    assert response.headers["location"] == f"/api/v1/tasks/{task['id']}"
    fetched = api.get(f"/api/v1/tasks/{task['id']}", headers=prism.headers("viewer"))
    assert fetched.status_code == 200
    assert fetched.json() == task
    listed = api.get(
        "/api/v1/tasks", params={"status": "assigned", "limit": 500}, headers=prism.headers("viewer")
    )
    assert task["id"] in {item["id"] for item in listed.json()["items"]}


def test_no_capable_agent_queues_then_assigns(prism: PrismStack, api: httpx.Client) -> None:
    capability = _capability()
    response = _submit(prism, api, required_capabilities=[capability], priority=1)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["task"]["status"] == "queued"
    assert body["capable_agents"] == 0
    assert body["required_capabilities"] == [capability]
    task_id = body["task"]["id"]

    agent_id = _agent(prism, api, [capability])

    def assigned() -> dict[str, Any] | None:
        task = api.get(f"/api/v1/tasks/{task_id}", headers=prism.headers("viewer")).json()
        return task if task["status"] == "assigned" else None

    task = wait_until(assigned, 5.0)
    assert task is not None, "the queued task was not assigned when a capable agent registered"
    assert task["agent_id"] == agent_id


def test_pii_in_payload_is_blocked_and_counted(prism: PrismStack, api: httpx.Client) -> None:
    payload = {
        "contact": "jane.doe@example.com",
        "card": "4111 1111 1111 1111",
        "ssn": "123-45-6789",
        "phone": "+1 415-555-0100",
        "harmless": "build 1234567890123",
    }
    response = _submit(prism, api, payload=payload)
    error = assert_envelope(response, 422, "validation")
    assert error["code"] == "pii_detected"
    found = {(detail["field"], detail["type"]) for detail in error["details"]}
    assert found == {
        ("body.payload.contact", "pii.email"),
        ("body.payload.card", "pii.card_number"),
        ("body.payload.ssn", "pii.national_id"),
        ("body.payload.phone", "pii.phone"),
    }
    assert "jane.doe" not in response.text, "the PII itself must not be echoed"
    metrics = api.get("/metrics").text
    assert 'prism_events_total{event="pii_blocked",label="email"}' in metrics
    assert _submit(prism, api, payload={"harmless": "build 1234567890123"}).status_code in {201, 202}


def test_progress_step_based_then_reported_then_complete(prism: PrismStack, api: httpx.Client) -> None:
    capability = _capability()
    _agent(prism, api, [capability])
    task = _submit(prism, api, required_capabilities=[capability], steps_total=10).json()
    operator, viewer = prism.headers("operator"), prism.headers("viewer")
    path = f"/api/v1/tasks/{task['id']}/progress"

    assert api.post(path, json={"steps_done": 3}, headers=operator).json()["status"] == "running"
    progress = api.get(path, headers=viewer).json()
    assert (progress["method"], progress["percent"], progress["recovery_status"]) == (
        "step_based",
        30.0,
        "ok",
    )

    api.post(path, json={"steps_done": 5, "percent": 55.5}, headers=operator)
    progress = api.get(path, headers=viewer).json()
    assert (progress["method"], progress["percent"], progress["stale"]) == ("reported", 55.5, False)

    done = api.post(path, json={"steps_done": 10, "status": "completed"}, headers=operator).json()
    assert done["status"] == "completed"
    assert done["finished_at"] is not None
    late = api.post(path, json={"steps_done": 10}, headers=operator)
    assert assert_envelope(late, 409, "conflict")["code"] == "task_not_active"
    cancel = api.post(f"/api/v1/tasks/{task['id']}/cancel", headers=operator)
    assert assert_envelope(cancel, 409, "conflict")["code"] == "task_finished"


def test_progress_of_unresponsive_agent_is_last_known_and_stale(prism: PrismStack, api: httpx.Client) -> None:
    capability = _capability()
    agent_id = _agent(prism, api, [capability])
    task = _submit(prism, api, required_capabilities=[capability], steps_total=4).json()
    api.post(
        f"/api/v1/tasks/{task['id']}/progress", json={"steps_done": 1}, headers=prism.headers("operator")
    )
    # The agent goes quiet: its last sign of life is an hour old (far beyond 3 heartbeat intervals).
    prism.query(
        "UPDATE agents SET last_heartbeat_at = now() - interval '1 hour',"
        " created_at = now() - interval '1 hour' WHERE id = $1",
        uuid.UUID(agent_id),
    )
    progress = api.get(f"/api/v1/tasks/{task['id']}/progress", headers=prism.headers("viewer")).json()
    assert progress["recovery_status"] == "agent_unresponsive"
    assert progress["stale"] is True
    assert progress["percent"] == 25.0


def test_cancel_a_queued_task(prism: PrismStack, api: httpx.Client) -> None:
    queued = _submit(prism, api, required_capabilities=[_capability()]).json()["task"]
    response = api.post(f"/api/v1/tasks/{queued['id']}/cancel", headers=prism.headers("operator"))
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"


def test_unknown_task_is_404(prism: PrismStack, api: httpx.Client) -> None:
    missing = uuid.uuid4()
    viewer = prism.headers("viewer")
    assert_envelope(api.get(f"/api/v1/tasks/{missing}", headers=viewer), 404, "not_found")
    assert_envelope(api.get(f"/api/v1/tasks/{missing}/progress", headers=viewer), 404, "not_found")
    assert_envelope(api.post(f"/api/v1/tasks/{missing}/cancel", headers=prism.headers("operator")), 404)


def test_viewer_cannot_submit_tasks(prism: PrismStack, api: httpx.Client) -> None:
    response = api.post("/api/v1/tasks", json={"type": "scan"}, headers=prism.headers("viewer"))
    assert_envelope(response, 403, "authorization")


def test_submission_during_db_partition_is_424_and_stores_nothing(
    prism: PrismStack, api: httpx.Client
) -> None:
    marker = f"marker-{uuid.uuid4().hex[:8]}"
    with proxy_down(prism, POSTGRES_PROXY):
        response = _submit(prism, api, payload={"marker": marker})
        error = assert_envelope(response, 424, "external_dependency")
        assert error["code"] == "task_store_unavailable"
        assert int(response.headers["retry-after"]) >= 1
        assert {option["action"] for option in error["recovery_options"]} >= {"resubmit_after_delay"}
    assert prism.query("SELECT id FROM tasks WHERE payload->>'marker' = $1", marker) == []
