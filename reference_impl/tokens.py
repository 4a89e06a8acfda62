"""Access tokens (HS256 JWTs) and refresh tokens (opaque, stored hashed).

Why this split: access tokens are verified on every request without a
database round trip, so reads keep working through a database outage. They
are short-lived and carry the id of their *token family*; revoking the family
(logout, refresh-token reuse) invalidates them within the revocation-list
refresh interval. Refresh tokens are random strings whose SHA-256 is stored
in PostgreSQL, so they can be rotated once and a replay detected.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass

_HEADER = {"alg": "HS256", "typ": "JWT"}
_LEEWAY_SECONDS = 0


class TokenRejected(Exception):
    """The bearer token is not acceptable; ``code`` says why (for the error envelope)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class AccessClaims:
    """What a verified access token says."""

    subject: str
    role: str
    family_id: str
    token_id: str
    issued_at: int
    expires_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, signing_input: bytes) -> str:
    return _b64(hmac.new(secret.encode(), signing_input, hashlib.sha256).digest())


def issue_access_token(
    secret: str, subject: str, role: str, family_id: str, ttl: int
) -> tuple[str, AccessClaims]:
    """A signed JWT valid for ``ttl`` seconds."""
    now = int(time.time())
    claims = AccessClaims(
        subject=subject,
        role=role,
        family_id=family_id,
        token_id=uuid.uuid4().hex,
        issued_at=now,
        expires_at=now + ttl,
    )
    payload = {
        "sub": claims.subject,
        "role": claims.role,
        "fid": claims.family_id,
        "jti": claims.token_id,
        "iat": claims.issued_at,
        "exp": claims.expires_at,
        "typ": "access",
    }
    head = _b64(json.dumps(_HEADER, separators=(",", ":")).encode())
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    signing_input = f"{head}.{body}".encode()
    return f"{head}.{body}.{_sign(secret, signing_input)}", claims


def decode_access_token(secret: str, token: str, *, now: float | None = None) -> AccessClaims:
    """Verify signature, algorithm, type and expiry; raise :class:`TokenRejected` otherwise."""
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenRejected("token_malformed", "the bearer token is not a JWT")
    head, body, signature = parts
    if not hmac.compare_digest(_sign(secret, f"{head}.{body}".encode()), signature):
        raise TokenRejected("token_invalid", "the bearer token's signature does not verify")
    try:
        header = json.loads(_unb64(head))
        payload = json.loads(_unb64(body))
        if header.get("alg") != "HS256" or payload.get("typ") != "access":
            raise TokenRejected("token_invalid", "the bearer token is not an access token")
        claims = AccessClaims(
            subject=str(payload["sub"]),
            role=str(payload["role"]),
            family_id=str(payload["fid"]),
            token_id=str(payload["jti"]),
            issued_at=int(payload["iat"]),
            expires_at=int(payload["exp"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        raise TokenRejected("token_malformed", "the bearer token's claims are unreadable") from None
    current = time.time() if now is None else now
    if current >= claims.expires_at + _LEEWAY_SECONDS:
        raise TokenRejected("token_expired", "the access token has expired; refresh it")
    return claims


def new_refresh_token() -> str:
    """An unguessable opaque refresh token (256 bits)."""
    return secrets.token_urlsafe(32)


def refresh_token_digest(token: str) -> str:
    """What the database stores instead of the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()
