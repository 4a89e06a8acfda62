"""Degraded behaviour under real faults injected through Toxiproxy.

Every fault is real: a ``timeout`` toxic (PostgreSQL's replies never arrive)
or a disabled proxy (connections refused and dropped). Each test removes its
fault in a ``finally`` (the context managers) and the autouse fixture resets
Toxiproxy and waits for health again.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
from prism_stack import (
    BREAKER_RESET,
    POSTGRES_PROXY,
    REDIS_PROXY,
    PrismStack,
    assert_envelope,
    proxy_down,
    toxic,
    wait_until,
)

NO_REPLY = {"timeout": 0}  # Toxiproxy `timeout` toxic with 0: hold the data forever, never close


def _breaker(api: httpx.Client, name: str) -> dict[str, Any]:
    breakers = api.get("/api/v1/system/circuit-breakers").json()["breakers"]
    return next(b for b in breakers if b["name"] == name)


def test_list_is_served_stale_from_cache_during_db_timeout(prism: PrismStack, api: httpx.Client) -> None:
    viewer = prism.headers("viewer")
    created = api.post("/api/v1/agents", json={"name": "cached-one"}, headers=prism.headers("operator"))
    assert created.status_code == 201
    time.sleep(1.1)  # the list cache refreshes at most once a second
    fresh = api.get("/api/v1/agents", params={"limit": 500}, headers=viewer)
    assert fresh.status_code == 200
    assert fresh.headers["x-data-freshness"] == "fresh"
    fresh_ids = {item["id"] for item in fresh.json()["items"]}

    with toxic(prism, POSTGRES_PROXY, "timeout", NO_REPLY):
        # An in-process snapshot confirmed by PostgreSQL within the last 0.5 s may still answer
        # `fresh` right after the fault starts (reference_impl/snapshots.py); then the timeout
        # must be detected and the cache must answer `stale`, all within 2 s.
        started = time.monotonic()

        def went_stale() -> httpx.Response | None:
            response = api.get("/api/v1/agents", params={"limit": 500}, headers=viewer)
            assert response.status_code == 200, response.text
            return response if response.headers["x-data-freshness"] == "stale" else None

        stale = wait_until(went_stale, 2.0, interval=0.05)
        detected = time.monotonic() - started
        assert stale is not None, "the list was not served stale within 2 s of the database timing out"
        assert detected < 2.0, f"the timeout took {detected:.2f}s to detect"
        assert stale.headers["x-data-freshness"] == "stale"
        assert int(stale.headers["age"]) >= 0
        body = stale.json()
        assert body["freshness"] == "stale"
        assert body["cached_at"] is not None
        assert {item["id"] for item in body["items"]} == fresh_ids

        # Enough failures open the breaker; then stale answers come back fast.
        for _ in range(3):
            api.get("/api/v1/agents", params={"limit": 500}, headers=viewer)
        breaker = _breaker(api, "postgresql")
        assert breaker["state"] in {"open", "half_open"}
        fast_started = time.monotonic()
        fast = api.get("/api/v1/agents", params={"limit": 500}, headers=viewer)
        assert fast.status_code == 200
        assert fast.headers["x-data-freshness"] == "stale"
        assert time.monotonic() - fast_started < 2.0
        if breaker["state"] == "open":  # an open breaker answered without trying PostgreSQL
            assert _breaker(api, "postgresql")["rejected_calls"] > breaker["rejected_calls"]

        # A page that was never cached cannot be served: 503 with the envelope.
        uncached = api.get("/api/v1/agents", params={"limit": 7, "offset": 99_999}, headers=viewer)
        error = assert_envelope(uncached, 503)
        assert error["category"] in {"network", "external_dependency"}
        assert int(uncached.headers["retry-after"]) >= 1
        assert "agents.read" in error["functionality"]["limited"]

    def fresh_again() -> bool:
        response = api.get("/api/v1/agents", params={"limit": 500}, headers=viewer)
        return response.status_code == 200 and response.headers["x-data-freshness"] == "fresh"

    assert wait_until(fresh_again, 5.0), "the list did not become fresh within 5 s of removing the toxic"


def test_single_agent_read_falls_back_to_cache(prism: PrismStack, api: httpx.Client) -> None:
    agent = api.post("/api/v1/agents", json={"name": "solo"}, headers=prism.headers("operator")).json()
    with proxy_down(prism, POSTGRES_PROXY):
        response = api.get(f"/api/v1/agents/{agent['id']}", headers=prism.headers("viewer"))
        assert response.status_code == 200, response.text
        assert response.headers["x-data-freshness"] == "stale"
        assert "age" in response.headers
        assert response.json()["name"] == "solo"


def test_writes_during_db_partition_are_queued_and_synced(prism: PrismStack, api: httpx.Client) -> None:
    operator = prism.headers("operator")
    accepted: list[str] = []
    with proxy_down(prism, POSTGRES_PROXY):
        for index in range(8):
            response = api.post("/api/v1/agents", json={"name": f"partitioned-{index}"}, headers=operator)
            assert response.status_code == 202, response.text
            body = response.json()
            assert body["status"] == "pending_sync"
            assert body["eta_seconds"] > 0
            assert response.headers["location"] == f"/api/v1/agents/{body['id']}"
            accepted.append(body["id"])
        queue = api.get("/api/v1/system/queue").json()
        assert queue["depth"] >= len(accepted)
        assert queue["syncing"] is False
        # The accepted agent is readable while it waits (pending_sync), not lost.
        pending = api.get(f"/api/v1/agents/{accepted[0]}", headers=prism.headers("viewer"))
        assert pending.status_code == 200
        assert pending.json()["sync_state"] == "pending_sync"
        rows = prism.query(
            "SELECT id FROM agents WHERE id = ANY($1::uuid[])", [uuid.UUID(a) for a in accepted]
        )
        assert rows == []

    assert wait_until(lambda: api.get("/api/v1/system/queue").json()["depth"] == 0, 10.0), (
        "queue never drained"
    )
    rows = prism.query(
        "SELECT id, name, created_via FROM agents WHERE id = ANY($1::uuid[])",
        [uuid.UUID(a) for a in accepted],
    )
    assert {str(row["id"]) for row in rows} == set(accepted)
    assert {row["created_via"] for row in rows} == {"offline_queue"}
    synced = api.get(f"/api/v1/agents/{accepted[0]}", headers=prism.headers("viewer")).json()
    assert synced["sync_state"] == "synced"


def test_queued_writes_survive_an_api_restart(prism: PrismStack, api: httpx.Client) -> None:
    operator = prism.headers("operator")
    with proxy_down(prism, POSTGRES_PROXY):
        response = api.post("/api/v1/agents", json={"name": "survivor"}, headers=operator)
        assert response.status_code == 202
        agent_id = response.json()["id"]
        prism.api.stop()  # SIGTERM while the agent is only in the local queue
    assert prism.query("SELECT id FROM agents WHERE id = $1", uuid.UUID(agent_id)) == []
    prism.api.start()
    prism.wait_healthy()

    def synced() -> bool:
        return bool(prism.query("SELECT id FROM agents WHERE id = $1", uuid.UUID(agent_id)))

    assert wait_until(synced, 10.0), "the queued agent was lost across the restart"


def test_heartbeat_during_db_partition_is_queued(prism: PrismStack, api: httpx.Client) -> None:
    agent = api.post(
        "/api/v1/agents", json={"name": "beats-offline"}, headers=prism.headers("operator")
    ).json()
    beat = {"status": "degraded", "cpu_percent": 97.0, "memory_percent": 50.0, "active_tasks": 1}
    with proxy_down(prism, POSTGRES_PROXY):
        response = api.post(
            f"/api/v1/agents/{agent['id']}/heartbeat", json=beat, headers=prism.headers("operator")
        )
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "pending_sync"

    def applied() -> bool:
        rows = prism.query("SELECT status FROM agents WHERE id = $1", uuid.UUID(agent["id"]))
        return rows == [{"status": "degraded"}]

    assert wait_until(applied, 10.0)


def test_circuit_breaker_opens_and_closes(prism: PrismStack, api: httpx.Client) -> None:
    viewer = prism.headers("viewer")
    with proxy_down(prism, POSTGRES_PROXY):
        for _ in range(3):
            api.get(f"/api/v1/agents/{uuid.uuid4()}", headers=viewer)
        breaker = _breaker(api, "postgresql")
        assert breaker["state"] == "open"
        assert breaker["times_opened"] >= 1
        assert breaker["last_failure"]
        rejected_before = breaker["rejected_calls"]
        started = time.monotonic()
        rejected = api.get(f"/api/v1/agents/{uuid.uuid4()}/config", headers=viewer)
        assert time.monotonic() - started < 2.0, "an open breaker must fail fast"
        assert_envelope(rejected, 503)
        assert _breaker(api, "postgresql")["rejected_calls"] > rejected_before, "the call reached the pool"
        metrics = api.get("/metrics").text
        assert 'prism_circuit_breaker_state{dependency="postgresql"} 2' in metrics
    closed = wait_until(lambda: _breaker(api, "postgresql")["state"] == "closed", BREAKER_RESET + 4.0)
    assert closed, f"breaker still {_breaker(api, 'postgresql')['state']} after the database returned"


def test_health_is_503_degraded_with_capability_matrix_when_redis_is_down(
    prism: PrismStack, api: httpx.Client
) -> None:
    with proxy_down(prism, REDIS_PROXY):
        response = api.get("/api/v1/system/health")
        assert response.status_code == 503, response.text
        assert int(response.headers["retry-after"]) >= 1
        body = response.json()
        assert body["status"] == "degraded"
        subsystems = {s["name"]: s for s in body["subsystems"]}
        assert subsystems["postgresql"]["status"] == "healthy"
        assert subsystems["redis"]["status"] in {"degraded", "failed"}
        assert subsystems["redis"]["recovery_eta_seconds"] is not None
        capabilities = {c["name"]: c["status"] for c in body["capabilities"]}
        assert capabilities["metrics.history"] == "unavailable"
        assert capabilities["events.stream"] == "limited"
        assert capabilities["agents.read"] == "available"
        error = body["error"]
        assert error["category"] == "external_dependency"
        assert "metrics.history" in error["functionality"]["unavailable"]
        # The API itself keeps serving reads and writes without Redis.
        listing = api.get("/api/v1/agents", headers=prism.headers("viewer"))
        assert listing.status_code == 200
        created = api.post("/api/v1/agents", json={"name": "no-redis"}, headers=prism.headers("operator"))
        assert created.status_code == 201
    prism.wait_healthy(seconds=BREAKER_RESET + 5.0)


def test_health_lists_failed_database_and_limited_capabilities(prism: PrismStack, api: httpx.Client) -> None:
    with proxy_down(prism, POSTGRES_PROXY):
        for _ in range(3):
            api.get("/api/v1/system/health")
        body = api.get("/api/v1/system/health").json()
        assert body["status"] == "degraded"
        subsystems = {s["name"]: s["status"] for s in body["subsystems"]}
        assert subsystems["postgresql"] == "failed"
        capabilities = {c["name"]: c["status"] for c in body["capabilities"]}
        assert capabilities["agents.read"] == "limited"
        assert capabilities["agents.write"] == "limited"
        assert capabilities["agents.config"] == "unavailable"
        assert capabilities["auth.token"] == "unavailable"
        assert capabilities["auth.verify"] == "available"
