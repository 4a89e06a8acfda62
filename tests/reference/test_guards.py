"""Replay protection (nonce + timestamp) and idempotency keys on mutating requests, against the real stack."""

from __future__ import annotations

import time
import uuid

import httpx
from prism_stack import REDIS_PROXY, PrismStack, assert_envelope, proxy_down


def _nonce() -> str:
    return uuid.uuid4().hex


def _signed(prism: PrismStack, nonce: str, timestamp: float | None = None) -> dict[str, str]:
    return {
        **prism.headers("operator"),
        "X-Request-Nonce": nonce,
        "X-Request-Timestamp": str(int(time.time() if timestamp is None else timestamp)),
    }


def test_requests_without_guard_headers_still_work(prism: PrismStack, api: httpx.Client) -> None:
    response = api.post("/api/v1/agents", json={"name": "plain"}, headers=prism.headers("operator"))
    assert response.status_code == 201
    assert "idempotent-replayed" not in response.headers


def test_nonce_is_accepted_once(prism: PrismStack, api: httpx.Client) -> None:
    headers = _signed(prism, _nonce())
    first = api.post("/api/v1/agents", json={"name": "signed"}, headers=headers)
    assert first.status_code == 201, first.text
    replay = api.post("/api/v1/agents", json={"name": "signed"}, headers=headers)
    error = assert_envelope(replay, 409, "conflict")
    assert error["code"] == "replay_detected"
    names = prism.query("SELECT count(*) AS n FROM agents WHERE id = $1", uuid.UUID(first.json()["id"]))
    assert names == [{"n": 1}]


def test_timestamp_outside_the_window_and_incomplete_headers_are_refused(
    prism: PrismStack, api: httpx.Client
) -> None:
    expired = api.post(
        "/api/v1/agents", json={"name": "old"}, headers=_signed(prism, _nonce(), time.time() - 3600)
    )
    assert assert_envelope(expired, 403, "authentication")["code"] == "request_expired"
    future = api.post(
        "/api/v1/agents", json={"name": "new"}, headers=_signed(prism, _nonce(), time.time() + 3600)
    )
    assert assert_envelope(future, 403, "authentication")["code"] == "request_expired"
    half = {**prism.headers("operator"), "X-Request-Nonce": _nonce()}
    incomplete = api.post("/api/v1/agents", json={"name": "half"}, headers=half)
    assert assert_envelope(incomplete, 403)["code"] == "replay_protection_incomplete"
    malformed = {**prism.headers("operator"), "X-Request-Nonce": "short", "X-Request-Timestamp": "1"}
    assert_envelope(api.post("/api/v1/agents", json={"name": "bad"}, headers=malformed), 422, "validation")


def test_replay_protection_keeps_working_while_redis_is_down(prism: PrismStack, api: httpx.Client) -> None:
    with proxy_down(prism, REDIS_PROXY):
        headers = _signed(prism, _nonce())
        first = api.post("/api/v1/agents", json={"name": "no-redis"}, headers=headers)
        assert first.status_code == 201, first.text
        assert_envelope(api.post("/api/v1/agents", json={"name": "no-redis"}, headers=headers), 409)


def test_idempotency_key_same_body_same_response(prism: PrismStack, api: httpx.Client) -> None:
    headers = {**prism.headers("operator"), "Idempotency-Key": f"create-{uuid.uuid4()}"}
    body = {"name": "idempotent", "capabilities": ["gpu"]}
    first = api.post("/api/v1/agents", json=body, headers=headers)
    assert first.status_code == 201
    second = api.post("/api/v1/agents", json=body, headers=headers)
    assert second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["location"] == first.headers["location"]
    assert second.headers["idempotent-replayed"] == "true"
    stored = prism.query("SELECT count(*) AS n FROM agents WHERE id = $1", uuid.UUID(first.json()["id"]))
    assert stored == [{"n": 1}]

    other = api.post("/api/v1/agents", json={**body, "name": "different"}, headers=headers)
    assert assert_envelope(other, 409, "conflict")["code"] == "idempotency_key_reused"
    # the key is per client: the admin's identical key is a different request
    admin = {**prism.headers("admin"), "Idempotency-Key": headers["Idempotency-Key"]}
    fresh = api.post("/api/v1/agents", json=body, headers=admin)
    assert fresh.status_code == 201
    assert fresh.json()["id"] != first.json()["id"]


def test_server_errors_are_not_stored_so_a_retry_runs_again(prism: PrismStack, api: httpx.Client) -> None:
    headers = {**prism.headers("operator"), "Idempotency-Key": f"retry-{uuid.uuid4()}"}
    prism.inject("storage_corruption", 30)
    try:
        failed = api.post("/api/v1/agents", json={"name": "retry-me"}, headers=headers)
        assert_envelope(failed, 500, "data_integrity")
    finally:
        prism.revert_internal_faults()
    prism.wait_healthy()

    def created() -> httpx.Response | None:
        response = api.post("/api/v1/agents", json={"name": "retry-me"}, headers=headers)
        return response if response.status_code == 201 else None

    deadline = time.monotonic() + 10
    retried = None
    while retried is None and time.monotonic() < deadline:
        retried = created()
        time.sleep(0.2)
    assert retried is not None, "the retry after the server fault did not run"
    assert "idempotent-replayed" not in retried.headers


def test_openapi_declares_the_guard(api: httpx.Client) -> None:
    operation = api.get("/openapi.json").json()["paths"]["/api/v1/agents"]["post"]
    names = {parameter["name"]: parameter for parameter in operation["parameters"]}
    assert {"Idempotency-Key", "X-Request-Nonce", "X-Request-Timestamp"} <= set(names)
    assert not any(names[name]["required"] for name in ("Idempotency-Key", "X-Request-Nonce"))
    assert "409" in operation["responses"]
    assert "Idempotent-Replayed" in operation["responses"]["201"]["headers"]
