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
from reference_impl.kill_switch import SAFE_METHODS
from reference_impl.policies import EXPORT_LIMIT, PolicyId
from reference_impl.runtime import Runtime, get_runtime
from reference_impl.tokens import TokenRejected, decode_access_token

KILL_SWITCH_RETRY_AFTER = 30
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
    issued_at: int | None = None

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
    principal = await _principal(request, credentials, runtime)
    request.state.principal = principal  # for the audit trail
    return principal


async def _principal(
    request: Request, credentials: HTTPAuthorizationCredentials | None, runtime: Runtime
) -> Principal:
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
    return Principal(
        claims.subject, claims.role, claims.family_id, claims.token_id, claims.expires_at, claims.issued_at
    )


def require_role(role: str) -> Callable[..., Awaitable[Principal]]:
    """Dependency factory: the caller must hold ``role`` or a higher one, else 403."""

    async def check(
        request: Request,
        principal: Annotated[Principal, Depends(current_principal)],
        runtime: Annotated[Runtime, Depends(get_runtime)],
    ) -> Principal:
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
        enforce_policies(request, runtime, principal)
        if (
            runtime.kill_switch.engaged
            and request.method not in SAFE_METHODS
            and not principal.at_least("admin")
        ):
            raise kill_switch_error(runtime)
        return principal

    return check


def _policy_error(status: int, code: str, message: str, action: str, hint: str) -> ApiError:
    category = ErrorCategory.AUTHENTICATION if status == 401 else ErrorCategory.AUTHORIZATION
    error = ApiError(
        status,
        category,
        code,
        message,
        recovery_options=[RecoveryOption(action=action, success_probability=0.6, description=hint)],
    )
    if status == 401:
        error.headers["WWW-Authenticate"] = 'Bearer realm="prism", error="invalid_token"'
    return error


def enforce_policies(request: Request, runtime: Runtime, principal: Principal) -> None:
    """Apply the active emergency policies (see :mod:`reference_impl.policies`) to this request."""
    policies = runtime.policies
    if policies.active(PolicyId.LOCKDOWN_EXTERNAL_ACCESS) and policies.is_external(
        request.client.host if request.client else None
    ):
        raise _policy_error(
            403,
            "lockdown_active",
            "emergency lockdown: external access is suspended during an outage",
            "use_internal_network",
            "Retry from a trusted network, or after the outage (the lockdown reverts on recovery).",
        )
    reauth = policies.active(PolicyId.REQUIRE_REAUTH)
    if (
        reauth is not None
        and request.method not in SAFE_METHODS
        and (principal.issued_at is None or principal.issued_at < (reauth.activated_at or 0) - 1)
    ):
        raise _policy_error(
            401,
            "reauthentication_required",
            "emergency policy: tokens issued before the incident may not make changes",
            "reauthenticate",
            "Get a new token with client credentials (POST /api/v1/auth/token).",
        )
    if policies.active(PolicyId.DISABLE_EXPORT) and request.method == "GET" and _is_export(request):
        raise _policy_error(
            403,
            "export_disabled",
            f"emergency policy: bulk export (GET /audit, lists over {EXPORT_LIMIT}) is disabled",
            "use_smaller_pages",
            f"Request at most {EXPORT_LIMIT} items per page, or retry after the outage.",
        )


def _is_export(request: Request) -> bool:
    if request.url.path == "/api/v1/audit":
        return True
    try:
        return int(request.query_params.get("limit", "0")) > EXPORT_LIMIT
    except ValueError:
        return False


def kill_switch_error(runtime: Runtime) -> ApiError:
    """503 for a non-admin mutation while the kill switch is engaged."""
    switch = runtime.kill_switch
    return ApiError(
        503,
        ErrorCategory.SYSTEM_OVERLOAD,
        "kill_switch_engaged",
        "the kill switch is engaged: mutations are suspended"
        + (f" ({switch.reason})" if switch.reason else ""),
        recovery_options=[
            RecoveryOption(
                action="wait_for_disengage",
                success_probability=0.5,
                description="Reads keep working; retry the change after an admin disengages the switch.",
            )
        ],
        eta_seconds=None,
        headers={"Retry-After": str(KILL_SWITCH_RETRY_AFTER)},
    )


Viewer = Annotated[Principal, Depends(require_role("viewer"))]
Operator = Annotated[Principal, Depends(require_role("operator"))]
Admin = Annotated[Principal, Depends(require_role("admin"))]
