"""``/api/v1/auth``: issue, rotate and revoke tokens."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from reference_impl import token_store
from reference_impl.auth import Principal, current_principal, unauthenticated
from reference_impl.errors import error_responses
from reference_impl.passwords import verify_secret
from reference_impl.policies import PolicyId
from reference_impl.runtime import Runtime, get_runtime
from reference_impl.schemas.auth import RefreshRequest, TokenPair, TokenRequest
from reference_impl.token_store import RefreshOutcome
from reference_impl.tokens import issue_access_token

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

RuntimeDep = Annotated[Runtime, Depends(get_runtime)]

# A fixed hash to verify against when the client id is unknown, so timing does not reveal which ids exist.
_DUMMY_HASH = "pbkdf2_sha256$60000$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


def _pair(runtime: Runtime, client_id: str, role: str, family_id: str, refresh_token: str) -> TokenPair:
    settings = runtime.settings
    access, _claims = issue_access_token(
        settings.secret_key, client_id, role, family_id, settings.access_token_ttl
    )
    return TokenPair(
        access_token=access,
        token_type="Bearer",  # noqa: S106 - the scheme name, not a secret
        expires_in=settings.access_token_ttl,
        refresh_token=refresh_token,
        refresh_expires_in=settings.refresh_token_ttl,
        role=role,  # roles are constrained by the clients table
        client_id=client_id,
    )


@router.post(
    "/token",
    response_model=TokenPair,
    summary="Exchange client credentials for tokens",
    responses=error_responses(401, 422, 503),
)
async def issue_token(body: TokenRequest, runtime: RuntimeDep) -> TokenPair:
    """Client-credentials grant. Needs PostgreSQL (503 with the envelope while it is out)."""
    client = await token_store.find_client(runtime.db, body.client_id)
    stored = client.secret_hash if client is not None else _DUMMY_HASH
    valid = await asyncio.to_thread(verify_secret, body.client_secret, stored)
    if client is None or not valid or client.disabled:
        runtime.telemetry.count("auth_rejected", "invalid_client")
        raise unauthenticated("invalid_client", "unknown client or wrong secret")
    family_id, refresh = await token_store.start_family(
        runtime.db, client.client_id, runtime.settings.refresh_token_ttl
    )
    runtime.telemetry.count("token_issued", client.role)
    return _pair(runtime, client.client_id, client.role, family_id, refresh)


@router.post(
    "/refresh",
    response_model=TokenPair,
    summary="Rotate a refresh token",
    responses=error_responses(401, 422, 503),
)
async def refresh_token(body: RefreshRequest, runtime: RuntimeDep) -> TokenPair:
    """Each refresh token works once. Presenting a used one revokes its whole family (401)."""
    if runtime.policies.active(PolicyId.REQUIRE_REAUTH):
        raise unauthenticated(
            "reauthentication_required",
            "emergency policy: refresh grants are suspended; authenticate with client credentials",
        )
    result = await token_store.rotate(runtime.db, body.refresh_token, runtime.settings.refresh_token_ttl)
    if result.outcome is RefreshOutcome.REUSED and result.family_id is not None:
        runtime.revoke_family(result.family_id)
        runtime.telemetry.count("refresh_token_reuse")
        runtime.announce_breach(
            "refresh_token_reuse", {"client_id": result.client_id, "family_id": result.family_id}
        )
        raise unauthenticated(
            "refresh_token_reused",
            "this refresh token was already used; every token of its family is now revoked",
        )
    if result.outcome is not RefreshOutcome.ROTATED:
        runtime.telemetry.count("auth_rejected", f"refresh_{result.outcome.value}")
        raise unauthenticated(
            f"refresh_token_{result.outcome.value}", f"refresh token {result.outcome.value}"
        )
    if not (result.client_id and result.role and result.family_id and result.refresh_token):
        raise RuntimeError("a rotated refresh token must come with its client, role and family")
    return _pair(runtime, result.client_id, result.role, result.family_id, result.refresh_token)


@router.post(
    "/logout",
    status_code=204,
    response_class=Response,
    summary="Revoke the caller's token family",
    responses={
        204: {"description": "Revoked; the access and refresh tokens no longer work."},
        **error_responses(401, 503),
    },
)
async def logout(
    principal: Annotated[Principal, Depends(current_principal)], runtime: RuntimeDep
) -> Response:
    """Revokes the access token's family: its refresh tokens and access tokens stop working."""
    if principal.family_id is None:
        raise unauthenticated("token_missing", "logout needs the bearer token to revoke")
    runtime.revoke_family(principal.family_id)
    await token_store.revoke_family(runtime.db, principal.family_id, "logout")
    return Response(status_code=204)
