"""Agents in normal operation: every endpoint's normal response, 404 and 422 envelopes."""

from __future__ import annotations

import uuid

import httpx
from prism_stack import PrismStack, assert_envelope


def _create(prism: PrismStack, api: httpx.Client, name: str, **extra: object) -> dict[str, object]:
    response = api.post("/api/v1/agents", json={"name": name, **extra}, headers=prism.headers("operator"))
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/api/v1/agents/{response.json()['id']}"
    return dict(response.json())


def test_create_get_list(prism: PrismStack, api: httpx.Client) -> None:
    agent = _create(prism, api, "alpha-1", capabilities=["gpu", "linux"], version="1.2.3")
    assert agent["status"] == "registered"
    assert agent["sync_state"] == "synced"
    assert agent["config"]["max_concurrent_tasks"] == 4

    one = api.get(f"/api/v1/agents/{agent['id']}", headers=prism.headers("viewer"))
    assert one.status_code == 200
    assert one.headers["x-data-freshness"] == "fresh"
    assert one.json()["capabilities"] == ["gpu", "linux"]

    listing = api.get("/api/v1/agents", params={"limit": 500}, headers=prism.headers("viewer"))
    assert listing.status_code == 200
    assert listing.headers["x-data-freshness"] == "fresh"
    assert "age" not in listing.headers
    body = listing.json()
    assert body["freshness"] == "fresh"
    assert agent["id"] in {item["id"] for item in body["items"]}

    rows = prism.query("SELECT name, capabilities FROM agents WHERE id = $1", uuid.UUID(str(agent["id"])))
    assert rows == [{"name": "alpha-1", "capabilities": ["gpu", "linux"]}]


def test_config_get_and_put(prism: PrismStack, api: httpx.Client) -> None:
    agent = _create(prism, api, "configurable")
    path = f"/api/v1/agents/{agent['id']}/config"
    current = api.get(path, headers=prism.headers("viewer"))
    assert current.status_code == 200
    assert current.json()["config_version"] == 1
    new_config = {
        "heartbeat_interval_seconds": 10,
        "max_concurrent_tasks": 8,
        "task_timeout_seconds": 60,
        "log_level": "debug",
        "tags": ["edge"],
    }
    updated = api.put(path, json=new_config, headers=prism.headers("operator"))
    assert updated.status_code == 200, updated.text
    assert updated.json()["config"] == new_config
    assert updated.json()["config_version"] == 2
    assert api.get(path, headers=prism.headers("viewer")).json()["config"] == new_config


def test_invalid_config_is_422_with_per_field_fixes(prism: PrismStack, api: httpx.Client) -> None:
    agent = _create(prism, api, "strict-config")
    bad = {
        "heartbeat_interval_seconds": 1,
        "max_concurent_tasks": 3,
        "task_timeout_seconds": "60",
        "log_level": "loud",
    }
    response = api.put(f"/api/v1/agents/{agent['id']}/config", json=bad, headers=prism.headers("operator"))
    error = assert_envelope(response, 422, "validation")
    details = {detail["field"]: detail for detail in error["details"]}
    assert details["body.heartbeat_interval_seconds"]["suggested_value"] == 5
    assert "did you mean `max_concurrent_tasks`" in details["body.max_concurent_tasks"]["suggestion"]
    assert details["body.task_timeout_seconds"]["suggested_value"] == 60
    assert "info" in details["body.log_level"]["suggestion"]
    assert all(detail["suggestion"] for detail in error["details"])
    assert (
        prism.query("SELECT config_version FROM agents WHERE id = $1", uuid.UUID(str(agent["id"])))[0][
            "config_version"
        ]
        == 1
    )


def test_heartbeat_updates_status(prism: PrismStack, api: httpx.Client) -> None:
    agent = _create(prism, api, "beating")
    beat = {"status": "busy", "cpu_percent": 42.5, "memory_percent": 10, "active_tasks": 2}
    response = api.post(
        f"/api/v1/agents/{agent['id']}/heartbeat", json=beat, headers=prism.headers("operator")
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "busy"
    assert response.json()["next_heartbeat_due_seconds"] == 30
    got = api.get(f"/api/v1/agents/{agent['id']}", headers=prism.headers("viewer")).json()
    assert got["status"] == "busy"
    assert got["last_heartbeat_at"] is not None


def test_delete_then_404(prism: PrismStack, api: httpx.Client) -> None:
    agent = _create(prism, api, "short-lived")
    assert api.delete(f"/api/v1/agents/{agent['id']}", headers=prism.headers("admin")).status_code == 204
    gone = assert_envelope(api.get(f"/api/v1/agents/{agent['id']}", headers=prism.headers("viewer")), 404)
    assert gone["code"] == "agent_not_found"
    assert_envelope(api.delete(f"/api/v1/agents/{agent['id']}", headers=prism.headers("admin")), 404)


def test_unknown_agent_is_404_everywhere(prism: PrismStack, api: httpx.Client) -> None:
    missing = uuid.uuid4()
    viewer, operator = prism.headers("viewer"), prism.headers("operator")
    assert_envelope(api.get(f"/api/v1/agents/{missing}", headers=viewer), 404, "not_found")
    assert_envelope(api.get(f"/api/v1/agents/{missing}/config", headers=viewer), 404, "not_found")
    assert_envelope(api.put(f"/api/v1/agents/{missing}/config", json={}, headers=operator), 404, "not_found")
    beat = {"status": "online", "cpu_percent": 1, "memory_percent": 1}
    assert_envelope(api.post(f"/api/v1/agents/{missing}/heartbeat", json=beat, headers=operator), 404)


def test_invalid_inputs_are_422(prism: PrismStack, api: httpx.Client) -> None:
    operator = prism.headers("operator")
    assert_envelope(api.get("/api/v1/agents/not-a-uuid", headers=operator), 422, "validation")
    assert_envelope(api.get("/api/v1/agents", params={"limit": 0}, headers=operator), 422)
    bad_name = api.post("/api/v1/agents", json={"name": "has spaces!"}, headers=operator)
    assert assert_envelope(bad_name, 422)["details"][0]["type"] == "string_pattern_mismatch"
    not_json = api.post(
        "/api/v1/agents", content=b"{nope", headers={**operator, "content-type": "application/json"}
    )
    assert assert_envelope(not_json, 422)["details"][0]["type"] == "json_invalid"
    coerced = api.post("/api/v1/agents", json={"name": "x", "capabilities": "gpu"}, headers=operator)
    assert_envelope(coerced, 422)
