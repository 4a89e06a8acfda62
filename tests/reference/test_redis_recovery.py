"""Redis coming back after an outage, against the real stack.

Replay protection must not forget a nonce it accepted while Redis was out,
and the connections the pool held through the outage must not fail the
first calls once Redis answers again (each such failure counts against the
breaker and turns health back to degraded right after recovery).
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from prism_stack import REDIS_PROXY, PrismStack, assert_envelope, proxy_down, wait_until

CONCURRENCY = 8


def _redis_breaker(api: httpx.Client) -> dict[str, Any]:
    breakers = api.get("/api/v1/system/circuit-breakers").json()["breakers"]
    return next(b for b in breakers if b["name"] == "redis")


def _wait_redis_back(prism: PrismStack, api: httpx.Client) -> None:
    """Until the redis breaker is closed again and health says healthy: Redis is in use again."""
    assert wait_until(lambda: _redis_breaker(api)["state"] == "closed", 15.0), _redis_breaker(api)
    prism.wait_healthy()


def _many_redis_calls(prism: PrismStack, rounds: int) -> list[int]:
    """Statuses of `rounds` × CONCURRENCY health checks sent CONCURRENCY at a time (each pings Redis),
    so the API's pool holds several connections at once."""

    def one(_: int) -> int:
        with prism.client() as client:
            return client.get("/api/v1/system/health").status_code

    statuses: list[int] = []
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        for _ in range(rounds):
            statuses += list(pool.map(one, range(CONCURRENCY)))
    return statuses


def test_a_nonce_accepted_while_redis_was_down_is_a_replay_once_redis_is_back(
    prism: PrismStack, api: httpx.Client
) -> None:
    headers = {
        **prism.headers("operator"),
        "X-Request-Nonce": uuid.uuid4().hex,
        "X-Request-Timestamp": str(int(time.time())),
    }
    name = f"nonce-across-outage-{uuid.uuid4().hex[:8]}"
    with proxy_down(prism, REDIS_PROXY):
        first = api.post("/api/v1/agents", json={"name": name}, headers=headers)
        assert first.status_code == 201, first.text
    _wait_redis_back(prism, api)
    replay = api.post("/api/v1/agents", json={"name": name}, headers=headers)
    assert replay.status_code == 409, f"the nonce was accepted again once Redis was back: {replay.text}"
    assert assert_envelope(replay, 409, "conflict")["code"] == "replay_detected"
    assert prism.query("SELECT count(*) AS n FROM agents WHERE name = $1", name) == [{"n": 1}]


def test_connections_held_through_an_outage_do_not_fail_the_first_calls_after_it(
    prism: PrismStack, api: httpx.Client
) -> None:
    assert set(_many_redis_calls(prism, 2)) == {200}  # the pool now holds several connections
    with proxy_down(prism, REDIS_PROXY):
        assert wait_until(lambda: _redis_breaker(api)["state"] == "open", 10.0), _redis_breaker(api)
    _wait_redis_back(prism, api)
    failures = _redis_breaker(api)["total_failures"]

    statuses = _many_redis_calls(prism, 3)

    breaker = _redis_breaker(api)
    assert breaker["total_failures"] == failures, breaker["last_failure"]
    assert set(statuses) == {200}, statuses
