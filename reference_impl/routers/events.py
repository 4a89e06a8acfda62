"""``WS /api/v1/events``: the event stream with resume-from-sequence (R5).

Protocol (JSON text frames):

* connect to ``/api/v1/events?last_sequence=N`` with ``Authorization: Bearer``
  or ``?token=`` (browsers cannot set headers); role viewer or higher;
* server → ``{"type": "welcome", "resume_from": N, "head": H, "token_expires_at": T}``,
  then every event with sequence > N, in order, exactly once per connection:
  ``{"type": "event", "sequence": s, "event_type": ..., "data": {...}, "timestamp": ...}``;
  omit ``last_sequence`` to receive only new events;
* server → ``token_expiring`` five minutes before the access token expires;
  client → ``{"type": "reauth", "token": ...}`` re-authenticates in band,
  server → ``reauth_ok``; at expiry without re-auth: ``error`` then close 4401;
* client → ``{"type": "ping"}`` gets ``pong``; ``{"type": "ack", "sequence": s}``
  is accepted for the client's own bookkeeping;
* while Redis is unavailable the server says ``notice: event_log_unavailable``
  and keeps the connection; events produced meanwhile are buffered and follow,
  in order, once it returns (``notice: event_log_restored``);
* under overload (CPU > 90 % or memory > 85 %, or the chaos pressure faults)
  the server says ``notice: throttled`` (with ``batch_size`` 10 and
  ``interval_seconds`` 5) and sends at most 10 ordinary events per 5 s;
  ``security.alert`` and ``system.critical`` events still go out at once, ahead
  of the held-back ones (and are not sent again when the stream catches up);
  ``notice: throttle_lifted`` when the overload ends. Resume with the highest
  sequence received *in order* (the welcome's cursor semantics are unchanged).

Why poll the stream rather than push: events may come from other workers or
from before a restart; reading the Redis stream after the client's cursor is
the one source of truth, and this process wakes its readers immediately when
it appends, so the poll interval only bounds cross-process latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from reference_impl.auth import Principal, unauthenticated, verify_access_token
from reference_impl.dependencies import DependencyUnavailable
from reference_impl.errors import ApiError
from reference_impl.runtime import Runtime

router = APIRouter(tags=["events"])

CLOSE_UNAUTHORIZED = 4401
REAUTH_WARNING_SECONDS = 300
POLL_SECONDS = 0.5
BATCH = 500
THROTTLE_BATCH = 10
THROTTLE_INTERVAL = 5.0
PRIORITY_EVENTS = frozenset({"security.alert", "system.critical"})


class _Session:
    """One connection's state: cursor, credentials, and a lock so frames never interleave."""

    def __init__(self, websocket: WebSocket, runtime: Runtime, principal: Principal, cursor: int) -> None:
        self.websocket = websocket
        self.runtime = runtime
        self.principal = principal
        self.cursor = cursor
        self.warned = False
        self.acked = cursor
        self._send_lock = asyncio.Lock()
        # throttling under overload (R5.2)
        self.throttled = False
        self.window_started = 0.0
        self.window_sent = 0
        self.sent_early: set[int] = set()  # priority events sent ahead of the in-order cursor
        self.scan_cursor = cursor

    async def update_throttle(self) -> None:
        """Enter or leave throttled mode, telling the client either way."""
        reason = self.runtime.overload()
        if reason is not None and not self.throttled:
            self.throttled = True
            self.window_started, self.window_sent = time.monotonic(), 0
            self.runtime.telemetry.count("ws_throttled")
            await self.send(
                {
                    "type": "notice",
                    "code": "throttled",
                    "message": f"server overloaded ({reason}): events are batched",
                    "batch_size": THROTTLE_BATCH,
                    "interval_seconds": THROTTLE_INTERVAL,
                    "priority_event_types": sorted(PRIORITY_EVENTS),
                }
            )
        elif reason is None and self.throttled:
            self.throttled = False
            await self.send({"type": "notice", "code": "throttle_lifted", "message": "streaming resumed"})

    def budget(self) -> int:
        """How many ordinary events may go out now."""
        if not self.throttled:
            return BATCH
        if time.monotonic() - self.window_started >= THROTTLE_INTERVAL:
            self.window_started, self.window_sent = time.monotonic(), 0
        return THROTTLE_BATCH - self.window_sent

    async def send_event(self, event: Any) -> None:
        await self.send(
            {
                "type": "event",
                "sequence": event.sequence,
                "event_type": event.type,
                "data": event.data,
                "timestamp": event.timestamp,
            }
        )
        self.runtime.telemetry.count("ws_event_sent")

    async def send_priority_ahead(self) -> None:
        """While ordinary events wait, priority events further on go out at once (exactly once)."""
        start = max(self.cursor, self.scan_cursor)
        ahead = await self.runtime.events.read_after(start, BATCH)
        for event in ahead:
            if event.type in PRIORITY_EVENTS and event.sequence not in self.sent_early:
                await self.send_event(event)
                self.sent_early.add(event.sequence)
        if ahead:
            self.scan_cursor = ahead[-1].sequence

    async def send(self, message: dict[str, Any]) -> None:
        async with self._send_lock:
            await self.websocket.send_text(json.dumps(message, separators=(",", ":"), default=str))

    def seconds_left(self) -> float:
        expires = self.principal.expires_at
        return float("inf") if expires is None else expires - time.time()

    async def pump(self) -> None:
        """Send events after the cursor, forever; watch the token's expiry."""
        unavailable = False
        while True:
            left = self.seconds_left()
            if left <= 0:
                await self.send(
                    {"type": "error", "code": "token_expired", "message": "re-authenticate in band"}
                )
                await self.websocket.close(CLOSE_UNAUTHORIZED)
                return
            if left <= REAUTH_WARNING_SECONDS and not self.warned:
                self.warned = True
                await self.send({"type": "token_expiring", "expires_in": round(left, 1)})
            try:
                batch = await self.runtime.events.read_after(self.cursor, BATCH)
            except DependencyUnavailable:
                if not unavailable:
                    unavailable = True
                    await self.send(
                        {
                            "type": "notice",
                            "code": "event_log_unavailable",
                            "message": "events are buffered and will follow in order",
                        }
                    )
                await self.runtime.events.wait_for_new(POLL_SECONDS * 2)
                continue
            if unavailable:
                unavailable = False
                await self.send({"type": "notice", "code": "event_log_restored", "message": "resuming"})
            await self.update_throttle()
            held_back = False
            for event in batch:
                if event.sequence in self.sent_early:  # already delivered ahead of order
                    self.sent_early.discard(event.sequence)
                    self.cursor = event.sequence
                    continue
                if self.budget() <= 0:
                    held_back = True
                    break
                await self.send_event(event)
                self.cursor = event.sequence
                if self.throttled:
                    self.window_sent += 1
            if held_back:
                with contextlib.suppress(DependencyUnavailable):
                    await self.send_priority_ahead()
                window_left = THROTTLE_INTERVAL - (time.monotonic() - self.window_started)
                await self.runtime.events.wait_for_new(max(0.05, min(POLL_SECONDS, window_left)))
                continue
            if len(batch) < BATCH:
                await self.runtime.events.wait_for_new(
                    min(POLL_SECONDS, max(left - REAUTH_WARNING_SECONDS, 0.05))
                )

    async def listen(self) -> None:
        """Handle client frames until the client goes away."""
        while True:
            raw = await self.websocket.receive_text()
            try:
                message = json.loads(raw)
                kind = message.get("type") if isinstance(message, dict) else None
            except ValueError:
                kind, message = None, {}
            if kind == "ping":
                await self.send({"type": "pong", "cursor": self.cursor})
            elif kind == "ack" and isinstance(message.get("sequence"), int):
                self.acked = max(self.acked, message["sequence"])
            elif kind == "reauth" and isinstance(message.get("token"), str):
                await self._reauth(message["token"])
            else:
                await self.send(
                    {
                        "type": "error",
                        "code": "unknown_message",
                        "message": "expected ping, ack or reauth (JSON objects with a `type`)",
                    }
                )

    async def _reauth(self, token: str) -> None:
        try:
            principal = verify_access_token(self.runtime, token)
        except ApiError as error:
            await self.send({"type": "reauth_failed", "code": error.code, "message": error.message})
            return
        if principal.client_id != self.principal.client_id:
            await self.send(
                {
                    "type": "reauth_failed",
                    "code": "different_client",
                    "message": "re-authenticate as the same client",
                }
            )
            return
        self.principal = principal
        self.warned = False
        await self.send({"type": "reauth_ok", "token_expires_at": principal.expires_at})


def _token(websocket: WebSocket) -> str | None:
    header = websocket.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return websocket.query_params.get("token") or None


@router.websocket("/api/v1/events")
async def event_stream(websocket: WebSocket) -> None:
    runtime: Runtime = websocket.app.state.runtime
    await websocket.accept()
    raw_cursor = websocket.query_params.get("last_sequence")
    token = _token(websocket)
    try:
        if token is None:
            raise unauthenticated("token_missing", "send `Authorization: Bearer <token>` or ?token=")
        principal = verify_access_token(runtime, token)
        cursor = int(raw_cursor) if raw_cursor is not None else None
        if cursor is not None and cursor < 0:
            raise ValueError(raw_cursor)
    except ApiError as error:
        await websocket.send_text(json.dumps({"type": "error", "code": error.code, "message": error.message}))
        await websocket.close(CLOSE_UNAUTHORIZED)
        return
    except ValueError:
        await websocket.send_text(
            json.dumps(
                {
                    "type": "error",
                    "code": "invalid_last_sequence",
                    "message": "last_sequence must be a non-negative integer",
                }
            )
        )
        await websocket.close(1008)
        return
    head: int | None
    try:
        head = await runtime.events.head()
    except DependencyUnavailable:
        head = None
    if cursor is None:
        cursor = head if head is not None else runtime.events.last_sequence
    session = _Session(websocket, runtime, principal, cursor)
    runtime.telemetry.count("ws_connected")
    await session.send(
        {"type": "welcome", "resume_from": cursor, "head": head, "token_expires_at": principal.expires_at}
    )
    tasks = [asyncio.create_task(session.pump()), asyncio.create_task(session.listen())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError, OSError):
                await task
        runtime.telemetry.count("ws_disconnected")
