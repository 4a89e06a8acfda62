"""Offline sync: priorities, vector clocks with last-writer-wins, idempotent replay, 10k-operation batches."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
from prism_stack import POSTGRES_PROXY, PrismStack, assert_envelope, proxy_down


def _op(key: str, clock: dict[str, int], ts: float, priority: str = "normal", **value: Any) -> dict[str, Any]:
    return {
        "op_id": f"op-{uuid.uuid4().hex}",
        "priority": priority,
        "action": "put",
        "key": key,
        "value": value,
        "vector_clock": clock,
        "timestamp": ts,
    }


def _sync(api: httpx.Client, prism: PrismStack, client_id: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
    response = api.post(
        "/api/v1/sync", json={"client_id": client_id, "operations": ops}, headers=prism.headers("operator")
    )
    assert response.status_code == 200, response.text[:2000]
    body: dict[str, Any] = response.json()
    return body


def _record(prism: PrismStack, key: str) -> dict[str, Any]:
    rows = prism.query("SELECT value, vector_clock, origin FROM sync_records WHERE key = $1", key)
    assert len(rows) == 1
    row = rows[0]  # jsonb arrives as text on a plain connection
    return {**row, "value": json.loads(row["value"]), "vector_clock": json.loads(row["vector_clock"])}


def test_priorities_order_processing_and_replay_is_idempotent(prism: PrismStack, api: httpx.Client) -> None:
    base = f"prio-{uuid.uuid4().hex[:8]}"
    now = time.time()
    ops = [
        _op(f"{base}/{priority}", {"a": 1}, now, priority, n=i)
        for i, priority in enumerate(["deferred", "low", "normal", "high", "critical"])
    ]
    report = _sync(api, prism, "device-a", ops)
    assert [r["priority"] for r in report["results"]] == ["critical", "high", "normal", "low", "deferred"]
    assert report["counts"] == {"applied": 5}
    assert report["by_priority"] == dict.fromkeys(["critical", "high", "normal", "low", "deferred"], 1)

    replay = _sync(api, prism, "device-a", ops)
    assert replay["counts"] == {"duplicate": 5}
    assert _record(prism, f"{base}/critical")["value"] == {"n": 4}


def test_vector_clocks_and_last_writer_wins(prism: PrismStack, api: httpx.Client) -> None:
    key = f"doc-{uuid.uuid4().hex[:8]}"
    now = time.time()
    first = _sync(api, prism, "device-a", [_op(key, {"a": 1}, now, v="a1")])
    assert first["results"][0]["outcome"] == "applied"
    # a causally later write (it saw a:1) is applied
    later = _sync(api, prism, "device-a", [_op(key, {"a": 2}, now + 1, v="a2")])
    assert later["results"][0]["outcome"] == "applied"
    # an older write (dominated clock) is superseded, even if its wall clock is newer
    stale = _sync(api, prism, "device-b", [_op(key, {"a": 1}, now + 100, v="stale")])
    assert stale["results"][0]["outcome"] == "superseded"
    assert _record(prism, key)["value"] == {"v": "a2"}
    # concurrent writes: the later timestamp wins, the clocks merge
    lost = _sync(api, prism, "device-b", [_op(key, {"a": 1, "b": 1}, now + 0.5, v="b-early")])
    assert lost["results"][0]["outcome"] == "conflict_lost"
    assert lost["results"][0]["vector_clock"] == {"a": 2, "b": 1}
    won = _sync(api, prism, "device-c", [_op(key, {"a": 1, "c": 1}, now + 50, v="c-late")])
    assert won["results"][0]["outcome"] == "conflict_won"
    stored = _record(prism, key)
    assert stored["value"] == {"v": "c-late"}
    assert stored["vector_clock"] == {"a": 2, "b": 1, "c": 1}
    assert stored["origin"] == "device-c"
    # a write that saw the merged state dominates it
    merged = _sync(api, prism, "device-b", [_op(key, {"a": 2, "b": 2, "c": 1}, now, v="after-merge")])
    assert merged["results"][0]["outcome"] == "applied"


def test_a_batch_of_10000_operations(prism: PrismStack, api: httpx.Client) -> None:
    base = f"bulk-{uuid.uuid4().hex[:8]}"
    priorities = ["critical", "high", "normal", "low", "deferred"]
    now = time.time()
    ops = [
        _op(f"{base}/{i % 2000}", {"d": i // 2000 + 1}, now, priorities[i % 5], i=i) for i in range(10_000)
    ]
    started = time.monotonic()
    report = _sync(api, prism, "bulk-device", ops)
    elapsed = time.monotonic() - started
    assert report["received"] == 10_000
    assert sum(report["counts"].values()) == 10_000
    assert report["by_priority"] == dict.fromkeys(priorities, 2000)
    assert report["counts"]["applied"] == 10_000  # each key's writes carry increasing clocks
    assert elapsed < 20, f"10k operations took {elapsed:.1f}s"
    rows = prism.query("SELECT count(*) AS n FROM sync_records WHERE key LIKE $1", f"{base}/%")
    assert rows == [{"n": 2000}]
    assert _record(prism, f"{base}/0")["value"] == {"i": 8000}
    too_many = api.post(
        "/api/v1/sync",
        json={"client_id": "bulk-device", "operations": [*ops, ops[0]]},
        headers=prism.headers("operator"),
    )
    assert_envelope(too_many, 422, "validation")


def test_sync_during_database_outage_is_503_and_nothing_is_applied(
    prism: PrismStack, api: httpx.Client
) -> None:
    key = f"outage-{uuid.uuid4().hex[:8]}"
    ops = [_op(key, {"a": 1}, time.time(), "critical", v=1)]
    with proxy_down(prism, POSTGRES_PROXY):
        response = api.post(
            "/api/v1/sync",
            json={"client_id": "device-a", "operations": ops},
            headers=prism.headers("operator"),
        )
        assert_envelope(response, 503)
        assert int(response.headers["retry-after"]) >= 1
    prism.wait_healthy()
    assert prism.query("SELECT count(*) AS n FROM sync_records WHERE key = $1", key) == [{"n": 0}]
    assert _sync(api, prism, "device-a", ops)["counts"] == {"applied": 1}
