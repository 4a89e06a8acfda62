"""Replay protection (nonce + timestamp) and idempotency keys on mutating requests.

Both are **optional by default** so that plain scenarios (and clients that
know nothing about them) keep working; a client opts in per request:

* ``X-Request-Nonce`` (16-128 URL-safe characters) with ``X-Request-Timestamp``
  (Unix seconds): the timestamp must be within ``replay_window`` seconds of the
  server clock (else 403 ``request_expired``), a nonce is accepted once per
  window (else 409 ``replay_detected``), and one header without the other is
  403 ``replay_protection_incomplete``. With ``PRISM_REQUIRE_REPLAY_HEADERS=true``
  both headers become mandatory on every guarded mutation (403 when missing).
* ``Idempotency-Key`` (1-200 of ``[A-Za-z0-9._:-]``): the first request with a
  key runs and its response (any status below 500) is stored for 24 h; the
  same key with the same body from the same client gets that stored response
  again (``Idempotent-Replayed: true``), the same key with a different body gets
  409 ``idempotency_key_reused``, and a retry while the first is still running
  gets 409 ``idempotency_in_progress``. Responses of 5xx are not stored, so a
  retry after a server fault runs again.

Guarded: every ``POST``/``PUT``/``PATCH``/``DELETE`` under ``/api/v1`` except
``/api/v1/auth/*`` (credentials exchange) and ``/api/v1/chaos/*`` (test hooks).
Nonces and stored responses live in Redis (shared by workers); while Redis is
down each process falls back to a bounded in-memory store, so protection
continues per process instead of failing open or failing the request.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import time
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reference_impl.auth import Principal, current_principal, verify_access_token
from reference_impl.dependencies import DependencyUnavailable
from reference_impl.errors import ApiError, ErrorCategory, RecoveryOption, error_responses
from reference_impl.runtime import Runtime, get_runtime

IDEMPOTENCY_TTL_SECONDS = 24 * 3600
IN_PROGRESS_TTL_SECONDS = 60
KEY_PATTERN = r"^[A-Za-z0-9._:-]{1,200}$"
NONCE_PATTERN = r"^[A-Za-z0-9_-]{16,128}$"
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
UNGUARDED = ("/api/v1/auth/", "/api/v1/chaos/")
_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-")

GUARD_RESPONSES = error_responses(403, 409, 422)
# The headers' OpenAPI schemas: FastAPI declares optional ones nullable, but a header is never null.
GUARD_HEADER_SCHEMAS: dict[str, dict[str, Any]] = {
    "Idempotency-Key": {"type": "string", "pattern": KEY_PATTERN},
    "X-Request-Nonce": {"type": "string", "pattern": NONCE_PATTERN},
    "X-Request-Timestamp": {"type": "integer", "minimum": 0, "maximum": 10**11},
}
REPLAYED_HEADER = {
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored response of an earlier request with the same key.",
        "schema": {"type": "string", "enum": ["true"]},
        "required": False,
    }
}


async def _set(runtime: Runtime, key: str, value: str, ttl: float, *, only_new: bool = False) -> bool:
    """Record `key` in Redis and in this process's store; with `only_new`, False if either knew it.

    Writing through to the local store means a nonce accepted while Redis was
    unreachable (or too slow to answer) is still refused once Redis is back.
    """
    if only_new and runtime.guard_store.get(key) is not None:
        return False
    runtime.guard_store.set(key, value, ttl)
    try:
        result = await runtime.redis.run(lambda c: c.set(key, value, ex=int(ttl), nx=only_new))
    except DependencyUnavailable:
        return True
    return bool(result)


async def _get(runtime: Runtime, key: str) -> str | None:
    """The value from Redis, else from this process's store (written while Redis was out)."""
    try:
        raw = await runtime.redis.run(lambda c: c.get(key))
    except DependencyUnavailable:
        raw = None
    if raw is None:
        return runtime.guard_store.get(key)
    return raw.decode() if isinstance(raw, bytes) else str(raw)


async def _delete(runtime: Runtime, key: str) -> None:
    runtime.guard_store.delete(key)
    with contextlib.suppress(DependencyUnavailable):
        await runtime.redis.run(lambda c: c.delete(key))


def _forbidden(code: str, message: str) -> ApiError:
    return ApiError(
        403,
        ErrorCategory.AUTHENTICATION,
        code,
        message,
        recovery_options=[
            RecoveryOption(
                action="resend_with_fresh_nonce",
                success_probability=0.9,
                description="Send a new X-Request-Nonce with the current Unix time in X-Request-Timestamp.",
            )
        ],
    )


async def replay_guard(
    request: Request,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    _caller: Annotated[Principal, Depends(current_principal)],  # 401 before any replay verdict
    nonce: Annotated[
        str | None,
        Header(
            alias="X-Request-Nonce",
            pattern=NONCE_PATTERN,
            description="Replay protection: a value never sent before (with X-Request-Timestamp).",
        ),
    ] = None,
    timestamp: Annotated[
        int | None,
        Header(
            alias="X-Request-Timestamp",
            ge=0,
            le=10**11,
            description="Replay protection: Unix seconds; must be within the window (default ±300 s).",
        ),
    ] = None,
    _idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            pattern=KEY_PATTERN,
            description="Optional: same key + same body replays the stored response; other body: 409.",
        ),
    ] = None,
) -> None:
    """Route dependency: check nonce + timestamp (the idempotency key is handled by the middleware)."""
    if nonce is None and timestamp is None:
        if runtime.settings.require_replay_headers:
            raise _forbidden(
                "replay_protection_required", "this service requires X-Request-Nonce and X-Request-Timestamp"
            )
        return
    if nonce is None or timestamp is None:
        raise _forbidden(
            "replay_protection_incomplete", "X-Request-Nonce and X-Request-Timestamp go together"
        )
    window = runtime.settings.replay_window
    skew = abs(time.time() - timestamp)
    if skew > window:
        raise _forbidden(
            "request_expired", f"X-Request-Timestamp is {skew:.0f}s from server time (window {window:.0f}s)"
        )
    if not await _set(runtime, f"prism:nonce:{nonce}", request.method, 2 * window, only_new=True):
        runtime.telemetry.count("replay_blocked", "nonce")
        raise ApiError(
            409,
            ErrorCategory.CONFLICT,
            "replay_detected",
            "this X-Request-Nonce was already used: the request looks like a replay and was not executed",
            recovery_options=[
                RecoveryOption(
                    action="resend_with_fresh_nonce",
                    success_probability=0.9,
                    description="For a deliberate retry send a new nonce (and an Idempotency-Key).",
                )
            ],
        )


Guarded = Depends(replay_guard)


class IdempotencyMiddleware:
    """Pure ASGI middleware: stores and replays responses of mutations sent with ``Idempotency-Key``."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = self._key(scope)
        if key is None:
            await self.app(scope, receive, send)
            return
        token = _header(scope, b"authorization")
        if token is None or not token.lower().startswith("bearer "):
            await self.app(scope, receive, send)  # unauthenticated: the route answers 401
            return
        try:
            principal = verify_access_token(self.runtime, token[7:].strip())
        except ApiError:
            await self.app(scope, receive, send)
            return
        body, more = await _read_body(receive)
        digest = hashlib.sha256(body).hexdigest()
        store_key = f"prism:idem:{principal.client_id}:{scope['method']}:{scope['path']}:{key}"
        runtime = self.runtime
        stored = await _get(runtime, store_key)
        if stored is not None:
            record = json.loads(stored)
            if record["body_sha256"] != digest:
                await self._error(
                    scope,
                    send,
                    "idempotency_key_reused",
                    "this Idempotency-Key was used with a different body",
                )
            elif record["state"] == "in_progress":
                await self._error(
                    scope,
                    send,
                    "idempotency_in_progress",
                    "a request with this Idempotency-Key is still being processed",
                )
            else:
                runtime.telemetry.count("idempotent_replay", scope["method"])
                await _replay(record, send)
            return
        claim = json.dumps({"state": "in_progress", "body_sha256": digest})
        if not await _set(runtime, store_key, claim, IN_PROGRESS_TTL_SECONDS, only_new=True):
            await self._error(
                scope,
                send,
                "idempotency_in_progress",
                "a request with this Idempotency-Key is still being processed",
            )
            return
        status = 500
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, _replaying(body, more, receive), capture)
        finally:
            if status < 500:
                record = {
                    "state": "done",
                    "body_sha256": digest,
                    "status": status,
                    "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in headers],
                    "body": base64.b64encode(b"".join(chunks)).decode(),
                }
                await _set(runtime, store_key, json.dumps(record), IDEMPOTENCY_TTL_SECONDS)
            else:
                await _delete(runtime, store_key)

    @staticmethod
    def _key(scope: Scope) -> str | None:
        if scope["type"] != "http" or scope["method"] not in MUTATING:
            return None
        path: str = scope["path"]
        if not path.startswith("/api/v1/") or path.startswith(UNGUARDED):
            return None
        key = _header(scope, b"idempotency-key")
        if key is None or not 1 <= len(key) <= 200 or not set(key) <= _KEY_CHARS:
            return None  # absent, or invalid: the route's header validation answers 422
        return key

    async def _error(self, scope: Scope, send: Send, code: str, message: str) -> None:
        from reference_impl.error_handlers import envelope_response  # noqa: PLC0415

        error = ApiError(
            409,
            ErrorCategory.CONFLICT,
            code,
            message,
            recovery_options=[
                RecoveryOption(
                    action="use_new_idempotency_key",
                    success_probability=0.9,
                    description="Use a new key for a different request, or wait and retry unchanged.",
                )
            ],
        )
        self.runtime.telemetry.count("idempotency_conflict", code)
        response = envelope_response(Request(scope), error)
        await response(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The whole request body; ``more`` is False if the client disconnected meanwhile."""
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(parts), False
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts), True


def _replaying(body: bytes, connected: bool, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if not connected:
            return {"type": "http.disconnect"}
        return await receive()

    return replay


async def _replay(record: dict[str, Any], send: Send) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in record["headers"]]
    headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": record["status"], "headers": headers})
    await send({"type": "http.response.body", "body": base64.b64decode(record["body"])})
