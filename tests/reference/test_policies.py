"""Emergency policies: activate on a real database outage, revert on recovery; forced modes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prism_stack import POSTGRES_PROXY, PrismStack, assert_envelope, proxy_down, wait_until

POLICIES = ("lockdown-external-access", "require-reauth", "disable-export")


@pytest.fixture
def external(prism: PrismStack) -> Iterator[httpx.Client]:
    """A client whose source address (127.0.0.2) is outside the stack's trusted network (127.0.0.1/32)."""
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=prism.base_url, transport=transport, timeout=10, trust_env=False) as client:
        yield client


def _set(api: httpx.Client, prism: PrismStack, policy: str, mode: str) -> dict[str, Any]:
    admin = {"Authorization": f"Bearer {prism.token('admin')}"}  # fresh: require-reauth may be active
    response = api.put(f"/api/v1/policies/{policy}", json={"mode": mode}, headers=admin)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _active(api: httpx.Client, prism: PrismStack) -> dict[str, bool]:
    items = api.get("/api/v1/policies", headers=prism.headers("viewer")).json()["items"]
    return {item["id"]: item["active"] for item in items}


def test_policies_activate_on_database_outage_and_revert(
    prism: PrismStack, api: httpx.Client, external: httpx.Client
) -> None:
    old = {"Authorization": f"Bearer {prism.token('operator')}"}
    viewer = prism.headers("viewer")
    for policy in POLICIES:
        assert _set(api, prism, policy, "auto")["active"] is False
    assert external.get("/api/v1/agents", headers=viewer).status_code == 200
    time.sleep(1.1)  # tokens issued from now on are "after" any activation below
    with proxy_down(prism, POSTGRES_PROXY):
        started = time.monotonic()
        for _ in range(3):  # requests detect the outage quickly; the prober would too, more slowly
            api.get("/api/v1/agents", params={"limit": 3, "offset": 1}, headers=viewer)
        assert wait_until(lambda: all(_active(api, prism).values()), 5.0), _active(api, prism)
        assert time.monotonic() - started < 5.0

        locked = external.get("/api/v1/agents", headers=viewer)
        assert assert_envelope(locked, 403, "authorization")["code"] == "lockdown_active"
        stale_token = api.post("/api/v1/agents", json={"name": "old-token"}, headers=old)
        assert assert_envelope(stale_token, 401, "authentication")["code"] == "reauthentication_required"
        assert "www-authenticate" in stale_token.headers
        export = api.get("/api/v1/agents", params={"limit": 500}, headers=viewer)
        assert assert_envelope(export, 403)["code"] == "export_disabled"
        state = api.get("/api/v1/policies/require-reauth", headers=viewer).json()
        assert state["reason"] == "auto: database_outage"
        assert state["activated_at"] is not None
    assert wait_until(lambda: not any(_active(api, prism).values()), 10.0), "policies did not revert"
    assert external.get("/api/v1/agents", headers=viewer).status_code == 200
    assert api.post("/api/v1/agents", json={"name": "old-token"}, headers=old).status_code == 201
    assert api.get("/api/v1/agents", params={"limit": 500}, headers=viewer).status_code == 200


def test_forced_reauth_blocks_old_tokens_but_not_new_ones(prism: PrismStack, api: httpx.Client) -> None:
    pair = api.post(
        "/api/v1/auth/token", json={"client_id": "operator", "client_secret": "operator-dev-secret"}
    ).json()
    old = {"Authorization": f"Bearer {pair['access_token']}"}
    assert_envelope(
        api.put("/api/v1/policies/require-reauth", json={"mode": "on"}, headers=prism.headers("operator")),
        403,
        "authorization",
    )
    time.sleep(1.1)
    state = _set(api, prism, "require-reauth", "on")
    assert state["active"] is True
    assert state["reason"] == "forced on by an admin"
    try:
        blocked = api.post("/api/v1/agents", json={"name": "x"}, headers=old)
        assert assert_envelope(blocked, 401)["code"] == "reauthentication_required"
        assert api.get("/api/v1/agents", headers=old).status_code == 200  # reads still work
        refreshed = api.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert assert_envelope(refreshed, 401)["code"] == "reauthentication_required"
        new = {"Authorization": f"Bearer {prism.token('operator')}"}
        assert api.post("/api/v1/agents", json={"name": "fresh-token"}, headers=new).status_code == 201
    finally:
        _set(api, prism, "require-reauth", "off")
    assert api.post("/api/v1/agents", json={"name": "old-again"}, headers=old).status_code == 201


def test_unknown_policy_is_a_validation_error(prism: PrismStack, api: httpx.Client) -> None:
    assert_envelope(api.get("/api/v1/policies/no-such", headers=prism.headers("viewer")), 422, "validation")


def test_default_modes_keep_partition_writes_working() -> None:
    """By default re-auth is opt-in: in `auto` it would turn the 202 partition writes into 401s."""
    from reference_impl.policies import Policies  # noqa: PLC0415
    from reference_impl.settings import Settings  # noqa: PLC0415

    assert Settings().emergency_policies == "default"
    modes = {pid.value: p.mode.value for pid, p in Policies(None, ["127.0.0.0/8"]).items.items()}
    assert modes == {"lockdown-external-access": "auto", "require-reauth": "off", "disable-export": "auto"}


def test_policies_stay_active_while_the_breaker_half_opens_on_a_dead_database() -> None:
    """Half-open is a probe of an outage still in progress: the lockdown must not lapse during the
    trial, only when the breaker closes."""
    from reference_impl.breakers import BreakerState, CircuitBreaker  # noqa: PLC0415
    from reference_impl.policies import Policies, PolicyId  # noqa: PLC0415

    now = [100.0]
    db = CircuitBreaker("postgresql", failure_threshold=1, reset_seconds=2.0, clock=lambda: now[0])
    redis = CircuitBreaker("redis", failure_threshold=1, reset_seconds=2.0, clock=lambda: now[0])
    policies = Policies(None, ["127.0.0.0/8"])
    db.record_failure("timed out")
    policies.evaluate(db, redis)
    assert policies.active(PolicyId.LOCKDOWN_EXTERNAL_ACCESS) is not None
    now[0] += 2.0
    assert db.state is BreakerState.HALF_OPEN
    assert policies.evaluate(db, redis) == []
    assert policies.active(PolicyId.LOCKDOWN_EXTERNAL_ACCESS) is not None
    db.before_call()
    db.record_failure("timed out")  # the trial failed: open again, still active
    assert policies.evaluate(db, redis) == []
    now[0] += 2.0
    db.before_call()
    db.record_success()
    reverted = policies.evaluate(db, redis)
    assert {p.id for p in reverted} == {PolicyId.LOCKDOWN_EXTERNAL_ACCESS, PolicyId.DISABLE_EXPORT}
    assert policies.active(PolicyId.LOCKDOWN_EXTERNAL_ACCESS) is None
