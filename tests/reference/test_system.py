"""Operational endpoints, the error envelope on framework errors, and the OpenAPI contract."""

from __future__ import annotations

import http.client
import threading
import time

import httpx
from prism_stack import PrismStack, assert_envelope

ENVELOPE_REF = "#/components/schemas/ErrorEnvelope"


def test_health_reports_every_subsystem_and_capability(api: httpx.Client) -> None:
    response = api.get("/api/v1/system/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert {s["name"]: s["status"] for s in body["subsystems"]} == {
        "postgresql": "healthy",
        "redis": "healthy",
        "offline_queue": "healthy",
        "event_log": "healthy",
        "storage_integrity": "healthy",
    }
    assert all(c["status"] == "available" for c in body["capabilities"])
    assert {"agents.read", "agents.write", "auth.token", "metrics.history"} <= {
        c["name"] for c in body["capabilities"]
    }


def test_circuit_breakers_are_listed_closed(api: httpx.Client) -> None:
    response = api.get("/api/v1/system/circuit-breakers")
    assert response.status_code == 200
    breakers = {b["name"]: b for b in response.json()["breakers"]}
    assert set(breakers) == {"postgresql", "redis"}
    assert all(b["state"] == "closed" and b["retry_after_seconds"] == 0 for b in breakers.values())


def test_queue_status_is_empty_when_healthy(api: httpx.Client) -> None:
    response = api.get("/api/v1/system/queue")
    assert response.status_code == 200
    assert response.json()["depth"] == 0


def test_prometheus_metrics(api: httpx.Client) -> None:
    api.get("/api/v1/system/health")
    response = api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'prism_http_requests_total{method="GET",route="/api/v1/system/health",status="200"}' in text
    assert 'prism_circuit_breaker_state{dependency="postgresql"} 0' in text
    assert "prism_offline_queue_depth 0" in text
    assert "# TYPE prism_http_request_duration_seconds histogram" in text


def test_unknown_route_gets_the_envelope(api: httpx.Client) -> None:
    error = assert_envelope(api.get("/api/v1/no-such-thing"), 404, "not_found")
    assert "/api/v1/no-such-thing" in error["message"]


def test_wrong_method_gets_the_envelope_with_allow(api: httpx.Client) -> None:
    response = api.patch("/api/v1/system/health")
    assert_envelope(response, 405, "validation")
    assert "GET" in response.headers["allow"]


def test_trailing_slash_is_not_redirected(api: httpx.Client) -> None:
    """Redirects would be undeclared 3xx responses; the schema has no trailing-slash paths."""
    assert_envelope(api.get("/api/v1/system/health/"), 404, "not_found")


def test_openapi_declares_every_error_with_the_envelope(prism: PrismStack, api: httpx.Client) -> None:
    schema = api.get("/openapi.json").json()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    operations = [(path, method, op) for path, item in schema["paths"].items() for method, op in item.items()]
    assert len(operations) >= 12
    for path, method, operation in operations:
        responses = operation["responses"]
        assert "500" in responses, (method, path)
        for status, response in responses.items():
            if int(status) < 400:
                continue
            ref = response["content"]["application/json"]["schema"]["$ref"]
            if path == "/api/v1/system/health" and status == "503":
                assert ref.endswith("/DegradedHealthReport")
            else:
                assert ref == ENVELOPE_REF, (method, path, status)
            if status == "503":
                assert "Retry-After" in response["headers"], (method, path)
            if status == "401":
                assert "WWW-Authenticate" in response["headers"], (method, path)
    agents_get = schema["paths"]["/api/v1/agents"]["get"]["responses"]["200"]
    assert set(agents_get["headers"]) == {"X-Data-Freshness", "Age"}


def test_writes_under_load_do_not_make_health_flap(prism: PrismStack) -> None:
    """Under write load the event outbox and the sync loop hold a backlog for an instant all the time;
    that is normal operation, so health stays 200 `healthy` throughout (it degrades only when a
    backlog has a cause or stalls, see the fault tests)."""
    stop = threading.Event()
    written: list[int] = []
    refused: list[str] = []

    def writer(index: int) -> None:
        with httpx.Client(base_url=prism.base_url, timeout=10) as client:
            count = 0
            while not stop.is_set():
                response = client.post(
                    "/api/v1/agents",
                    json={"name": f"load-{index}-{count}"},
                    headers=prism.headers("operator"),
                )
                if response.status_code not in (201, 202):
                    refused.append(response.text[:300])
                count += 1
            written.append(count)

    writers = [threading.Thread(target=writer, args=(index,)) for index in range(4)]
    for thread in writers:
        thread.start()
    statuses: list[tuple[int, str]] = []
    try:
        with httpx.Client(base_url=prism.base_url, timeout=10) as client:
            deadline = time.monotonic() + 4.0
            while time.monotonic() < deadline:
                response = client.get("/api/v1/system/health")
                statuses.append((response.status_code, response.text[:300]))
                time.sleep(0.02)
    finally:
        stop.set()
        for thread in writers:
            thread.join(timeout=15)
    assert not refused, refused[:3]
    assert sum(written) > 20, written
    degraded = [text for status, text in statuses if status != 200]
    assert not degraded, f"{len(degraded)} of {len(statuses)} health checks degraded: {degraded[:3]}"




def test_an_idle_keep_alive_connection_outlives_a_client_pause(prism: PrismStack) -> None:
    """A client that reuses its pooled connection after a few idle seconds must get an answer, not a
    disconnect: the server's keep-alive timeout has to outlast the idle timeouts in front of it."""
    address, port = prism.base_url.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(address, int(port), timeout=5)
    try:
        connection.request("GET", "/api/v1/system/queue")
        first = connection.getresponse()
        first.read()
        assert first.status == 200
        socket_before = connection.sock
        time.sleep(6.5)  # longer than uvicorn's default keep-alive of 5 s
        connection.request("GET", "/api/v1/system/queue")  # on the same socket: no reconnect
        assert connection.sock is socket_before
        again = connection.getresponse()
        again.read()
        assert again.status == 200
    finally:
        connection.close()
