"""Client-secret hashing (PBKDF2-HMAC-SHA256 from the standard library).

Why PBKDF2 and not a faster hash: client secrets are passwords in all but
name; a stolen ``clients`` table must not reveal them. The iteration count is
moderate because this is a test rig on two cores; verification runs in a
worker thread so it never blocks the event loop.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_ALGORITHM = "pbkdf2_sha256"
_ITERATIONS = 60_000


def hash_secret(secret: str, *, iterations: int = _ITERATIONS) -> str:
    """``pbkdf2_sha256$<iterations>$<salt>$<digest>`` for storing in the database."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode(), salt, iterations)
    encode = base64.urlsafe_b64encode
    return f"{_ALGORITHM}${iterations}${encode(salt).decode()}${encode(digest).decode()}"


def verify_secret(secret: str, stored: str) -> bool:
    """Constant-time check of ``secret`` against a value made by :func:`hash_secret`."""
    try:
        algorithm, iterations, salt, digest = stored.split("$")
        if algorithm != _ALGORITHM:
            return False
        expected = base64.urlsafe_b64decode(digest)
        actual = hashlib.pbkdf2_hmac(
            "sha256", secret.encode(), base64.urlsafe_b64decode(salt), int(iterations)
        )
    except ValueError:
        return False
    return hmac.compare_digest(expected, actual)
