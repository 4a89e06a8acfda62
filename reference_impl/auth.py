"""Request authentication and role checks (FastAPI dependencies).

Roles are ordered viewer < operator < admin; a route names the least role it
needs and anything lower gets 403 (an escalation attempt), while a missing,
malformed, expired or revoked token gets 401 with ``WWW-Authenticate``.
Verification needs no database: the token is a signed JWT and revocations
are mirrored in memory (see :mod:`reference_impl.tokens`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from reference_impl.errors import ApiError, ErrorCategory, RecoveryOption
from reference_impl.runtime import Runtime, get_runtime
from reference_impl.tokens import TokenRejected, decode_access_token

ROLE_RANK = {"viewer": 1, "operator": 2, "admin": 3}

bearer_scheme = HTTPBearer(auto_error=False, description="Access token from `POST /api/v1/auth/token`.")

_GET_TOKEN = RecoveryOption(
    action="obtain_token",
    success_probability=0.9,
    description="Get a token from POST /api/v1/auth/token (or refresh it) and send `Authorization: Bearer`.",
)


@dataclass(frozen=True)
class Principal:
    """Who is calling."""

    client_id: str
    role: str
    family_id: str | None
    token_id: str | None
    expires_at: int | None = None

    def at_least(self, role: str) -> bool:
        return ROLE_RANK.get(self.role, 0) >= ROLE_RANK[role]


def unauthenticated(code: str, message: str) -> ApiError:
    """A 401 with the challenge header the RFC asks for."""
    challenge = (
        'Bearer realm="prism"' if code == "token_missing" else 'Bearer realm="prism", error="invalid_token"'
    )
    return ApiError(
        401,
        ErrorCategory.AUTHENTICATION,
        code,
        message,
        recovery_options=[_GET_TOKEN],
        headers={"WWW-Authenticate": challenge},
    )


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> Principal:
    """The verified caller; anonymous callers get the configured anonymous role, if any."""
    if credentials is None:
        if request.headers.get("authorization"):
            raise unauthenticated("token_malformed", "the Authorization header must be `Bearer <token>`")
        if runtime.settings.anonymous_role is not None:
            return Principal("anonymous", runtime.settings.anonymous_role, None, None)
        raise unauthenticated("token_missing", "this endpoint needs a bearer access token")
    if credentials.scheme.lower() != "bearer":
        raise unauthenticated("token_malformed", "the Authorization header must be `Bearer <token>`")
    return verify_access_token(runtime, credentials.credentials)


def verify_access_token(runtime: Runtime, token: str) -> Principal:
    """Check signature, expiry, role and revocation; raise a 401 :class:`ApiError` otherwise."""
    try:
        claims = decode_access_token(runtime.settings.secret_key, token)
    except TokenRejected as rejected:
        runtime.telemetry.count("auth_rejected", rejected.code)
        raise unauthenticated(rejected.code, rejected.message) from None
    if claims.role not in ROLE_RANK:
        raise unauthenticated("token_invalid", "the token names an unknown role")
    if runtime.is_revoked(claims.family_id):
        runtime.telemetry.count("auth_rejected", "token_revoked")
        raise unauthenticated("token_revoked", "the token was revoked (logout or refresh-token reuse)")
    return Principal(claims.subject, claims.role, claims.family_id, claims.token_id, claims.expires_at)


def require_role(role: str) -> Callable[..., Awaitable[Principal]]:
    """Dependency factory: the caller must hold ``role`` or a higher one, else 403."""

    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.at_least(role):
            raise ApiError(
                403,
                ErrorCategory.AUTHORIZATION,
                "insufficient_role",
                f"role `{principal.role}` may not do this; it needs `{role}` or higher",
                recovery_options=[
                    RecoveryOption(
                        action="use_privileged_client",
                        success_probability=0.9,
                        description=f"Authenticate as a client with role `{role}` or higher.",
                    )
                ],
            )
        return principal

    return check


Viewer = Annotated[Principal, Depends(require_role("viewer"))]
Operator = Annotated[Principal, Depends(require_role("operator"))]
Admin = Annotated[Principal, Depends(require_role("admin"))]
