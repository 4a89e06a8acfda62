"""The event log: domain events with gap-free sequence numbers in a Redis stream.

Why a stream with explicit ids: a WebSocket client that reconnects says "I
have everything up to N" and must receive N+1, N+2… exactly once, in order,
even across a restart of the service. A Lua script increments the sequence
and appends ``<seq>-0`` atomically, so sequence order is stream order and a
resume is one ``XRANGE``.

Publishing never blocks a request: events go to an in-memory outbox that a
background task drains into Redis; while Redis is down the outbox holds them
(bounded) in order, and they are appended when Redis returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from reference_impl.dependencies import DependencyUnavailable
from reference_impl.redis_store import RedisStore
from reference_impl.telemetry import Telemetry

log = logging.getLogger("prism.events")

STREAM_KEY = "prism:events"
SEQUENCE_KEY = "prism:events:seq"
STREAM_MAX_LENGTH = 100_000
OUTBOX_LIMIT = 10_000

_APPEND = """
local seq = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], seq .. '-0',
           'type', ARGV[2], 'data', ARGV[3], 'ts', ARGV[4])
return seq
"""


@dataclass(frozen=True)
class Event:
    """One published event."""

    sequence: int
    type: str
    data: dict[str, Any]
    timestamp: float


class EventLog:
    """Publishes events through an outbox into the Redis stream, and reads them back."""

    def __init__(self, store: RedisStore, telemetry: Telemetry) -> None:
        self.store = store
        self.telemetry = telemetry
        self._outbox: deque[tuple[str, str, float]] = deque()
        self._wakeup = asyncio.Event()
        self._announcement = asyncio.Event()
        self.last_sequence = 0

    @property
    def outbox_depth(self) -> int:
        return len(self._outbox)

    def outbox_age(self) -> float | None:
        """Seconds the oldest buffered event has waited for Redis (None when the outbox is empty).

        Under write load the outbox is non-empty most of the time for a few milliseconds (the drain
        loop appends right behind the requests), so the health check judges this age, not the depth.
        """
        if not self._outbox:
            return None
        return max(0.0, time.time() - self._outbox[0][2])

    def publish(self, event_type: str, data: dict[str, Any]) -> None:
        """Queue an event for the stream; never blocks and never fails the caller."""
        if len(self._outbox) >= OUTBOX_LIMIT:
            self._outbox.popleft()
            self.telemetry.count("event_dropped", "outbox_full")
        self._outbox.append((event_type, json.dumps(data, separators=(",", ":"), default=str), time.time()))
        self._wakeup.set()

    async def flush(self) -> int:
        """Append queued events in order until the outbox is empty or Redis fails; returns how many."""
        sent = 0
        while self._outbox:
            event_type, payload, stamp = self._outbox[0]

            async def append(
                client: aioredis.Redis, *, kind: str = event_type, body: str = payload, ts: float = stamp
            ) -> Any:
                return await client.eval(
                    _APPEND, 2, STREAM_KEY, SEQUENCE_KEY, STREAM_MAX_LENGTH, kind, body, repr(ts)
                )

            try:
                sequence = await self.store.run(append)
            except DependencyUnavailable:
                return sent
            self._outbox.popleft()
            self.last_sequence = int(sequence)
            sent += 1
        if sent:
            self._announce()
        return sent

    def _announce(self) -> None:
        """Wake every subscriber waiting in :meth:`wait_for_new` (a fresh event for the next round)."""
        announcement, self._announcement = self._announcement, asyncio.Event()
        announcement.set()

    async def wait_for_new(self, timeout: float) -> None:
        """Return when this process appended events, or after ``timeout`` (other workers' events)."""
        announcement = self._announcement
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await announcement.wait()

    async def head(self) -> int:
        """The sequence number of the newest event in the log (0 when empty)."""
        raw = await self.store.run(lambda client: client.get(SEQUENCE_KEY))
        return int(raw or 0)

    async def run(self, stop: asyncio.Event, interval: float) -> None:
        """Background drain loop until ``stop`` is set."""
        while not stop.is_set():
            try:
                async with asyncio.timeout(interval):
                    await self._wakeup.wait()
            except TimeoutError:
                pass
            self._wakeup.clear()
            try:
                await self.flush()
            except Exception:  # a bug here must not kill the loop
                log.exception("event flush failed")

    async def read_after(self, sequence: int, count: int = 500) -> list[Event]:
        """Events with sequence > ``sequence``, oldest first, at most ``count``."""
        rows: Any = await self.store.run(
            lambda client: client.xrange(STREAM_KEY, min=f"{sequence + 1}-0", max="+", count=count)
        )
        events: list[Event] = []
        for raw_id, fields in rows or []:
            entry_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
            events.append(
                Event(
                    sequence=int(entry_id.split("-", 1)[0]),
                    type=fields[b"type"].decode(),
                    data=json.loads(fields[b"data"]),
                    timestamp=float(fields[b"ts"]),
                )
            )
        return events
