"""Tokens: issue, expiry, roles, refresh rotation with reuse detection, logout."""

from __future__ import annotations

import uuid

import httpx
import pytest
from prism_stack import CREDENTIALS, PrismStack, assert_envelope

from reference_impl.settings import DEV_SECRET_KEY
from reference_impl.tokens import issue_access_token


def _login(api: httpx.Client, role: str) -> dict[str, str]:
    response = api.post("/api/v1/auth/token", json={"client_id": role, "client_secret": CREDENTIALS[role]})
    assert response.status_code == 200, response.text
    return dict(response.json())


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_each_seeded_client_gets_a_token_pair(api: httpx.Client, role: str) -> None:
    pair = _login(api, role)
    assert pair["token_type"] == "Bearer"
    assert pair["role"] == role
    assert pair["expires_in"] > 0
    assert pair["refresh_token"]
    assert api.get("/api/v1/agents", headers=_bearer(pair["access_token"])).status_code == 200


def test_wrong_secret_is_401_with_challenge(api: httpx.Client) -> None:
    response = api.post("/api/v1/auth/token", json={"client_id": "admin", "client_secret": "guess-guess"})
    error = assert_envelope(response, 401, "authentication")
    assert error["code"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_unknown_client_is_401(api: httpx.Client) -> None:
    response = api.post("/api/v1/auth/token", json={"client_id": "mallory", "client_secret": "whatever1"})
    assert_envelope(response, 401, "authentication")


def test_missing_and_garbage_tokens_are_401(api: httpx.Client) -> None:
    missing = assert_envelope(api.get("/api/v1/agents"), 401, "authentication")
    assert missing["code"] == "token_missing"
    garbage = assert_envelope(api.get("/api/v1/agents", headers=_bearer("not.a.jwt")), 401, "authentication")
    assert garbage["code"] == "token_invalid"
    scheme = assert_envelope(api.get("/api/v1/agents", headers={"Authorization": "Basic abc"}), 401)
    assert scheme["code"] == "token_malformed"


def test_expired_token_is_401(api: httpx.Client) -> None:
    token, _claims = issue_access_token(DEV_SECRET_KEY, "viewer", "viewer", str(uuid.uuid4()), ttl=-5)
    error = assert_envelope(api.get("/api/v1/agents", headers=_bearer(token)), 401, "authentication")
    assert error["code"] == "token_expired"


def test_forged_signature_is_401(api: httpx.Client) -> None:
    token, _claims = issue_access_token("x" * 40, "admin", "admin", str(uuid.uuid4()), ttl=60)
    assert assert_envelope(api.get("/api/v1/agents", headers=_bearer(token)), 401)["code"] == "token_invalid"


def test_viewer_cannot_create_agents(prism: PrismStack, api: httpx.Client) -> None:
    response = api.post("/api/v1/agents", json={"name": "escalation"}, headers=prism.headers("viewer"))
    error = assert_envelope(response, 403, "authorization")
    assert error["code"] == "insufficient_role"
    assert prism.query("SELECT count(*) AS n FROM agents WHERE name = 'escalation'")[0]["n"] == 0


def test_operator_cannot_delete_agents(prism: PrismStack, api: httpx.Client) -> None:
    created = api.post("/api/v1/agents", json={"name": "keep-me"}, headers=prism.headers("operator"))
    assert created.status_code == 201
    agent_id = created.json()["id"]
    assert_envelope(api.delete(f"/api/v1/agents/{agent_id}", headers=prism.headers("operator")), 403)
    assert api.get(f"/api/v1/agents/{agent_id}", headers=prism.headers("viewer")).status_code == 200
    assert api.delete(f"/api/v1/agents/{agent_id}", headers=prism.headers("admin")).status_code == 204


def test_refresh_rotates_and_reuse_revokes_the_family(api: httpx.Client) -> None:
    first = _login(api, "operator")
    second = api.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200, second.text
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert api.get("/api/v1/agents", headers=_bearer(rotated["access_token"])).status_code == 200

    # The first refresh token was used once already: presenting it again is reuse.
    reuse = api.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert assert_envelope(reuse, 401, "authentication")["code"] == "refresh_token_reused"

    # The whole family is dead: the rotated refresh token and every access token of the family.
    after = api.post("/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert assert_envelope(after, 401)["code"] == "refresh_token_revoked"
    for token in (first["access_token"], rotated["access_token"]):
        denied = api.get("/api/v1/agents", headers=_bearer(token))
        assert assert_envelope(denied, 401)["code"] == "token_revoked"

    # Other logins are unaffected.
    other = _login(api, "operator")
    assert api.get("/api/v1/agents", headers=_bearer(other["access_token"])).status_code == 200


def test_unknown_refresh_token_is_401(api: httpx.Client) -> None:
    response = api.post("/api/v1/auth/refresh", json={"refresh_token": "never-issued"})
    assert assert_envelope(response, 401)["code"] == "refresh_token_unknown"


def test_logout_revokes_access_and_refresh_tokens(api: httpx.Client) -> None:
    pair = _login(api, "viewer")
    assert api.post("/api/v1/auth/logout", headers=_bearer(pair["access_token"])).status_code == 204
    assert assert_envelope(api.get("/api/v1/agents", headers=_bearer(pair["access_token"])), 401)["code"] == (
        "token_revoked"
    )
    refresh = api.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert assert_envelope(refresh, 401)["code"] == "refresh_token_revoked"


def test_token_request_validation_is_422(api: httpx.Client) -> None:
    response = api.post("/api/v1/auth/token", json={"client_id": "viewer", "client_secrett": "x"})
    error = assert_envelope(response, 422, "validation")
    fields = {detail["field"]: detail for detail in error["details"]}
    assert fields["body.client_secret"]["type"] == "missing"
    assert fields["body.client_secrett"]["suggested_value"] == "client_secret"
