"""WebSocket stream subscribers, checked Jepsen-style (R5.1).

A subscriber is a well-behaved client: it resumes from the last sequence it
saw, reconnects with exponential backoff after any break, and at the end
drains the stream up to the server's head. What it received is then compared
with what the server says it produced (every sequence from the first cursor
to the final head): lost, duplicated, reordered and unexpected events are
counted, and replay accuracy is the share of events received exactly once
and in order. Reconnect time is the longest break from losing the connection
to being subscribed again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from chaosgate.engine.http import Clock
from chaosgate.scenario.model import WebSocketStream
from chaosgate.scenario.templating import render

FIRST_BACKOFF = 0.2
MAX_BACKOFF = 5.0
DRAIN_SECONDS = 5.0
BREAKS = (ConnectionClosed, InvalidHandshake, OSError, TimeoutError)


@dataclass
class Delivery:
    t: float
    sequence: int
    event_type: str | None


@dataclass
class StreamLog:
    """Everything one subscriber saw, on the scenario clock."""

    deliveries: list[Delivery] = field(default_factory=list)
    outages: list[tuple[float, float | None]] = field(default_factory=list)
    first_cursor: int | None = None
    head: int | None = None
    connects: int = 0
    gave_up: str | None = None

    def metrics(self, expected_types: list[str]) -> dict[str, float | None]:
        sequences = [d.sequence for d in self.deliveries]
        start = (
            self.first_cursor if self.first_cursor is not None else (min(sequences) - 1 if sequences else 0)
        )
        end = self.head if self.head is not None else max(sequences, default=start)
        expected = set(range(start + 1, end + 1))
        counts: dict[int, int] = {}
        reordered = unexpected = 0
        in_order: set[int] = set()
        highest = start
        for delivery in self.deliveries:
            seq = delivery.sequence
            counts[seq] = counts.get(seq, 0) + 1
            wrong_type = bool(expected_types) and delivery.event_type not in expected_types
            if seq not in expected or (wrong_type and counts[seq] == 1):
                unexpected += 1
            if seq < highest and counts[seq] == 1:
                reordered += 1
            elif counts[seq] == 1:
                in_order.add(seq)
            highest = max(highest, seq)
        lost = len(expected - counts.keys())
        duplicated = sum(n - 1 for n in counts.values())
        exact = sum(1 for seq in expected if counts.get(seq) == 1 and seq in in_order)
        seen_types = {d.event_type for d in self.deliveries}
        breaks = [end_t - begin for begin, end_t in self.outages if end_t is not None]
        never_back = any(end_t is None for _, end_t in self.outages)
        return {
            "events": float(len(expected)),
            "received": float(len(sequences)),
            "lost": float(lost),
            "duplicated": float(duplicated),
            "reordered": float(reordered),
            "unexpected": float(unexpected),
            "missing_types": float(len(set(expected_types) - seen_types)),
            "replay_accuracy": exact / len(expected) if expected else 1.0,
            "reconnect": None if never_back else max(breaks, default=0.0),
            "outages": float(len(self.outages)),
        }


def stream_url(base_url: str, path: str, resources: Mapping[str, str], name: str) -> str:
    """ws(s):// URL of a stream: the target's published stream URL if any, else its base URL."""
    published = resources.get(f"ws_url:{name}")
    base = published or base_url
    parts = urlsplit(base)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return urlunsplit(
        (scheme, parts.netloc, parts.path.rstrip("/") + path if not published else parts.path, "", "")
    )


class StreamSubscriber:
    """Subscribes, resumes, reconnects with backoff; records every delivery."""

    def __init__(self, spec: WebSocketStream, url: str, clock: Clock, context: Mapping[str, Any]) -> None:
        self.spec = spec
        self.url = url
        self.clock = clock
        self.headers = {k: str(v) for k, v in render(dict(spec.headers), context).items()}
        self.log = StreamLog()
        self._last: int | None = None

    def _address(self) -> str:
        if self._last is None:
            return self.url
        return f"{self.url}?{urlencode({self.spec.resume_param: self._last})}"

    def _take(self, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        sequence = message.get(self.spec.sequence_field)
        if isinstance(sequence, int) and not isinstance(sequence, bool):
            kind = message.get(self.spec.type_field)
            self.log.deliveries.append(
                Delivery(self.clock.now(), sequence, str(kind) if kind is not None else None)
            )
            self._last = sequence if self._last is None else max(self._last, sequence)
            return
        head = message.get("head")
        if isinstance(head, int):
            self.log.head = head if self.log.head is None else max(self.log.head, head)
            if self.log.first_cursor is None:
                resumed = message.get("resume_from")
                self.log.first_cursor = resumed if isinstance(resumed, int) else head
                self._last = self.log.first_cursor if self._last is None else self._last

    async def _session(self, stop: asyncio.Event) -> None:
        async with connect(
            self._address(),
            additional_headers=self.headers,
            open_timeout=3,
            ping_interval=1.0,
            ping_timeout=2.0,
            close_timeout=1,
            proxy=None,
        ) as ws:
            self.log.connects += 1
            if self.log.outages and self.log.outages[-1][1] is None:
                self.log.outages[-1] = (self.log.outages[-1][0], self.clock.now())
            await self._read(ws, stop)

    async def _read(self, ws: ClientConnection, stop: asyncio.Event) -> None:
        stopping = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                receive = asyncio.create_task(ws.recv())
                done, _ = await asyncio.wait({receive, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if receive not in done:
                    receive.cancel()
                    with contextlib.suppress(asyncio.CancelledError, *BREAKS):
                        await receive
                    return
                self._take(receive.result())
        finally:
            stopping.cancel()

    async def run(self, stop: asyncio.Event) -> None:
        """Stay subscribed until `stop`, reconnecting with exponential backoff."""
        backoff = FIRST_BACKOFF
        while not stop.is_set():
            try:
                await self._session(stop)
                backoff = FIRST_BACKOFF
            except BREAKS:
                if not self.log.outages or self.log.outages[-1][1] is not None:
                    self.log.outages.append((self.clock.now(), None))
                begun = self.log.outages[-1][0]
                if self.clock.now() - begun > self.spec.reconnect_within:
                    self.log.gave_up = f"not reconnected within {self.spec.reconnect_within:g}s"
                    return
            if stop.is_set():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    async def drain(self) -> None:
        """After sampling: resume once more and read up to the server's head (bounded)."""
        if self.log.gave_up:
            return
        done = asyncio.Event()
        with contextlib.suppress(*BREAKS):
            async with (
                asyncio.timeout(DRAIN_SECONDS),
                connect(self._address(), additional_headers=self.headers, open_timeout=3, proxy=None) as ws,
            ):
                if self.log.outages and self.log.outages[-1][1] is None:
                    self.log.outages[-1] = (self.log.outages[-1][0], self.clock.now())
                while not done.is_set():
                    self._take(await ws.recv())
                    if self.log.head is not None and self._last is not None and self._last >= self.log.head:
                        done.set()
