"""Handles on the running PRISM stack and helpers shared by the reference tests.

Kept out of ``conftest.py`` so test modules can import the helpers by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from chaosgate.processes import ManagedProcess
from injectors.toxiproxy.client import ToxiproxyClient

POSTGRES_PROXY = "prism_postgres"
REDIS_PROXY = "prism_redis"
DB_TIMEOUT = 0.5
CHAOS_TOKEN = "test-chaos-token-0123456789"
CHAOS_HEADERS = {"X-Chaos-Token": CHAOS_TOKEN}
BREAKER_RESET = 1.0

CREDENTIALS = {
    "viewer": "viewer-dev-secret",
    "operator": "operator-dev-secret",
    "admin": "admin-dev-secret",
}


@dataclass
class PrismStack:
    """Handles on every part of the running stack."""

    base_url: str
    database_url: str  # direct, bypassing Toxiproxy: for checking what really is in PostgreSQL
    toxiproxy: ToxiproxyClient
    api: ManagedProcess
    data_dir: Path
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, timeout: float = 10.0) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=timeout, trust_env=False)

    def token(self, role: str) -> str:
        """A fresh access token for one of the seeded dev clients."""
        with self.client() as client:
            response = client.post(
                "/api/v1/auth/token", json={"client_id": role, "client_secret": CREDENTIALS[role]}
            )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def headers(self, role: str) -> dict[str, str]:
        """Authorization headers for a role; tokens are cached for the session."""
        if role not in self.tokens:
            self.tokens[role] = self.token(role)
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def query(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        """Run SQL directly against PostgreSQL (not through the proxy)."""

        async def run() -> list[dict[str, Any]]:
            connection = await asyncpg.connect(self.database_url, timeout=5)
            try:
                return [dict(row) for row in await connection.fetch(sql, *args, timeout=5)]
            finally:
                await connection.close(timeout=5)

        return asyncio.run(run())

    def inject(self, fault: str, seconds: int = 60, agent_id: str | None = None) -> None:
        """Switch on an internal fault through the chaos hooks (R3.5)."""
        body: dict[str, Any] = {"fault": fault, "duration_seconds": seconds}
        if agent_id is not None:
            body["agent_id"] = agent_id
        with self.client() as client:
            response = client.post("/api/v1/chaos/faults", json=body, headers=CHAOS_HEADERS)
        assert response.status_code == 201, response.text

    def revert_internal_faults(self) -> None:
        with self.client() as client:
            response = client.delete("/api/v1/chaos/faults", headers=CHAOS_HEADERS)
        assert response.status_code == 204, response.text

    def reset_controls(self) -> None:
        """Disengage the kill switch and switch emergency policies off if a test (or the fuzzer) left them."""
        admin = {"Authorization": f"Bearer {self.token('admin')}"}  # fresh: require-reauth may be on
        with self.client() as client:
            policies = client.get("/api/v1/policies", headers=admin)
            assert policies.status_code == 200, policies.text
            for policy in policies.json()["items"]:
                if policy["mode"] != "off" or policy["trigger"] != "database_outage":
                    done = client.put(
                        f"/api/v1/policies/{policy['id']}",
                        json={"mode": "off", "trigger": "database_outage"},
                        headers=admin,
                    )
                    assert done.status_code == 200, done.text
            state = client.get("/api/v1/system/kill-switch", headers=self.headers("admin"))
            assert state.status_code == 200, state.text
            if state.json()["engaged"]:
                done = client.post(
                    "/api/v1/system/kill-switch", json={"engaged": False}, headers=self.headers("admin")
                )
                assert done.status_code == 200, done.text

    def wait_healthy(self, seconds: float = 15.0) -> None:
        """Block until the health endpoint says healthy, or fail after ``seconds``."""
        deadline = time.monotonic() + seconds
        last: str = ""
        with self.client(timeout=3.0) as client:
            while time.monotonic() < deadline:
                try:
                    response = client.get("/api/v1/system/health")
                    if response.status_code == 200:
                        return
                    last = response.text[:500]
                except httpx.HTTPError as error:
                    last = repr(error)
                time.sleep(0.1)
        pytest.fail(f"the API did not become healthy within {seconds}s: {last}")


@contextlib.contextmanager
def toxic(
    prism: PrismStack, proxy: str, kind: str, attributes: dict[str, Any], stream: str = "downstream"
) -> Iterator[None]:
    """A Toxiproxy toxic for the duration of the block; always removed."""
    name = f"test_{kind}_{stream}"
    prism.toxiproxy.add_toxic(proxy, name=name, type=kind, attributes=attributes, stream=stream)  # type: ignore[arg-type]
    try:
        yield
    finally:
        prism.toxiproxy.remove_toxic(proxy, name, missing_ok=True)


@contextlib.contextmanager
def proxy_down(prism: PrismStack, proxy: str) -> Iterator[None]:
    """A proxy disabled (connections dropped, port closed) for the block; always re-enabled."""
    prism.toxiproxy.disable_proxy(proxy)
    try:
        yield
    finally:
        prism.toxiproxy.enable_proxy(proxy)


def wait_until(predicate: Any, seconds: float, interval: float = 0.1) -> Any:
    """Poll ``predicate`` until it returns something truthy; return it, or None after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return None


def assert_envelope(response: httpx.Response, status: int, category: str | None = None) -> dict[str, Any]:
    """The response has ``status`` and a complete error envelope; returns ``error``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    for key in (
        "category",
        "code",
        "incident_id",
        "message",
        "recovery_options",
        "functionality",
        "eta_seconds",
        "occurred_at",
    ):
        assert key in error, f"envelope lacks {key}: {error}"
    assert error["incident_id"].startswith("inc-")
    assert set(error["functionality"]) == {"available", "limited", "unavailable"}
    for option in error["recovery_options"]:
        assert 0.0 <= option["success_probability"] <= 1.0
    if category is not None:
        assert error["category"] == category, error
    return dict(error)
