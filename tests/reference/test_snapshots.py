"""The in-process list snapshot is exactly as fresh as PostgreSQL: changes made behind the API's
back (another process, direct SQL) invalidate it through NOTIFY."""

from __future__ import annotations

import uuid

import httpx
from prism_stack import PrismStack, wait_until


def _ids(api: httpx.Client, prism: PrismStack) -> set[str]:
    response = api.get("/api/v1/agents", params={"limit": 500}, headers=prism.headers("viewer"))
    assert response.status_code == 200
    assert response.headers["x-data-freshness"] == "fresh"
    return {item["id"] for item in response.json()["items"]}


def test_direct_database_writes_invalidate_the_snapshot(prism: PrismStack, api: httpx.Client) -> None:
    before = _ids(api, prism)
    assert _ids(api, prism) == before  # the second read may come from the snapshot
    agent_id = uuid.uuid4()
    prism.query(
        "INSERT INTO agents (id, name, config, created_at, updated_at) VALUES ($1, 'behind-the-back',"
        ' \'{"heartbeat_interval_seconds": 30, "log_level": "info", "max_concurrent_tasks": 4, "tags": [],'
        ' "task_timeout_seconds": 300}\', now(), now())',
        agent_id,
    )
    try:
        assert wait_until(lambda: str(agent_id) in _ids(api, prism), 1.0), (
            "the snapshot hid a committed agent"
        )
    finally:
        prism.query("DELETE FROM agents WHERE id = $1", agent_id)
    assert wait_until(lambda: str(agent_id) not in _ids(api, prism), 1.0), "the snapshot kept a deleted agent"


def test_snapshot_hits_are_counted_under_the_route(prism: PrismStack, api: httpx.Client) -> None:
    for _ in range(5):
        _ids(api, prism)
    metrics = api.get("/metrics").text
    assert 'prism_http_requests_total{method="GET",route="/api/v1/agents",status="200"}' in metrics
