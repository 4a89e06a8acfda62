"""System metrics (R9 rows 2 and 5), the kill switch and the hash-chained audit trail, under real faults."""

from __future__ import annotations

import time
from typing import Any

import httpx
from prism_stack import (
    POSTGRES_PROXY,
    REDIS_PROXY,
    PrismStack,
    assert_envelope,
    proxy_down,
    wait_until,
)


def _metrics(api: httpx.Client) -> httpx.Response:
    return api.get("/api/v1/system/metrics")


# --- GET /api/v1/system/metrics (row 5) and the partial-metrics 206 (row 2) -------------------------


def test_metrics_normally_complete_with_history(api: httpx.Client) -> None:
    def with_history() -> dict[str, Any] | None:
        body: dict[str, Any] = _metrics(api).json()
        return body if body["historical"]["samples"] else None

    body = wait_until(with_history, 5.0)
    assert body is not None, "the collector wrote no history to Redis"
    response = _metrics(api)
    assert response.status_code == 200
    assert response.headers["x-data-freshness"] == "fresh"
    assert "age" not in response.headers
    body = response.json()
    assert body["status"] == "complete"
    assert body["mode"] == "full"
    assert body["warnings"] == []
    realtime = body["realtime"]
    assert realtime["requests_total"] > 0
    assert realtime["circuit_breakers"] == {"postgresql": "closed", "redis": "closed"}
    assert realtime["latency_p95_ms"] is not None
    assert realtime["latency_p99_ms"] is not None
    assert {"pii_blocked_total", "offline_queue_depth", "db_timeout_percentage"} <= set(realtime)
    assert body["collected"]["stale"] is False
    assert body["historical"]["available"] is True


def test_metrics_store_down_gives_realtime_only(prism: PrismStack, api: httpx.Client) -> None:
    with proxy_down(prism, REDIS_PROXY):
        started = time.monotonic()
        response = _metrics(api)
        assert time.monotonic() - started < 2.0
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["mode"] == "realtime_only"
        assert body["historical"] == {
            "available": False,
            "reason": body["historical"]["reason"],
            "samples": [],
        }
        assert "Redis" in body["historical"]["reason"]
        assert body["realtime"]["requests_total"] > 0
        assert any("real-time" in warning for warning in body["warnings"])
    assert wait_until(lambda: _metrics(api).json()["mode"] == "full", 10.0)


def test_metrics_collection_lag_serves_stale_values(prism: PrismStack, api: httpx.Client) -> None:
    assert wait_until(lambda: _metrics(api).json()["collected"] is not None, 5.0)
    with proxy_down(prism, POSTGRES_PROXY):

        def stale() -> httpx.Response | None:
            response = _metrics(api)
            return response if response.json()["collected"]["stale"] else None

        response = wait_until(stale, 6.0)
        assert response is not None, "collected figures never became stale while PostgreSQL was down"
        assert response.status_code == 200
        assert response.headers["x-data-freshness"] == "stale"
        collected = response.json()["collected"]
        assert collected["age_seconds"] > collected["max_age_seconds"]
        assert int(response.headers["age"]) >= int(collected["max_age_seconds"])
        assert collected["agents_total"] >= 0
        assert any("lagging" in warning for warning in response.json()["warnings"])
    fresh = wait_until(lambda: _metrics(api).headers["x-data-freshness"] == "fresh", 10.0)
    assert fresh, "the metrics did not become fresh after PostgreSQL returned"


def test_calculation_failure_gives_206_with_available_fields(prism: PrismStack, api: httpx.Client) -> None:
    viewer = prism.headers("viewer")
    normal = api.get("/api/v1/agents", headers=viewer)
    assert normal.status_code == 200
    assert normal.json()["metrics"] is not None
    assert normal.json()["warnings"] == []
    prism.inject("metrics_calculation_failure", 30)
    try:
        agents = api.get("/api/v1/agents", headers=viewer)
        assert agents.status_code == 206, agents.text
        assert agents.headers["x-data-freshness"] == "fresh"
        body = agents.json()
        assert body["metrics"] is None
        assert body["warnings"]
        assert len(body["items"]) == len(normal.json()["items"])

        system = _metrics(api)
        assert system.status_code == 206
        report = system.json()
        assert report["status"] == "partial"
        assert report["realtime"]["latency_p95_ms"] is None
        assert report["realtime"]["requests_total"] > 0
        assert any("percentiles" in warning for warning in report["warnings"])
    finally:
        prism.revert_internal_faults()
    assert _metrics(api).status_code == 200


# --- kill switch ---------------------------------------------------------------------------------


def _engage(api: httpx.Client, prism: PrismStack, engaged: bool) -> httpx.Response:
    return api.post(
        "/api/v1/system/kill-switch",
        json={"engaged": engaged, "reason": "test"},
        headers=prism.headers("admin"),
    )


def test_kill_switch_blocks_non_admin_mutations_within_5s(prism: PrismStack, api: httpx.Client) -> None:
    operator, admin = prism.headers("operator"), prism.headers("admin")
    assert api.get("/api/v1/system/kill-switch", headers=prism.headers("viewer")).json()["engaged"] is False
    assert_envelope(
        api.post("/api/v1/system/kill-switch", json={"engaged": True}, headers=operator), 403, "authorization"
    )
    try:
        started = time.monotonic()
        engaged = _engage(api, prism, True)
        assert engaged.status_code == 200, engaged.text
        assert engaged.json()["engaged"] is True
        assert engaged.json()["persisted"] is True

        def blocked() -> httpx.Response | None:
            response = api.post("/api/v1/agents", json={"name": "blocked"}, headers=operator)
            return response if response.status_code == 503 else None

        response = wait_until(blocked, 5.0, interval=0.05)
        elapsed = time.monotonic() - started
        assert response is not None, "non-admin mutations were not blocked within 5 s"
        assert elapsed < 5.0, f"blocked only after {elapsed:.2f}s"
        error = assert_envelope(response, 503, "system_overload")
        assert error["code"] == "kill_switch_engaged"
        assert int(response.headers["retry-after"]) > 0
        assert api.get("/api/v1/agents", headers=operator).status_code == 200  # reads keep working
        assert api.post("/api/v1/agents", json={"name": "by-admin"}, headers=admin).status_code == 201
        stored = prism.query("SELECT engaged, changed_by FROM kill_switch WHERE id = 1")
        assert stored == [{"engaged": True, "changed_by": "admin"}]
    finally:
        assert _engage(api, prism, False).status_code == 200
    assert api.post("/api/v1/agents", json={"name": "after"}, headers=operator).status_code == 201


def test_kill_switch_engages_during_database_outage(prism: PrismStack, api: httpx.Client) -> None:
    try:
        with proxy_down(prism, POSTGRES_PROXY):
            engaged = _engage(api, prism, True)
            assert engaged.status_code == 200, engaged.text
            assert engaged.json()["persisted"] is False
            blocked = api.post("/api/v1/agents", json={"name": "blocked"}, headers=prism.headers("operator"))
            assert_envelope(blocked, 503, "system_overload")
        state = wait_until(
            lambda: api.get("/api/v1/system/kill-switch", headers=prism.headers("viewer")).json()[
                "persisted"
            ],
            10.0,
        )
        assert state, "the kill switch was not written to PostgreSQL after recovery"
        assert prism.query("SELECT engaged FROM kill_switch WHERE id = 1") == [{"engaged": True}]
    finally:
        prism.wait_healthy()
        assert _engage(api, prism, False).status_code == 200


# --- audit trail -----------------------------------------------------------------------------------


def _verify(api: httpx.Client, prism: PrismStack) -> dict[str, Any]:
    response = api.get("/api/v1/audit/verify", headers=prism.headers("admin"))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _all_entries(api: httpx.Client, prism: PrismStack) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    after = 0
    while True:
        page = api.get(
            "/api/v1/audit", params={"after_seq": after, "limit": 500}, headers=prism.headers("admin")
        ).json()
        entries += page["items"]
        if page["next_after_seq"] is None:
            return entries
        after = page["next_after_seq"]


def test_mutations_are_audited_and_the_chain_verifies(prism: PrismStack, api: httpx.Client) -> None:
    name = f"audited-{time.monotonic_ns()}"
    created = api.post("/api/v1/agents", json={"name": name}, headers=prism.headers("operator"))
    assert created.status_code == 201
    path = "/api/v1/agents"

    def recorded() -> dict[str, Any] | None:
        entries = _all_entries(api, prism)
        mine = [e for e in entries if e["actor"] == "operator" and e["path"] == path and e["status"] == 201]
        return mine[-1] if mine else None

    entry = wait_until(recorded, 5.0)
    assert entry is not None, "the mutation was not audited"
    assert entry["role"] == "operator"
    assert entry["method"] == "POST"
    assert len(entry["hash"]) == 64
    assert len(entry["prev_hash"]) == 64
    assert_envelope(api.get("/api/v1/audit", headers=prism.headers("operator")), 403, "authorization")
    verification = _verify(api, prism)
    assert verification["valid"] is True, verification
    assert verification["entries_checked"] >= 1
    assert verification["head_seq"] == verification["known_head_seq"]


def _ensure_entries(api: httpx.Client, prism: PrismStack, count: int) -> list[dict[str, Any]]:
    for index in range(count):
        api.post("/api/v1/agents", json={"name": f"chain-{index}"}, headers=prism.headers("operator"))
    _verify(api, prism)  # flushes pending entries
    return prism.query("SELECT * FROM audit_log ORDER BY seq")


_INSERT = (
    "INSERT INTO audit_log (seq, occurred_at, actor, role, method, path, status, prev_hash, hash)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
)


def _restore(prism: PrismStack, row: dict[str, Any]) -> None:
    prism.query("DELETE FROM audit_log WHERE seq = $1", row["seq"])
    prism.query(
        _INSERT,
        row["seq"],
        row["occurred_at"],
        row["actor"],
        row["role"],
        row["method"],
        row["path"],
        row["status"],
        row["prev_hash"],
        row["hash"],
    )


def test_verify_detects_modified_removed_and_truncated_entries(prism: PrismStack, api: httpx.Client) -> None:
    rows = _ensure_entries(api, prism, 3)
    assert len(rows) >= 3
    assert _verify(api, prism)["valid"] is True
    middle, last = rows[len(rows) // 2], rows[-1]

    prism.query("UPDATE audit_log SET status = 299 WHERE seq = $1", middle["seq"])
    try:
        result = _verify(api, prism)
        assert result["valid"] is False
        assert {"seq": middle["seq"], "kind": "modified"} in [
            {"seq": p["seq"], "kind": p["kind"]} for p in result["problems"]
        ]
    finally:
        _restore(prism, middle)
    assert _verify(api, prism)["valid"] is True

    prism.query("DELETE FROM audit_log WHERE seq = $1", middle["seq"])
    try:
        result = _verify(api, prism)
        assert result["valid"] is False
        assert next(p["kind"] for p in result["problems"]) == "removed"
        assert result["problems"][0]["seq"] == middle["seq"]
    finally:
        _restore(prism, middle)
    assert _verify(api, prism)["valid"] is True

    prism.query("DELETE FROM audit_log WHERE seq = $1", last["seq"])
    try:
        result = _verify(api, prism)
        assert result["valid"] is False
        assert result["problems"] == [
            {"seq": last["seq"], "kind": "truncated", "detail": result["problems"][0]["detail"]}
        ]
    finally:
        _restore(prism, last)
    assert _verify(api, prism)["valid"] is True
